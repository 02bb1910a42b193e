package udp

import "testing"

func TestReplayFilter(t *testing.T) {
	const w = replayWindow
	tests := []struct {
		name     string
		counters []uint64
		want     []bool // accepted
	}{
		{"in order", []uint64{0, 1, 2, 3}, []bool{true, true, true, true}},
		{"duplicate", []uint64{0, 1, 1, 0}, []bool{true, true, false, false}},
		{"reordered", []uint64{5, 3, 4, 0, 3}, []bool{true, true, true, true, false}},
		{"first counter high", []uint64{1 << 40, 1<<40 - 1, 1 << 40}, []bool{true, true, false}},
		{"window edge", []uint64{w, 1, 0}, []bool{true, true, false}},
		{"behind the window", []uint64{0, w + 100, 99, 100, 101}, []bool{true, true, false, false, true}},
		{"jump clears old marks", []uint64{64, 64 + 2048, 64 + 2048 - 1984 + 1}, []bool{true, true, true}},
		{"big jump then old", []uint64{3, 1 << 50, 3, 1<<50 - 5, 1<<50 - 5}, []bool{true, true, false, true, false}},
		{"every bit of a block", seq(0, 200), trues(200)},
		{"max counter", []uint64{^uint64(0) - 1, ^uint64(0) - 1}, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f replayFilter
			for i, c := range tt.counters {
				got := f.fresh(c)
				if got {
					f.accept(c)
				}
				if got != tt.want[i] {
					t.Fatalf("counter %d (#%d): accepted %v, want %v", c, i, got, tt.want[i])
				}
			}
		})
	}
}

// TestReplayFilterModel checks the ring against a plain set over a long
// pseudo-random walk of counters.
func TestReplayFilterModel(t *testing.T) {
	var f replayFilter
	seen := map[uint64]bool{}
	var newest uint64
	x := uint64(88172645463325252)
	for i := range 200000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		c := newest + x%64
		if x%4 == 0 && newest > 2500 {
			c = newest - x%2500
		}
		want := !seen[c] && (len(seen) == 0 || c > newest || newest-c < replayWindow)
		if got := f.fresh(c); got != want {
			t.Fatalf("step %d counter %d (newest %d): fresh %v, want %v", i, c, newest, got, want)
		}
		if want {
			f.accept(c)
			seen[c] = true
			newest = max(newest, c)
		}
	}
}

func seq(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}
