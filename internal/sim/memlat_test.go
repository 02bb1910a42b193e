package sim

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// BenchmarkMemoryLatency measures what a dependent load costs from a region
// of each size, read in no order: on the Go heap as the kernel gives it
// (small pages, unless it hands out huge ones unasked) and, at 2 GiB, in a
// region that asks for huge pages as a run's heap does. A large run is
// bound by this figure, so it tells one machine from another where the
// simulator's own speed is compared (docs/RESULTS.md):
//
//	go test -run '^$' -bench MemoryLatency -benchtime 20000000x ./internal/sim/
func BenchmarkMemoryLatency(b *testing.B) {
	const line = 64 / 8 // one pointer per cache line
	for _, c := range []struct {
		mib  int
		huge bool
	}{{1, false}, {4, false}, {16, false}, {256, false}, {2048, false}, {2048, true}} {
		b.Run(fmt.Sprintf("MiB=%d/huge=%v", c.mib, c.huge), func(b *testing.B) {
			n := c.mib << 20 / 8
			var mem []uint64
			if c.huge {
				r := hugeRegion(n * 8)
				if r == nil {
					b.Skip("no huge-page region here")
				}
				defer freeHugeRegion(r)
				mem = unsafe.Slice((*uint64)(unsafe.Pointer(&r[0])), n)
			} else {
				mem = make([]uint64, n)
			}
			// One cycle through every line, in random order.
			lines := n / line
			perm := rand.New(rand.NewPCG(1, 2)).Perm(lines)
			for i, p := range perm {
				mem[p*line] = uint64(perm[(i+1)%lines] * line)
			}
			b.ResetTimer()
			p := uint64(0)
			for range b.N {
				p = mem[p]
			}
			b.StopTimer()
			if p >= uint64(n) {
				b.Fatal("chase left the region")
			}
		})
	}
}
