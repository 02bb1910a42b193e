package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestEventQueueOrder: events come out by time, ties in insertion order,
// whether they land in the current bucket, the wheel or beyond it. The
// reference is a plain list searched for its minimum.
func TestEventQueueOrder(t *testing.T) {
	spreads := []time.Duration{40, 3 * time.Millisecond, 200 * time.Millisecond, 5 * time.Second}
	for _, seed := range []uint64{1, 2, 3} {
		r := rand.New(rand.NewPCG(seed, 2))
		var q eventQueue
		type rec struct {
			at  time.Duration
			ref int32
		}
		var ref []rec
		var now time.Duration
		next := int32(0)
		popped := 0
		for round := range 3000 {
			for range r.IntN(8) {
				at := now + time.Duration(r.Int64N(int64(spreads[r.IntN(len(spreads))])))
				q.push(at, evAction, next, 0)
				ref = append(ref, rec{at, next})
				next++
			}
			for range r.IntN(8) {
				if q.len() != len(ref) {
					t.Fatalf("seed %d round %d: len %d, want %d", seed, round, q.len(), len(ref))
				}
				if len(ref) == 0 {
					if q.peek() != nil {
						t.Fatal("peek on an empty queue")
					}
					break
				}
				m := 0
				for k := range ref {
					if ref[k].at < ref[m].at || ref[k].at == ref[m].at && ref[k].ref < ref[m].ref {
						m = k
					}
				}
				if p := q.peek(); p.at != ref[m].at || p.ref != ref[m].ref {
					t.Fatalf("seed %d: peek (%v, %d), want (%v, %d)", seed, p.at, p.ref, ref[m].at, ref[m].ref)
				}
				e := q.pop()
				if e.at != ref[m].at || e.ref != ref[m].ref || e.kind() != evAction {
					t.Fatalf("seed %d after %d pops: got (%v, %d), want (%v, %d)", seed, popped, e.at, e.ref, ref[m].at, ref[m].ref)
				}
				ref = slices.Delete(ref, m, m+1)
				now = e.at
				popped++
			}
		}
		if popped < 5000 {
			t.Fatalf("only %d pops", popped)
		}
	}
	// The end of time is a time like any other.
	var q eventQueue
	q.push(math.MaxInt64, evAction, 1, 0)
	q.push(math.MaxInt64-1, evAction, 2, 0)
	q.push(5, evAction, 3, 0)
	for _, want := range []int32{3, 2, 1} {
		if e := q.pop(); e.ref != want {
			t.Fatalf("near the end of time: popped %d, want %d", e.ref, want)
		}
	}
	if q.peek() != nil {
		t.Fatal("queue not empty")
	}
}

func TestTransmitTime(t *testing.T) {
	tests := []struct {
		sizeBytes, rateBps int64
		want               time.Duration
	}{
		{1000, 8_000_000, time.Millisecond},
		{1250, 10_000_000, time.Millisecond},
		{1, 3, 2666666667}, // 8/3 s rounded up
		{0, 1000, 0},
		{1000, 0, 0}, // unlimited
		{1 << 40, 8_000_000_000, 1 << 40 * time.Nanosecond},
		{1 << 62, 1, 1<<63 - 1}, // saturates
		{3 << 30, 1_000_000_000, 3 << 30 * 8 * time.Nanosecond},
	}
	for _, tt := range tests {
		if got := transmitTime(tt.sizeBytes, tt.rateBps); got != tt.want {
			t.Errorf("transmitTime(%d, %d) = %d, want %d", tt.sizeBytes, tt.rateBps, got, tt.want)
		}
	}
}

func TestLinkAdmit(t *testing.T) {
	l := link{rateBps: 8_000_000} // 1 ms per 1000 bytes
	const limit = 3 * time.Millisecond
	var leaves []time.Duration
	for range 6 {
		leave, ok := l.admit(10*time.Millisecond, 1000, limit)
		if !ok {
			break
		}
		leaves = append(leaves, leave)
	}
	// Waits 0, 1, 2, 3 ms are admitted; 4 ms is not.
	want := []time.Duration{11, 12, 13, 14}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(leaves, want) {
		t.Fatalf("leave times %v, want %v", leaves, want)
	}
	if d := l.queueDelay(12 * time.Millisecond); d != 2*time.Millisecond {
		t.Errorf("queueDelay = %v", d)
	}
	// An idle link starts at the arrival.
	if leave, _ := l.admit(time.Second, 500, limit); leave != time.Second+500*time.Microsecond {
		t.Errorf("idle link: leave %v", leave)
	}
}

// TestEventQueuePopBefore: popBefore takes exactly the events due before
// its end, wherever they wait, and leaves the rest to come out in order.
func TestEventQueuePopBefore(t *testing.T) {
	spreads := []time.Duration{40, 3 * time.Millisecond, 200 * time.Millisecond, 5 * time.Second}
	for _, seed := range []uint64{1, 2, 3} {
		r := rand.New(rand.NewPCG(seed, 3))
		var q eventQueue
		var ref []event // what the queue holds, in no order
		var now time.Duration
		next := int32(0)
		var got []event
		for round := range 2000 {
			for range r.IntN(12) {
				at := now + time.Duration(r.Int64N(int64(spreads[r.IntN(len(spreads))])))
				q.push(at, evAction, next, 0)
				ref = append(ref, event{at: at, ref: next})
				next++
			}
			if r.IntN(4) == 0 && q.len() > 0 {
				e := q.pop() // mix in ordinary pops: they fill the current bucket
				m := slices.IndexFunc(ref, func(x event) bool { return x.ref == e.ref })
				ref = slices.Delete(ref, m, m+1)
				now = e.at
				continue
			}
			end := now + time.Duration(r.Int64N(int64(20*time.Millisecond)))
			if r.IntN(50) == 0 {
				end = now + 10*time.Second // past the wheel
			}
			got = q.popBefore(end, got[:0])
			var want []int32
			k := 0
			for _, e := range ref {
				if e.at < end {
					want = append(want, e.ref)
				} else {
					ref[k] = e
					k++
				}
			}
			ref = ref[:k]
			var have []int32
			for _, e := range got {
				have = append(have, e.ref)
			}
			slices.Sort(want)
			slices.Sort(have)
			if !slices.Equal(have, want) {
				t.Fatalf("seed %d round %d: popBefore(%v) took %v, want %v", seed, round, end, have, want)
			}
			if q.len() != len(ref) {
				t.Fatalf("seed %d round %d: %d left, want %d", seed, round, q.len(), len(ref))
			}
			now = end
		}
		// what is left comes out in time order, ties by insertion
		slices.SortFunc(ref, func(a, b event) int {
			if a.at != b.at {
				return int(a.at - b.at)
			}
			return int(a.ref - b.ref)
		})
		for _, e := range ref {
			g := q.pop()
			if g.at != e.at || g.ref != e.ref {
				t.Fatalf("seed %d: after popBefore, pop (%v, %d), want (%v, %d)", seed, g.at, g.ref, e.at, e.ref)
			}
		}
	}
}
