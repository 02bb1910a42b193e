package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// LiveChunk is one verified live chunk in play order. A RAP chunk begins with
// PAT, PMT and a keyframe, so a decoder can start on it.
type LiveChunk struct {
	Seq           uint64
	RAP           bool
	Discontinuity bool
	Data          []byte
}

// errLagging is the cause of a progressive client's cancellation when it fell
// too far behind.
var errLagging = errors.New("client fell behind the stream")

// Live is one live stream as players see it. It is safe for concurrent use.
type Live struct {
	name string
	opts LiveOptions
	log  *slog.Logger

	mu      sync.Mutex
	closed  bool
	started bool
	lastSeq uint64
	// pos is the stream position: the total duration of every chunk pushed.
	pos time.Duration

	// Progressive side. gop holds the chunks from the most recent RAP while
	// gopOpen; a gap, or a group longer than the window, empties it until the
	// next RAP.
	tsSynced bool
	gopOpen  bool
	gop      [][]byte
	gopDur   time.Duration
	clients  map[*liveClient]struct{}

	// HLS side.
	hlsSynced   bool
	open        *openSegment
	nextDisc    bool
	segs        []*segment // complete, oldest first, consecutive numbers
	nextSegN    uint64
	firstListed uint64 // media sequence number of the first listed segment
	discCount   uint64
	targetSec   int // EXT-X-TARGETDURATION; only grows

	st LiveStats
}

// LiveStats is a snapshot of a Live's counters.
type LiveStats struct {
	Name string `json:"name"`
	// Clients is the number of progressive clients connected now.
	Clients int `json:"clients"`
	// ClientsDropped counts progressive clients cut off for lagging.
	ClientsDropped uint64 `json:"clientsDropped"`
	Chunks         uint64 `json:"chunks"`
	Bytes          uint64 `json:"bytes"`
	// Gaps counts missing sequence numbers seen (runs, not chunks).
	Gaps uint64 `json:"gaps"`
	// ChunksSkipped counts chunks not streamed because the stream was
	// waiting for a RAP after a gap (or before the first RAP).
	ChunksSkipped uint64 `json:"chunksSkipped"`
	// ChunksStale counts chunks refused for a sequence number not above the
	// last one pushed.
	ChunksStale uint64 `json:"chunksStale"`
	LastSeq     uint64 `json:"lastSeq"`
	// Segments is the number of segments the playlist lists now, the first
	// of them numbered MediaSequence.
	Segments      int    `json:"segments"`
	MediaSequence uint64 `json:"mediaSequence"`
	Closed        bool   `json:"closed"`
}

type openSegment struct {
	parts      [][]byte
	sizeBytes  int
	dur        time.Duration
	disc       bool
	firstChunk uint64
}

type segment struct {
	n       uint64
	data    []byte
	dur     time.Duration
	disc    bool   // EXT-X-DISCONTINUITY before it
	discSeq uint64 // its discontinuity sequence number
	// unlistedAt is the stream position when the segment left the playlist;
	// valid when unlisted.
	unlisted   bool
	unlistedAt time.Duration
}

// NewLive returns an empty live stream. Zero option fields take defaults. It
// panics if name is not a valid stream name or opts fail Validate: both come
// from code, not from the network.
func NewLive(name string, opts LiveOptions) *Live {
	if err := checkName(name); err != nil {
		panic(err)
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	opts = opts.withDefaults()
	return &Live{
		name:      name,
		opts:      opts,
		log:       opts.Logger.With("live", name),
		clients:   make(map[*liveClient]struct{}),
		targetSec: max(1, int(math.Ceil(opts.TargetSegment.Seconds()))),
	}
}

// Name returns the stream name, as it appears in URLs.
func (l *Live) Name() string { return l.name }

// Push hands the gateway the next chunk to play and how long it plays. Calls
// come in sequence order; a jump in Seq is a skipped chunk, after which
// nothing is streamed until the next RAP. A Seq not above the last is
// ignored. Push keeps c.Data, which must not change afterwards, and never
// waits for a client.
func (l *Live) Push(c LiveChunk, duration time.Duration) {
	duration = max(duration, 0)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if l.started && c.Seq <= l.lastSeq {
		l.st.ChunksStale++
		return
	}
	gap := l.started && c.Seq != l.lastSeq+1
	if gap {
		l.st.Gaps++
		l.log.Debug("gateway: gap in live stream", "after", l.lastSeq, "next", c.Seq)
	}
	l.started = true
	l.lastSeq = c.Seq
	l.pos += duration
	l.st.Chunks++
	l.st.Bytes += uint64(len(c.Data))

	l.pushProgressive(c, duration, gap)
	l.pushHLS(c, duration, gap)
	l.pruneLocked()
}

func (l *Live) pushProgressive(c LiveChunk, d time.Duration, gap bool) {
	if gap {
		l.tsSynced, l.gopOpen, l.gop, l.gopDur = false, false, nil, 0
	}
	if c.RAP {
		l.tsSynced, l.gopOpen, l.gop, l.gopDur = true, true, l.gop[:0], 0
	}
	if !l.tsSynced {
		l.st.ChunksSkipped++
		return
	}
	if l.gopOpen {
		l.gop = append(l.gop, c.Data)
		l.gopDur += d
		if l.gopDur > l.opts.Window {
			// A group this long cannot start a client in reasonable time;
			// joiners wait for the next RAP instead.
			l.gopOpen, l.gop, l.gopDur = false, nil, 0
		}
	}
	for cl := range l.clients {
		if cl.waitRAP {
			if !c.RAP {
				continue
			}
			cl.waitRAP = false
		}
		cl.queue = append(cl.queue, c.Data)
		cl.lagBytes += len(c.Data)
		if cl.lagBytes > l.opts.MaxClientLagBytes {
			l.dropLocked(cl)
			continue
		}
		cl.wake()
	}
}

func (l *Live) pushHLS(c LiveChunk, d time.Duration, gap bool) {
	if gap {
		l.breakSegmentLocked()
	}
	if c.Discontinuity {
		l.breakSegmentLocked()
	}
	if c.RAP {
		if l.open != nil && l.open.dur >= l.opts.TargetSegment {
			l.closeSegmentLocked()
		}
		if l.open == nil {
			l.open = &openSegment{disc: l.nextDisc, firstChunk: c.Seq}
			l.nextDisc = false
		}
		l.hlsSynced = true
	}
	if !l.hlsSynced || l.open == nil {
		return
	}
	l.open.parts = append(l.open.parts, c.Data)
	l.open.sizeBytes += len(c.Data)
	l.open.dur += d
	if l.open.dur > l.opts.Window {
		// A segment may end anywhere but must start at a RAP: cut this
		// overlong one and wait for the next RAP.
		l.breakSegmentLocked()
	}
}

// breakSegmentLocked ends the segment being built and makes the next one
// start at a RAP after a discontinuity.
func (l *Live) breakSegmentLocked() {
	l.closeSegmentLocked()
	l.hlsSynced = false
	if l.nextSegN > 0 {
		l.nextDisc = true
	}
}

func (l *Live) closeSegmentLocked() {
	o := l.open
	if o == nil {
		return
	}
	l.open = nil
	data := make([]byte, 0, o.sizeBytes)
	for _, p := range o.parts {
		data = append(data, p...)
	}
	if o.disc {
		l.discCount++
	}
	s := &segment{n: l.nextSegN, data: data, dur: o.dur, disc: o.disc, discSeq: l.discCount}
	l.nextSegN++
	l.segs = append(l.segs, s)
	if r := roundedSeconds(o.dur); r > l.targetSec {
		l.targetSec = r
	}
	l.slideLocked()
}

// slideLocked moves the start of the playlist: the newest segments whose
// durations add up to at most Window, but at least three target durations.
// The start never moves back.
func (l *Live) slideLocked() {
	minDur := 3 * time.Duration(l.targetSec) * time.Second
	var total time.Duration
	i := len(l.segs)
	for i > 0 {
		s := l.segs[i-1]
		if s.n < l.firstListed || total+s.dur > l.opts.Window && total >= minDur {
			break
		}
		total += s.dur
		i--
	}
	if i < len(l.segs) && l.segs[i].n > l.firstListed {
		l.firstListed = l.segs[i].n
	}
	for _, s := range l.segs {
		if s.n >= l.firstListed {
			break
		}
		if !s.unlisted {
			s.unlisted, s.unlistedAt = true, l.pos
		}
	}
}

// pruneLocked forgets segments that left the playlist longer ago than their
// own duration plus the longest playlist.
func (l *Live) pruneLocked() {
	longest := max(l.opts.Window, 4*time.Duration(l.targetSec)*time.Second)
	n := 0
	for _, s := range l.segs {
		if !s.unlisted || l.pos-s.unlistedAt <= s.dur+longest {
			break
		}
		n++
	}
	if n > 0 {
		clear(l.segs[:n])
		l.segs = l.segs[n:]
	}
}

// Close ends the stream: progressive clients receive what is queued and a
// clean end, the segment being built becomes the last one, and the playlist
// gets EXT-X-ENDLIST. Later pushes are ignored.
func (l *Live) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.closeSegmentLocked()
	for cl := range l.clients {
		cl.ended = true
		cl.wake()
	}
}

// Stats returns a snapshot of the counters.
func (l *Live) Stats() LiveStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.Name = l.name
	st.Clients = len(l.clients)
	st.LastSeq = l.lastSeq
	st.Closed = l.closed
	listed := l.listedLocked()
	st.Segments = len(listed)
	if len(listed) > 0 {
		st.MediaSequence = listed[0].n
	}
	return st
}

// listedLocked returns the segments the playlist lists.
func (l *Live) listedLocked() []*segment {
	for i, s := range l.segs {
		if s.n >= l.firstListed {
			return l.segs[i:]
		}
	}
	return nil
}

// liveClient is one progressive client's queue. Its fields are guarded by the
// Live's mutex, except notify.
type liveClient struct {
	notify   chan struct{} // capacity 1: something changed
	queue    [][]byte
	lagBytes int // queued or being written, not yet written
	waitRAP  bool
	ended    bool
	cancel   context.CancelCauseFunc
	remote   string
}

func (cl *liveClient) wake() {
	select {
	case cl.notify <- struct{}{}:
	default:
	}
}

// subscribe adds a client that starts at the most recent RAP, or waits for
// the next one. It returns nil when the stream is closed.
func (l *Live) subscribe(cancel context.CancelCauseFunc, remote string) *liveClient {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	cl := &liveClient{notify: make(chan struct{}, 1), cancel: cancel, remote: remote}
	if l.gopOpen && len(l.gop) > 0 {
		cl.queue = append([][]byte(nil), l.gop...)
		for _, b := range l.gop {
			cl.lagBytes += len(b)
		}
		cl.wake()
	} else {
		cl.waitRAP = true
	}
	l.clients[cl] = struct{}{}
	return cl
}

func (l *Live) unsubscribe(cl *liveClient) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, cl)
}

func (l *Live) dropLocked(cl *liveClient) {
	delete(l.clients, cl)
	cl.queue = nil
	l.st.ClientsDropped++
	l.log.Info("gateway: live client dropped", "remote", cl.remote,
		"lagBytes", cl.lagBytes, "maxLagBytes", l.opts.MaxClientLagBytes)
	cl.cancel(fmt.Errorf("gateway: live %q: %w by %d bytes", l.name, errLagging, cl.lagBytes))
}

// take returns the chunks queued for cl; ended reports that the stream is
// over and nothing more will come.
func (l *Live) take(cl *liveClient) (batch [][]byte, ended bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	batch, cl.queue = cl.queue, nil
	return batch, cl.ended && len(batch) == 0
}

// written records that n bytes reached the connection.
func (l *Live) written(cl *liveClient, n int) {
	l.mu.Lock()
	cl.lagBytes -= n
	l.mu.Unlock()
}
