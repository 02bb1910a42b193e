//go:build !linux

package sim

func hugeRegion(int) []byte { return nil }

func freeHugeRegion([]byte) {}

type heapAdvice struct{}

func newHeapAdvice() *heapAdvice { return &heapAdvice{} }

func (*heapAdvice) run() {}

func (*heapAdvice) reserve(int) {}
