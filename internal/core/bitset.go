package core

import "math/bits"

// bitset is a plain growable set of small integers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int) bool {
	w := i >> 6
	return w >= 0 && w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

func (b bitset) set(i int) { b[i>>6] |= 1 << (uint(i) & 63) }

func (b bitset) clear(i int) { b[i>>6] &^= 1 << (uint(i) & 63) }

func (b bitset) reset() {
	for i := range b {
		b[i] = 0
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// nextClear returns the first index >= i below n that is not set, or n.
func (b bitset) nextClear(i, n int) int {
	for ; i < n; i++ {
		if !b.has(i) {
			return i
		}
	}
	return n
}

// nextSetFrom returns the first set index >= i below n, or n.
func (b bitset) nextSetFrom(i, n int) int {
	for ; i < n; i++ {
		if b.has(i) {
			return i
		}
	}
	return n
}
