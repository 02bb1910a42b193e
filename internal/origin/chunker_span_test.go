package origin

import (
	"testing"
	"time"
)

// A segment that arrives at once but plays over a second has its chunks
// stamped across that second; a second segment fetched right after it (a
// source catching up) follows on the media clock, which runs at most one
// segment ahead of the wall clock.
func TestChunkerSpanStampsChunksWhenTheirMediaPlays(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	c, chunks := newTestChunker(t, ChunkerConfig{MaxBytes: 8 * PacketSize, Now: clk.now})
	seg := synthStream{gops: 1, framesPerGOP: 10, framePackets: 6, tablesEvery: 1, idr: true}.build(t)
	start := clk.t.UnixMicro()
	for i := range 3 {
		c.Span(time.Second, len(seg))
		c.Write(seg)
		if i == 0 {
			c.Flush()
			got := *chunks
			if len(got) < 8 {
				t.Fatalf("%d chunks from one segment", len(got))
			}
			first, last := got[0].TimestampUs-start, got[len(got)-1].TimestampUs-start
			if first < 0 || first > 200_000 || last < 900_000 || last > 1_000_000 {
				t.Fatalf("segment stamped from +%dµs to +%dµs, want from about 0 to about 1 s", first, last)
			}
		}
	}
	c.Flush()
	got := *chunks
	for i := 1; i < len(got); i++ {
		if got[i].TimestampUs < got[i-1].TimestampUs {
			t.Fatalf("chunk %d stamped %d after %d: timestamps went back", i, got[i].TimestampUs, got[i-1].TimestampUs)
		}
	}
	// three segments in no wall time: the third starts no later than one
	// segment ahead of the clock
	if end := got[len(got)-1].TimestampUs - start; end > 2_000_000 {
		t.Fatalf("last chunk stamped +%dµs with the wall clock at +0: the media clock ran more than a segment ahead", end)
	}
	clk.advance(5 * time.Second)
	c.Write(seg) // no span: the wall clock again
	c.Flush()
	if ts := (*chunks)[len(*chunks)-1].TimestampUs; ts != clk.t.UnixMicro() {
		t.Fatalf("after the spans, a chunk stamped %d, want the wall clock %d", ts, clk.t.UnixMicro())
	}
}
