package origin

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Chunk flags.
const (
	ChunkRAP           = 1 // chunk starts a random-access point: PAT, PMT, then a video keyframe
	ChunkDiscontinuity = 2 // the source restarted or skipped; players should reset timing
)

// Chunk is a run of whole MPEG-TS packets cut from a live stream.
type Chunk struct {
	Seq         uint64 // assigned by the receiver of chunks, never by the chunker
	TimestampUs int64  // wall-clock µs when the chunk was cut (from ChunkerConfig.Now)
	Flags       uint8  // ChunkRAP, ChunkDiscontinuity
	Data        []byte // whole 188-byte TS packets, len ≤ MaxBytes; owned by the receiver
}

// Chunker defaults and bounds.
const (
	DefaultChunkBytes    = 16384
	DefaultChunkDuration = 250 * time.Millisecond
	maxChunkBytes        = 1 << 20
	maxChunkDuration     = time.Minute
)

// ErrInvalidConfig is wrapped by every Validate error in this package.
var ErrInvalidConfig = errors.New("invalid config")

// ChunkerConfig configures a Chunker. Zero fields take their defaults.
type ChunkerConfig struct {
	// MaxBytes bounds a chunk's size; chunks hold whole packets, so the bound
	// in effect is MaxBytes rounded down to a multiple of PacketSize (16384
	// gives 87 packets). From PacketSize to 1 MiB; default 16384. A RAP chunk
	// needs room for PAT, PMT and the keyframe's first packet to start a
	// decoder by itself, so sizes under 3 packets only suit tests.
	MaxBytes int
	// MaxDuration is the longest a started chunk waits for more packets before
	// Tick emits it, so that low-bitrate streams keep a low delay. Up to one
	// minute; default 250 ms.
	MaxDuration time.Duration
	// Now is the clock for chunk timestamps and ages; default time.Now.
	Now func() time.Time
}

// DefaultChunkerConfig returns the configuration used for zero fields.
func DefaultChunkerConfig() ChunkerConfig {
	return ChunkerConfig{MaxBytes: DefaultChunkBytes, MaxDuration: DefaultChunkDuration, Now: time.Now}
}

// Validate reports the first field out of range.
func (c ChunkerConfig) Validate() error {
	if c.MaxBytes != 0 && (c.MaxBytes < PacketSize || c.MaxBytes > maxChunkBytes) {
		return fmt.Errorf("origin: chunker MaxBytes %d: want %d..%d (one packet to 1 MiB): %w",
			c.MaxBytes, PacketSize, maxChunkBytes, ErrInvalidConfig)
	}
	if c.MaxDuration < 0 || c.MaxDuration > maxChunkDuration {
		return fmt.Errorf("origin: chunker MaxDuration %v: want 0 (default) to %v: %w",
			c.MaxDuration, maxChunkDuration, ErrInvalidConfig)
	}
	return nil
}

func (c ChunkerConfig) withDefaults() ChunkerConfig {
	d := DefaultChunkerConfig()
	if c.MaxBytes == 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = d.MaxDuration
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// ChunkerStats counts what a Chunker has seen.
type ChunkerStats struct {
	Packets      uint64 // whole packets taken from the input
	GarbageBytes uint64 // bytes skipped to find packet sync or dropped at a discontinuity
	SyncLosses   uint64 // times a packet did not end where the next sync byte should be
	TableErrors  uint64 // PAT or PMT sections rejected (CRC, syntax)
	Chunks       uint64 // chunks emitted
	RAPs         uint64 // chunks emitted that start at a random-access point
	Bytes        uint64 // bytes emitted in chunks
}

// Chunker cuts an MPEG-TS byte stream into Chunks. It is an io.Writer: any
// split of the same bytes across Write calls gives the same chunks. It starts
// no goroutine and reads only its injected clock; time-driven emission
// happens in Tick. A Chunker is not safe for concurrent use.
//
// It follows the first program of the PAT and that program's first H.264 or
// HEVC stream. At each random-access point of that stream it ends the current
// chunk and starts a ChunkRAP one with the latest PAT and PMT packets, then
// the keyframe's packets. PAT and PMT packets pass with renumbered continuity
// counters, so the inserted copies do not look like packet loss to a demuxer.
type Chunker struct {
	cfg      ChunkerConfig
	emit     func(Chunk)
	limit    int // MaxBytes rounded down to whole packets
	in       []byte
	locked   bool // the last packet ended at a sync byte
	cur      []byte
	curFlags uint8
	// pending holds PAT, PMT and service information packets until the next
	// packet shows whether a keyframe follows them (then the chunk boundary
	// goes before them).
	pending   []byte
	startedAt time.Time // when cur or pending got its first packet
	discNext  bool

	patAsm, pmtAsm sectionAssembler
	patPkts        []byte // latest complete PAT, as packets
	pmtPkts        []byte // latest complete PMT, as packets
	pmtPID         uint16
	havePMTPID     bool
	videoPID       uint16
	codec          VideoCodec
	haveVideo      bool
	ccPAT, ccPMT   uint8 // next continuity counters written on PAT and PMT packets
	stats          ChunkerStats

	// The media clock of a source that delivers in pieces (see Span).
	spanStart time.Time
	spanEnd   time.Time
	spanDur   time.Duration
	spanFrom  uint64 // stats.Packets when the piece began
	spanPkts  uint64 // packets in the piece; 0: no piece
	lastUs    int64  // the last timestamp given: they never go back
}

// NewChunker returns a Chunker that hands each chunk to emit. emit owns the
// chunk's Data and must not call back into the Chunker.
func NewChunker(cfg ChunkerConfig, emit func(Chunk)) (*Chunker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if emit == nil {
		return nil, fmt.Errorf("origin: chunker emit func is nil: %w", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	limit := cfg.MaxBytes / PacketSize * PacketSize
	return &Chunker{cfg: cfg, emit: emit, limit: limit, cur: make([]byte, 0, limit)}, nil
}

// Write takes any number of stream bytes; it never fails.
func (c *Chunker) Write(b []byte) (int, error) {
	if len(c.in) == 0 {
		n := c.scan(b, false)
		c.in = append(c.in, b[n:]...)
	} else {
		c.in = append(c.in, b...)
		n := c.scan(c.in, false)
		c.in = c.in[:copy(c.in, c.in[n:])]
	}
	return len(b), nil
}

// Flush emits the current chunk now. A buffered packet that was waiting only
// for the next packet's sync byte as confirmation is taken as it is; a
// partial packet stays buffered for the bytes that complete it.
func (c *Chunker) Flush() {
	n := c.scan(c.in, true)
	c.in = c.in[:copy(c.in, c.in[n:])]
	c.releasePending()
	c.emitCur()
}

// Tick emits the current chunk if it is older than MaxDuration and reports
// whether it did.
func (c *Chunker) Tick() bool {
	if len(c.cur) == 0 && len(c.pending) == 0 {
		return false
	}
	if c.cfg.Now().Sub(c.startedAt) < c.cfg.MaxDuration {
		return false
	}
	c.releasePending()
	c.emitCur()
	return true
}

// Span says that the next n bytes of input play over d. A source that
// delivers media a piece at a time (an HLS segment) then has its chunks
// stamped when their media plays, as a source sending in real time would,
// rather than all with the instant the piece arrived: deadlines follow the
// media, and chunk counts keep step with time. Pieces follow each other on a
// media clock that runs at most one piece ahead of the wall clock.
func (c *Chunker) Span(d time.Duration, n int) {
	now := c.cfg.Now()
	start := now
	if c.spanEnd.After(now) {
		start = c.spanEnd
		if lim := now.Add(d); start.After(lim) {
			start = lim
		}
	}
	c.spanStart, c.spanDur, c.spanEnd = start, d, start.Add(d)
	c.spanFrom, c.spanPkts = c.stats.Packets, uint64(max(n, 0)/PacketSize)
}

// stamp is the timestamp of a chunk cut now: when the media of the last
// packet taken plays, inside a piece; otherwise the wall clock.
func (c *Chunker) stamp() int64 {
	t := c.cfg.Now()
	if done := c.stats.Packets - c.spanFrom; c.spanPkts > 0 && done <= c.spanPkts {
		t = c.spanStart.Add(time.Duration(uint64(c.spanDur) * done / c.spanPkts))
	}
	us := max(t.UnixMicro(), c.lastUs)
	c.lastUs = us
	return us
}

// Discontinuity marks a break in the source: it emits what is buffered,
// drops any partial packet and flags the next chunk ChunkDiscontinuity.
func (c *Chunker) Discontinuity() {
	c.Flush()
	c.spanPkts = 0
	c.stats.GarbageBytes += uint64(len(c.in))
	c.in = c.in[:0]
	c.locked = false
	c.patAsm.reset()
	c.pmtAsm.reset()
	c.discNext = true
}

// Stats returns the counters so far.
func (c *Chunker) Stats() ChunkerStats { return c.stats }

// Video returns the PID and codec of the video stream followed for
// random-access points; ok is false until a PMT naming one has been seen.
func (c *Chunker) Video() (pid uint16, codec VideoCodec, ok bool) {
	return c.videoPID, c.codec, c.haveVideo
}

// scan takes whole packets from data and returns how many bytes it consumed.
// Without final, every decision waits for the bytes that settle it, which is
// what makes chunks independent of how the input was split. A packet is
// accepted when the next packet's sync byte follows it; sync is (re)gained at
// three sync bytes 188 bytes apart.
func (c *Chunker) scan(data []byte, final bool) int {
	i := 0
	for len(data)-i >= PacketSize {
		rem := data[i:]
		if c.locked {
			if rem[0] == syncByte {
				if len(rem) > PacketSize && rem[PacketSize] == syncByte || len(rem) == PacketSize && final {
					c.handlePacket(rem[:PacketSize])
					i += PacketSize
					continue
				}
				if len(rem) == PacketSize {
					break // wait for the next sync byte
				}
			}
			c.locked = false
			c.stats.SyncLosses++
		}
		k, found := findSync(rem, final)
		c.stats.GarbageBytes += uint64(k)
		i += k
		if !found {
			break
		}
		c.locked = true
	}
	return i
}

// findSync returns the offset of the first packet start in b confirmed by the
// sync bytes of the two packets after it. When none is found it returns how
// many leading bytes can be dropped for sure.
func findSync(b []byte, final bool) (k int, found bool) {
	for k < len(b) {
		j := bytes.IndexByte(b[k:], syncByte)
		if j < 0 {
			return len(b), false
		}
		k += j
		if k+PacketSize > len(b) {
			return k, false
		}
		ok, settled := syncRun(b[k:], final)
		if !settled {
			return k, false
		}
		if ok {
			return k, true
		}
		k++
	}
	return k, false
}

// syncRun checks the sync bytes one and two packets after b[0]. With final,
// bytes that have not arrived count as confirming.
func syncRun(b []byte, final bool) (ok, settled bool) {
	for n := 1; n <= 2; n++ {
		o := n * PacketSize
		if o >= len(b) {
			return final, final
		}
		if b[o] != syncByte {
			return false, true
		}
	}
	return true, true
}

func (c *Chunker) handlePacket(p []byte) {
	c.stats.Packets++
	h := parsePacket(p)
	switch {
	case h.pid == patPID:
		if sec, pkts, done := c.patAsm.push(p, h); done {
			c.onPAT(sec, pkts)
		}
		c.hold(p)
		return
	case c.havePMTPID && h.pid == c.pmtPID:
		if sec, pkts, done := c.pmtAsm.push(p, h); done {
			c.onPMT(sec, pkts)
		}
		c.hold(p)
		return
	case h.pid >= firstSIPID && h.pid <= lastSIPID:
		// Service information (SDT, NIT…) sent with the tables stays
		// with them.
		c.hold(p)
		return
	case c.haveVideo && h.pid == c.videoPID && h.pusi &&
		(h.rai || pesStartsKeyframe(h.payload, c.codec)):
		c.startRAP(p)
		return
	}
	c.releasePending()
	c.add(p)
}

func (c *Chunker) onPAT(sec, pkts []byte) {
	pid, err := parsePAT(sec)
	if err != nil {
		c.stats.TableErrors++
		return
	}
	c.patPkts = append(c.patPkts[:0], pkts...)
	if !c.havePMTPID || pid != c.pmtPID {
		c.pmtPID, c.havePMTPID = pid, true
		c.pmtAsm.reset()
		c.pmtPkts = c.pmtPkts[:0]
		c.haveVideo = false
		c.ccPMT = 0
	}
}

func (c *Chunker) onPMT(sec, pkts []byte) {
	pid, codec, ok, err := parsePMT(sec)
	if err != nil {
		c.stats.TableErrors++
		return
	}
	c.pmtPkts = append(c.pmtPkts[:0], pkts...)
	c.videoPID, c.codec, c.haveVideo = pid, codec, ok
}

// startRAP ends the current chunk and opens a ChunkRAP one with the latest
// tables in front of keyframe packet p. Held table packets are dropped, as
// the latest complete tables replace them; held service information follows
// the tables.
func (c *Chunker) startRAP(p []byte) {
	held := c.pending
	c.pending = c.pending[:0]
	c.emitCur()
	c.curFlags = ChunkRAP
	c.open()
	for t := c.patPkts; len(t) >= PacketSize; t = t[PacketSize:] {
		c.addTable(t[:PacketSize])
	}
	for t := c.pmtPkts; len(t) >= PacketSize; t = t[PacketSize:] {
		c.addTable(t[:PacketSize])
	}
	for t := held; len(t) >= PacketSize; t = t[PacketSize:] {
		if pid := pidOfPacket(t); pid != patPID && !(c.havePMTPID && pid == c.pmtPID) {
			c.add(t[:PacketSize])
		}
	}
	c.add(p)
}

// hold keeps a table or service information packet back until the next
// packet shows whether a keyframe follows.
func (c *Chunker) hold(p []byte) {
	if len(c.pending)+PacketSize > c.limit {
		c.releasePending()
	}
	c.open()
	c.pending = append(c.pending, p...)
}

func (c *Chunker) releasePending() {
	for t := c.pending; len(t) >= PacketSize; t = t[PacketSize:] {
		c.addTable(t[:PacketSize])
	}
	c.pending = c.pending[:0]
}

// addTable adds a PAT or PMT packet with the chunker's own continuity counter.
func (c *Chunker) addTable(p []byte) {
	c.open()
	c.cur = append(c.cur, p...)
	c.renumber(c.cur[len(c.cur)-PacketSize:])
	c.emitIfFull()
}

func (c *Chunker) renumber(q []byte) {
	pid := pidOfPacket(q)
	var next *uint8
	switch {
	case pid == patPID:
		next = &c.ccPAT
	case c.havePMTPID && pid == c.pmtPID:
		next = &c.ccPMT
	default:
		return
	}
	if q[3]&0x10 == 0 { // no payload: the counter does not advance
		setCC(q, *next-1)
		return
	}
	setCC(q, *next)
	*next = (*next + 1) & 0x0f
}

// open notes the time a chunk gets its first packet.
func (c *Chunker) open() {
	if len(c.cur) == 0 && len(c.pending) == 0 {
		c.startedAt = c.cfg.Now()
	}
}

// add appends packet p to the current chunk and emits the chunk once no
// further packet fits.
func (c *Chunker) add(p []byte) {
	c.open()
	c.cur = append(c.cur, p...)
	c.emitIfFull()
}

func (c *Chunker) emitIfFull() {
	if len(c.cur)+PacketSize > c.limit {
		c.emitCur()
	}
}

func (c *Chunker) emitCur() {
	if len(c.cur) == 0 {
		return
	}
	ch := Chunk{TimestampUs: c.stamp(), Flags: c.curFlags, Data: c.cur}
	if c.discNext {
		ch.Flags |= ChunkDiscontinuity
		c.discNext = false
	}
	c.cur = make([]byte, 0, c.limit)
	c.curFlags = 0
	if len(c.pending) > 0 {
		c.startedAt = c.cfg.Now()
	}
	c.stats.Chunks++
	c.stats.Bytes += uint64(len(ch.Data))
	if ch.Flags&ChunkRAP != 0 {
		c.stats.RAPs++
	}
	c.emit(ch)
}
