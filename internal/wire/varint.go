package wire

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// uvarint decodes a uvarint from the start of b. It returns n > 0 on
// success, n == 0 when b ends inside the number, and n < 0 when the number
// overflows 64 bits or is not in its shortest form. Rejecting longer forms
// keeps every frame's encoding unique, so Append(Parse(b)) == b.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return uvarintSlow(b)
}

func uvarintSlow(b []byte) (uint64, int) {
	if len(b) >= 2 && b[0] >= 0x80 && b[1] < 0x80 && b[1] != 0 {
		return uint64(b[0]&0x7f) | uint64(b[1])<<7, 2
	}
	var x uint64
	var s uint
	for i, c := range b {
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, -1 // the tenth byte may hold only bit 63
		}
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, -1 // a zero last byte adds nothing: not shortest
			}
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}

// uvarintLen returns the encoded size of x as a uvarint.
func uvarintLen(x uint64) int {
	return (bits.Len64(x|1) + 6) / 7
}

// varintLen returns the encoded size of x as a zigzag varint.
func varintLen(x int64) int {
	return uvarintLen(zigzag(x))
}

func zigzag(x int64) uint64 {
	return uint64(x<<1) ^ uint64(x>>63)
}

func unzigzag(u uint64) int64 {
	return int64(u>>1) ^ -int64(u&1)
}

// reader consumes a frame body. Any read past the end or bad varint marks
// it bad; the caller checks bad once after its reads.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	if b := r.b; len(b) > 0 && b[0] < 0x80 { // one byte: the common case, inlined
		r.b = b[1:]
		return uint64(b[0])
	}
	return r.uvarintSlow()
}

func (r *reader) uvarintSlow() uint64 {
	v, n := uvarintSlow(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// u32 reads a uvarint that must fit in 32 bits.
func (r *reader) u32() uint32 {
	v := r.uvarint()
	if v > math.MaxUint32 {
		r.bad = true
		return 0
	}
	return uint32(v)
}

func (r *reader) varint() int64 {
	return unzigzag(r.uvarint())
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// bytes returns the next n bytes, aliasing the body.
func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// done reports the error kind for the body: malformed if any read failed
// or bytes remain inside the declared length.
func (r *reader) done() (errKind, bool) {
	if r.bad || len(r.b) != 0 {
		return kMalformed, false
	}
	return 0, true
}
