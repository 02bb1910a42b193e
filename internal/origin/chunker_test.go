package origin

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// fakeClock is a settable clock for chunk ages and timestamps.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestChunker(t testing.TB, cfg ChunkerConfig) (*Chunker, *[]Chunk) {
	t.Helper()
	var chunks []Chunk
	if cfg.Now == nil {
		clk := &fakeClock{t: time.Unix(1700000000, 0)}
		cfg.Now = clk.now
	}
	c, err := NewChunker(cfg, func(ch Chunk) { chunks = append(chunks, ch) })
	if err != nil {
		t.Fatal(err)
	}
	return c, &chunks
}

// chunkAll cuts b written in one piece.
func chunkAll(t testing.TB, cfg ChunkerConfig, b []byte) []Chunk {
	c, chunks := newTestChunker(t, cfg)
	c.Write(b)
	c.Flush()
	return *chunks
}

// checkChunks asserts what holds for any input: whole packets with sync
// bytes, within the size bound.
func checkChunks(t testing.TB, chunks []Chunk, maxBytes int) {
	t.Helper()
	limit := maxBytes / PacketSize * PacketSize
	for i, ch := range chunks {
		if len(ch.Data) == 0 || len(ch.Data)%PacketSize != 0 || len(ch.Data) > limit {
			t.Fatalf("chunk %d: %d bytes, want a positive multiple of %d up to %d", i, len(ch.Data), PacketSize, limit)
		}
		for j, p := range packets(ch.Data) {
			if p[0] != syncByte {
				t.Fatalf("chunk %d packet %d starts with %#x", i, j, p[0])
			}
		}
	}
}

// checkRAPChunks asserts that every RAP chunk starts PAT, PMT, then (after
// any service information) the start of a video PES.
func checkRAPChunks(t testing.TB, chunks []Chunk, pmtPID, videoPID uint16) {
	t.Helper()
	for i, ch := range chunks {
		if ch.Flags&ChunkRAP == 0 {
			continue
		}
		ps := packets(ch.Data)
		k := 2
		for k < len(ps) && pidOfPacket(ps[k]) >= firstSIPID && pidOfPacket(ps[k]) <= lastSIPID {
			k++
		}
		if k >= len(ps) || pidOfPacket(ps[0]) != patPID || pidOfPacket(ps[1]) != pmtPID ||
			pidOfPacket(ps[k]) != videoPID || ps[k][1]&0x40 == 0 {
			var pids []uint16
			for _, p := range ps[:min(k+1, len(ps))] {
				pids = append(pids, pidOfPacket(p))
			}
			t.Fatalf("RAP chunk %d starts with PIDs %#x, want PAT, PMT %#x, video %#x", i, pids, pmtPID, videoPID)
		}
	}
}

// mediaPackets returns the packets that are not PAT or PMT.
func mediaPackets(b []byte, pmtPID uint16) [][]byte {
	var out [][]byte
	for _, p := range packets(b) {
		if pid := pidOfPacket(p); pid != patPID && pid != pmtPID {
			out = append(out, p)
		}
	}
	return out
}

func concat(chunks []Chunk) []byte {
	var b []byte
	for _, ch := range chunks {
		b = append(b, ch.Data...)
	}
	return b
}

func samePackets(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d media packets out, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("media packet %d differs", i)
		}
	}
}

// checkTableCC asserts continuous continuity counters on PAT and PMT.
func checkTableCC(t testing.TB, b []byte, pmtPID uint16) {
	t.Helper()
	last := map[uint16]int{}
	for i, p := range packets(b) {
		pid := pidOfPacket(p)
		if pid != patPID && pid != pmtPID {
			continue
		}
		cc := int(p[3] & 0x0f)
		if prev, ok := last[pid]; ok && cc != (prev+1)&0x0f {
			t.Fatalf("packet %d PID %#x: continuity counter %d after %d", i, pid, cc, prev)
		}
		last[pid] = cc
	}
}

func TestChunkerRandomAccessPoints(t *testing.T) {
	tests := []struct {
		name       string
		s          synthStream
		wantRAPs   int
		wantTables int // PAT and PMT packets in the output
	}{
		{"rai and idr, tables every gop", synthStream{gops: 5, framesPerGOP: 5, framePackets: 3, tablesEvery: 1, rai: true, idr: true}, 5, 10},
		{"rai only", synthStream{gops: 5, framesPerGOP: 5, framePackets: 3, tablesEvery: 1, rai: true}, 5, 10},
		{"idr only", synthStream{gops: 5, framesPerGOP: 5, framePackets: 3, tablesEvery: 1, idr: true}, 5, 10},
		{"no keyframe signal", synthStream{gops: 5, framesPerGOP: 5, framePackets: 3, tablesEvery: 1}, 0, 10},
		{"hevc idr", synthStream{gops: 4, framesPerGOP: 5, framePackets: 3, tablesEvery: 1, idr: true, videoType: streamTypeHEVC}, 4, 8},
		{"hevc trailing pictures only", synthStream{gops: 4, framesPerGOP: 5, framePackets: 3, tablesEvery: 1, videoType: streamTypeHEVC}, 0, 8},
		{"tables only at start: inserted", synthStream{gops: 6, framesPerGOP: 4, framePackets: 2, tablesEvery: 100, rai: true, idr: true}, 6, 12},
		{"tables every third gop", synthStream{gops: 6, framesPerGOP: 4, framePackets: 2, tablesEvery: 3, rai: true}, 6, 12},
		{"SDT before the tables", synthStream{gops: 4, framesPerGOP: 4, framePackets: 2, tablesEvery: 1, rai: true, sdt: true}, 4, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.s.build(t)
			chunks := chunkAll(t, ChunkerConfig{}, in)
			checkChunks(t, chunks, DefaultChunkBytes)
			checkRAPChunks(t, chunks, testPMTPID, testVideoPID)
			raps := 0
			for i, ch := range chunks {
				if ch.Flags&ChunkRAP != 0 {
					raps++
				} else if tt.wantRAPs > 0 {
					t.Fatalf("chunk %d is not a RAP chunk; with small GOPs every chunk should start one", i)
				}
			}
			if raps != tt.wantRAPs {
				t.Fatalf("%d RAP chunks, want %d", raps, tt.wantRAPs)
			}
			out := concat(chunks)
			samePackets(t, mediaPackets(out, testPMTPID), mediaPackets(in, testPMTPID))
			if tables := len(packets(out)) - len(mediaPackets(out, testPMTPID)); tables != tt.wantTables {
				t.Fatalf("%d table packets out, want %d", tables, tt.wantTables)
			}
			checkTableCC(t, out, testPMTPID)
		})
	}
}

func TestChunkerMaxBytes(t *testing.T) {
	in := synthStream{gops: 3, framesPerGOP: 10, framePackets: 20, tablesEvery: 1, rai: true, idr: true}.build(t)
	for _, maxBytes := range []int{188, 376, 564, 1000, 4096, 16384, 1 << 20} {
		chunks := chunkAll(t, ChunkerConfig{MaxBytes: maxBytes}, in)
		checkChunks(t, chunks, maxBytes)
		limit := maxBytes / PacketSize * PacketSize
		if maxBytes >= 3*PacketSize {
			checkRAPChunks(t, chunks, testPMTPID, testVideoPID)
		}
		// A chunk is cut early only where the next one starts at a RAP.
		for i := 0; i+1 < len(chunks); i++ {
			if chunks[i+1].Flags&ChunkRAP == 0 && len(chunks[i].Data) != limit {
				t.Fatalf("MaxBytes %d: chunk %d has %d bytes but the next is no RAP", maxBytes, i, len(chunks[i].Data))
			}
		}
		samePackets(t, mediaPackets(concat(chunks), testPMTPID), mediaPackets(in, testPMTPID))
	}
}

func TestChunkerResync(t *testing.T) {
	clean := packets(synthStream{gops: 3, framesPerGOP: 6, framePackets: 4, tablesEvery: 1, rai: true, idr: true}.build(t))
	noise := func(n int, seed uint64) []byte {
		r := rand.New(rand.NewPCG(seed, 1))
		b := make([]byte, n)
		for i := range b {
			if b[i] = byte(r.IntN(256)); b[i] == syncByte {
				b[i] = 0
			}
		}
		return b
	}
	// Each case builds a damaged stream and names the clean packets that are
	// lost with the damage: a packet not followed by a sync byte is dropped.
	tests := []struct {
		name   string
		damage func() []byte
		lost   []int
	}{
		{"leading garbage", func() []byte {
			return append(noise(100, 1), join(clean)...)
		}, nil},
		{"garbage between packets", func() []byte {
			return join(clean[:11], [][]byte{noise(50, 2)}, clean[11:])
		}, []int{10}},
		{"truncated packet", func() []byte {
			return join(clean[:20], [][]byte{clean[20][:100]}, clean[21:])
		}, []int{20}},
		{"garbage with stray sync bytes", func() []byte {
			g := noise(300, 3)
			g[50], g[250], g[299] = syncByte, syncByte, syncByte
			return join(clean[:30], [][]byte{g}, clean[30:])
		}, []int{29}},
		{"trailing partial packet", func() []byte {
			return join(clean, [][]byte{clean[5][:90]})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, chunks := newTestChunker(t, ChunkerConfig{})
			c.Write(tt.damage())
			c.Flush()
			checkChunks(t, *chunks, DefaultChunkBytes)
			checkRAPChunks(t, *chunks, testPMTPID, testVideoPID)
			if c.Stats().GarbageBytes == 0 && tt.name != "trailing partial packet" {
				t.Fatal("no garbage counted")
			}
			var want [][]byte
			for i, p := range clean {
				if !contains(tt.lost, i) {
					want = append(want, p)
				}
			}
			samePackets(t, mediaPackets(concat(*chunks), testPMTPID), mediaPackets(join(want), testPMTPID))
		})
	}
}

func join(parts ...[][]byte) []byte {
	var b []byte
	for _, ps := range parts {
		for _, p := range ps {
			b = append(b, p...)
		}
	}
	return b
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestChunkerSplitInvariance writes the same bytes cut at random places and
// expects the same chunks as from one Write.
func TestChunkerSplitInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	clean := synthStream{gops: 4, framesPerGOP: 5, framePackets: 6, tablesEvery: 2, rai: true, idr: true}.build(t)
	inputs := [][]byte{clean}
	for range 4 { // damaged copies: random garbage spliced in
		b := append([]byte(nil), clean...)
		for range 5 {
			at := r.IntN(len(b))
			g := make([]byte, r.IntN(400))
			for i := range g {
				g[i] = byte(r.IntN(256))
			}
			b = append(b[:at], append(g, b[at:]...)...)
		}
		inputs = append(inputs, b)
	}
	for n, in := range inputs {
		for _, maxBytes := range []int{PacketSize, 2000, DefaultChunkBytes} {
			cfg := ChunkerConfig{MaxBytes: maxBytes}
			want := chunkAll(t, cfg, in)
			for trial := range 40 {
				c, chunks := newTestChunker(t, cfg)
				for rest := in; len(rest) > 0; {
					k := min(len(rest), 1+r.IntN(3*PacketSize))
					if trial%4 == 0 {
						k = min(len(rest), 1+r.IntN(3)) // tiny writes
					}
					c.Write(rest[:k])
					rest = rest[k:]
				}
				c.Flush()
				got := *chunks
				if len(got) != len(want) {
					t.Fatalf("input %d MaxBytes %d trial %d: %d chunks, want %d", n, maxBytes, trial, len(got), len(want))
				}
				for i := range got {
					if got[i].Flags != want[i].Flags || !bytes.Equal(got[i].Data, want[i].Data) {
						t.Fatalf("input %d MaxBytes %d trial %d: chunk %d differs", n, maxBytes, trial, i)
					}
				}
			}
		}
	}
}

func TestChunkerTickAndFlush(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	c, chunks := newTestChunker(t, ChunkerConfig{MaxDuration: 100 * time.Millisecond, Now: clk.now})
	audio := func(cc uint8) []byte { return tsPkt(testAudioPID, true, cc, false, fill(cc, 184)) }
	start := clk.t
	c.Write(join([][]byte{audio(0), audio(1), audio(2)}))
	// The third packet waits for the next sync byte; the first two are in.
	clk.advance(99 * time.Millisecond)
	if c.Tick() || len(*chunks) != 0 {
		t.Fatal("Tick emitted a chunk younger than MaxDuration")
	}
	clk.advance(time.Millisecond)
	if !c.Tick() || len(*chunks) != 1 {
		t.Fatal("Tick did not emit a chunk of MaxDuration age")
	}
	if got := (*chunks)[0]; len(got.Data) != 2*PacketSize || got.TimestampUs != clk.t.UnixMicro() || got.Flags != 0 {
		t.Fatalf("chunk: %d bytes, ts %d (want %d, started %d), flags %d",
			len(got.Data), got.TimestampUs, clk.t.UnixMicro(), start.UnixMicro(), got.Flags)
	}
	if c.Tick() {
		t.Fatal("Tick emitted with nothing buffered")
	}
	c.Write(audio(3)[:100])
	c.Flush() // takes the waiting packet, keeps the partial one
	if len(*chunks) != 2 || !bytes.Equal((*chunks)[1].Data, audio(2)) {
		t.Fatalf("Flush: %d chunks", len(*chunks))
	}
	c.Write(audio(3)[100:])
	c.Write(audio(4)[:1])
	c.Flush()
	if len(*chunks) != 3 || !bytes.Equal((*chunks)[2].Data, audio(3)) {
		t.Fatalf("a packet split across Flush was not rebuilt: %d chunks", len(*chunks))
	}
}

func TestChunkerDiscontinuity(t *testing.T) {
	in := synthStream{gops: 2, framesPerGOP: 3, framePackets: 2, tablesEvery: 1, rai: true}.build(t)
	c, chunks := newTestChunker(t, ChunkerConfig{})
	c.Write(in)
	c.Write(in[:100]) // a partial packet, then the source restarts
	c.Discontinuity()
	before := len(*chunks)
	if before == 0 {
		t.Fatal("Discontinuity did not emit the buffered chunk")
	}
	for _, ch := range *chunks {
		if ch.Flags&ChunkDiscontinuity != 0 {
			t.Fatal("a chunk from before the break is flagged")
		}
	}
	if got := c.Stats().GarbageBytes; got != 100 {
		t.Fatalf("GarbageBytes = %d, want the 100 dropped bytes", got)
	}
	c.Write(in)
	c.Flush()
	after := (*chunks)[before:]
	if len(after) < 2 || after[0].Flags != ChunkRAP|ChunkDiscontinuity {
		t.Fatalf("first chunk after the break has flags %d, want RAP|Discontinuity", after[0].Flags)
	}
	for _, ch := range after[1:] {
		if ch.Flags&ChunkDiscontinuity != 0 {
			t.Fatal("more than one chunk flagged")
		}
	}
	checkChunks(t, *chunks, DefaultChunkBytes)
	checkTableCC(t, concat(*chunks), testPMTPID)
}

func TestChunkerTables(t *testing.T) {
	badPAT := psiPkt(patPID, 0, patSection(testPMTPID))
	badPAT[20] ^= 0xff // inside the CRC-covered section
	stream := func(pat []byte, pmtPID uint16) []byte {
		var b []byte
		b = append(b, pat...)
		b = append(b, psiPkt(pmtPID, 0, pmtSection(streamTypeH264, testVideoPID, testAudioPID))...)
		for cc := range 3 {
			b = append(b, tsPkt(testVideoPID, true, uint8(cc), true, pesPayload(h264NAL(5, 30)))...)
		}
		return b
	}
	t.Run("bad CRC", func(t *testing.T) {
		c, chunks := newTestChunker(t, ChunkerConfig{})
		c.Write(stream(badPAT, testPMTPID))
		c.Flush()
		if c.Stats().TableErrors != 1 {
			t.Fatalf("TableErrors = %d, want 1", c.Stats().TableErrors)
		}
		if _, _, ok := c.Video(); ok {
			t.Fatal("video PID known from a PAT with a bad CRC")
		}
		for _, ch := range *chunks {
			if ch.Flags&ChunkRAP != 0 {
				t.Fatal("RAP without a valid PAT")
			}
		}
	})
	t.Run("PMT PID changes", func(t *testing.T) {
		c, chunks := newTestChunker(t, ChunkerConfig{})
		c.Write(stream(psiPkt(patPID, 0, patSection(testPMTPID)), testPMTPID))
		c.Write(psiPkt(patPID, 1, patSection(0x1100)))
		c.Write(tsPkt(testVideoPID, true, 5, true, pesPayload(h264NAL(5, 30))))
		if _, _, ok := c.Video(); ok {
			t.Fatal("video PID kept after the PMT PID changed")
		}
		c.Write(stream(psiPkt(patPID, 2, patSection(0x1100)), 0x1100))
		c.Flush()
		pid, codec, ok := c.Video()
		if !ok || pid != testVideoPID || codec != CodecH264 {
			t.Fatalf("Video() = %#x %v %v", pid, codec, ok)
		}
		last := (*chunks)[len(*chunks)-1]
		if last.Flags&ChunkRAP == 0 || pidOfPacket(last.Data[PacketSize:]) != 0x1100 {
			t.Fatal("RAP chunk after the change does not carry the new PMT")
		}
	})
}

func TestChunkerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  ChunkerConfig
		ok   bool
	}{
		{"zero is defaults", ChunkerConfig{}, true},
		{"defaults", DefaultChunkerConfig(), true},
		{"one packet", ChunkerConfig{MaxBytes: PacketSize}, true},
		{"under one packet", ChunkerConfig{MaxBytes: PacketSize - 1}, false},
		{"negative bytes", ChunkerConfig{MaxBytes: -1}, false},
		{"1 MiB", ChunkerConfig{MaxBytes: 1 << 20}, true},
		{"over 1 MiB", ChunkerConfig{MaxBytes: 1<<20 + 1}, false},
		{"negative duration", ChunkerConfig{MaxDuration: -time.Millisecond}, false},
		{"over a minute", ChunkerConfig{MaxDuration: time.Minute + 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := NewChunker(ChunkerConfig{}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewChunker with nil emit: %v", err)
	}
}

func FuzzChunker(f *testing.F) {
	clean := synthStream{gops: 2, framesPerGOP: 3, framePackets: 3, tablesEvery: 1, rai: true, idr: true}.build(f)
	f.Add(clean, uint8(86), uint16(1000))
	f.Add(clean[50:], uint8(2), uint16(7))
	f.Add(append(append([]byte("garbage"), clean[:500]...), clean[700:]...), uint8(0), uint16(188))
	f.Add(bytes.Repeat([]byte{syncByte}, 1000), uint8(5), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, maxPackets uint8, split uint16) {
		cfg := ChunkerConfig{MaxBytes: (int(maxPackets)%100 + 1) * PacketSize}
		want := chunkAll(t, cfg, data)
		checkChunks(t, want, cfg.MaxBytes)
		c, chunks := newTestChunker(t, cfg)
		at := 0
		if len(data) > 0 {
			at = int(split) % (len(data) + 1)
		}
		c.Write(data[:at])
		c.Write(data[at:])
		c.Flush()
		if len(*chunks) != len(want) {
			t.Fatalf("split at %d: %d chunks, want %d", at, len(*chunks), len(want))
		}
		var total uint64
		for i, ch := range *chunks {
			if ch.Flags != want[i].Flags || !bytes.Equal(ch.Data, want[i].Data) {
				t.Fatalf("split at %d: chunk %d differs", at, i)
			}
			if ch.Flags&ChunkRAP != 0 && pidOfPacket(ch.Data) != patPID {
				t.Fatalf("RAP chunk %d does not start with a PAT", i)
			}
			total += uint64(len(ch.Data))
		}
		if s := c.Stats(); s.Bytes != total || s.Chunks != uint64(len(want)) {
			t.Fatalf("stats %+v, emitted %d bytes in %d chunks", s, total, len(want))
		}
	})
}

func BenchmarkChunker(b *testing.B) {
	in := synthStream{gops: 20, framesPerGOP: 25, framePackets: 30, tablesEvery: 1, rai: true, idr: true}.build(b)
	c, err := NewChunker(ChunkerConfig{}, func(Chunk) {})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		for rest := in; len(rest) > 0; {
			k := min(len(rest), 64<<10)
			c.Write(rest[:k])
			rest = rest[k:]
		}
	}
	c.Flush()
}
