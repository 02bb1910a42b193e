package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IngestState is the health of one stream's ingest, as shown to operators.
type IngestState string

const (
	StateConnecting IngestState = "connecting" // waiting for a source's first bytes or a push
	StateLive       IngestState = "live"       // bytes flow
	StateStalled    IngestState = "stalled"    // no bytes for the stall time, or a push ended
	StateError      IngestState = "error"      // the source failed; a retry is scheduled
	StateEnded      IngestState = "ended"      // the source finished (HLS EXT-X-ENDLIST)
)

// Status is a snapshot of an ingest's health.
type Status struct {
	State    IngestState
	Err      string    // the last failure; cleared when the stream is live again
	Since    time.Time // when State last changed
	Bytes    int64     // stream bytes received in total
	Restarts int       // reconnections of a pull source, or pushes after the first
	Pushing  bool      // a push is connected now (it may be stalled)
}

// Ingest errors.
var (
	ErrSourceHTTP  = errors.New("source HTTP request failed")
	ErrPlaylist    = errors.New("malformed HLS playlist")
	ErrVariant     = errors.New("no matching HLS variant")
	ErrUnsupported = errors.New("unsupported media")
	ErrNotTS       = errors.New("not an MPEG-TS stream")
	ErrSourceEnded = errors.New("source ended the stream")
	ErrSourceIdle  = errors.New("source sent nothing for too long")
	ErrPushBusy    = errors.New("another push to this stream is running")
	ErrNotPush     = errors.New("stream is pulled from a source and takes no push")
)

// A Source delivers one stream's MPEG-TS bytes. Run makes one attempt: it
// connects, writes bytes to w as they arrive, and returns when the source
// fails or ends or ctx is done. It returns nil only when the stream is over
// for good; any error makes the Ingest retry after a backoff, marking a
// discontinuity. Run is never called concurrently with itself.
type Source interface {
	Run(ctx context.Context, w SourceWriter) error
}

// SourceWriter is what a Source writes to.
type SourceWriter interface {
	io.Writer
	// Discontinuity marks a break inside the stream (HLS
	// EXT-X-DISCONTINUITY, a skipped segment).
	Discontinuity()
	// ExpectGap says that pauses of up to d between writes are normal for
	// this source (HLS delivers whole segments), so they are not a stall.
	ExpectGap(d time.Duration)
}

// Ingest defaults.
const (
	DefaultStallAfter   = 3 * time.Second
	DefaultRestartAfter = 10 * time.Second
	DefaultRetryMin     = 500 * time.Millisecond
	DefaultRetryMax     = 15 * time.Second
	maxIngestDuration   = time.Hour
	maxStreamNameBytes  = 128
)

// IngestConfig configures one named stream's ingest. Zero durations take
// their defaults.
type IngestConfig struct {
	// Name names the stream, as in /ingest/NAME; 1 to 128 bytes, no '/', '?'
	// or '#'.
	Name string
	// Source is pulled from; nil makes a push stream fed through Push.
	Source Source
	// Chunker cuts the stream.
	Chunker ChunkerConfig
	// StallAfter without bytes turns a live stream stalled; default 3 s.
	StallAfter time.Duration
	// RestartAfter without bytes makes a pull source reconnect; default 10 s,
	// at least StallAfter.
	RestartAfter time.Duration
	// RetryMin and RetryMax bound the backoff between pull attempts, which
	// doubles after each attempt that brought no bytes; defaults 500 ms, 15 s.
	RetryMin, RetryMax time.Duration
	// Logger receives state changes and failures; default slog.Default().
	Logger *slog.Logger
}

// DefaultIngestConfig returns the defaults for a stream name and source.
func DefaultIngestConfig(name string, src Source) IngestConfig {
	return IngestConfig{
		Name: name, Source: src, Chunker: DefaultChunkerConfig(),
		StallAfter: DefaultStallAfter, RestartAfter: DefaultRestartAfter,
		RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax,
	}
}

// Validate reports the first field out of range.
func (c IngestConfig) Validate() error {
	if c.Name == "" || len(c.Name) > maxStreamNameBytes || strings.ContainsAny(c.Name, "/?#") {
		return fmt.Errorf("origin: ingest Name %q: want 1..%d bytes without '/', '?' or '#': %w",
			c.Name, maxStreamNameBytes, ErrInvalidConfig)
	}
	if err := c.Chunker.Validate(); err != nil {
		return fmt.Errorf("origin: ingest %q: %w", c.Name, err)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"StallAfter", c.StallAfter}, {"RestartAfter", c.RestartAfter}, {"RetryMin", c.RetryMin}, {"RetryMax", c.RetryMax}} {
		if f.d < 0 || f.d > maxIngestDuration {
			return fmt.Errorf("origin: ingest %q: %s %v: want 0 (default) to %v: %w",
				c.Name, f.name, f.d, maxIngestDuration, ErrInvalidConfig)
		}
	}
	d := c.withDefaults()
	if d.RestartAfter < d.StallAfter {
		return fmt.Errorf("origin: ingest %q: RestartAfter %v below StallAfter %v: %w",
			c.Name, d.RestartAfter, d.StallAfter, ErrInvalidConfig)
	}
	if d.RetryMax < d.RetryMin {
		return fmt.Errorf("origin: ingest %q: RetryMax %v below RetryMin %v: %w",
			c.Name, d.RetryMax, d.RetryMin, ErrInvalidConfig)
	}
	if v, ok := c.Source.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("origin: ingest %q: %w", c.Name, err)
		}
	}
	return nil
}

func (c IngestConfig) withDefaults() IngestConfig {
	c.Chunker = c.Chunker.withDefaults()
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.StallAfter, DefaultStallAfter)
	def(&c.RestartAfter, max(DefaultRestartAfter, c.StallAfter))
	def(&c.RetryMin, DefaultRetryMin)
	def(&c.RetryMax, max(DefaultRetryMax, c.RetryMin))
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Ingest ties one named stream's source, or its pushes, to a Chunker and a
// Status. Chunks go to the sink given to NewIngest, one call at a time.
type Ingest struct {
	cfg IngestConfig
	log *slog.Logger
	now func() time.Time

	cmu     sync.Mutex // serialises the chunker and the sink
	chunker *Chunker

	smu           sync.Mutex
	st            Status
	lastBytes     time.Time
	attemptStart  time.Time
	gap           time.Duration // normal pause between writes of the current source
	cancelAttempt context.CancelCauseFunc
	pushes        int

	pushing atomic.Bool
}

// NewIngest validates cfg and returns an Ingest that hands chunks to sink.
// The sink assigns sequence numbers; it runs with the chunker locked and must
// not call back into the Ingest.
func NewIngest(cfg IngestConfig, sink func(Chunk)) (*Ingest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, fmt.Errorf("origin: ingest %q: sink is nil: %w", cfg.Name, ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	in := &Ingest{cfg: cfg, log: cfg.Logger.With("stream", cfg.Name), now: cfg.Chunker.Now}
	ch, err := NewChunker(cfg.Chunker, sink)
	if err != nil {
		return nil, fmt.Errorf("origin: ingest %q: %w", cfg.Name, err)
	}
	in.chunker = ch
	in.st = Status{State: StateConnecting, Since: in.now()}
	return in, nil
}

// Name returns the stream's name.
func (in *Ingest) Name() string { return in.cfg.Name }

// Status returns a snapshot of the ingest's health.
func (in *Ingest) Status() Status {
	in.smu.Lock()
	st := in.st
	in.smu.Unlock()
	st.Pushing = in.pushing.Load()
	return st
}

// ChunkerStats returns the chunker's counters.
func (in *Ingest) ChunkerStats() ChunkerStats {
	in.cmu.Lock()
	defer in.cmu.Unlock()
	return in.chunker.Stats()
}

// Run pulls the source, retrying with backoff, and drives time-based chunk
// emission and stall detection, until ctx is done (it returns ctx.Err()) or
// the source ends for good (it returns nil). A push stream's Run only keeps
// time; pushes arrive through Push.
func (in *Ingest) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { in.watch(ctx) })
	defer func() {
		cancel()
		wg.Wait()
		in.cmu.Lock()
		in.chunker.Flush()
		in.cmu.Unlock()
	}()
	if in.cfg.Source == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	backoff := in.cfg.RetryMin
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			in.smu.Lock()
			in.st.Restarts++
			in.smu.Unlock()
		}
		actx, acancel := context.WithCancelCause(ctx)
		in.beginAttempt(acancel)
		w := &attemptWriter{in: in}
		err := in.cfg.Source.Run(actx, w)
		idle := errors.Is(context.Cause(actx), ErrSourceIdle)
		acancel(nil)
		in.endAttempt()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			in.setState(StateEnded, "")
			return nil
		}
		if idle {
			err = fmt.Errorf("%w: %w", ErrSourceIdle, err)
		}
		err = fmt.Errorf("origin: ingest %q: %w", in.cfg.Name, err)
		in.cmu.Lock()
		in.chunker.Discontinuity()
		in.cmu.Unlock()
		if w.wrote.Load() {
			backoff = in.cfg.RetryMin
		}
		in.setState(StateError, err.Error())
		in.log.Warn("origin: ingest source failed", "err", err, "retry_in", backoff)
		if !sleepCtx(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, in.cfg.RetryMax)
	}
}

// Push feeds the stream from r (an HTTP push body) until r ends. A push after
// an earlier one continues the stream behind a discontinuity. Only one push
// runs at a time (ErrPushBusy), and only on a stream without a Source
// (ErrNotPush). When it ends the stream is stalled until the next push.
func (in *Ingest) Push(ctx context.Context, r io.Reader) error {
	if in.cfg.Source != nil {
		return fmt.Errorf("origin: ingest %q: %w", in.cfg.Name, ErrNotPush)
	}
	if !in.pushing.CompareAndSwap(false, true) {
		return fmt.Errorf("origin: ingest %q: %w", in.cfg.Name, ErrPushBusy)
	}
	defer in.pushing.Store(false)
	in.smu.Lock()
	if in.pushes > 0 {
		in.st.Restarts++
	}
	in.pushes++
	in.gap = 0
	in.smu.Unlock()
	in.log.Info("origin: push started")

	buf := make([]byte, 32<<10)
	var n int64
	var err error
	for ctx.Err() == nil {
		k, rerr := r.Read(buf)
		if k > 0 {
			in.write(buf[:k])
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	in.cmu.Lock()
	in.chunker.Discontinuity()
	in.cmu.Unlock()
	msg := ""
	if err != nil {
		err = fmt.Errorf("origin: ingest %q: push: %w", in.cfg.Name, err)
		msg = err.Error()
	}
	in.setState(StateStalled, msg)
	in.log.Info("origin: push ended", "bytes", n, "err", err)
	return err
}

// write feeds stream bytes to the chunker and marks the stream live.
func (in *Ingest) write(p []byte) {
	in.cmu.Lock()
	in.chunker.Write(p)
	in.cmu.Unlock()
	now := in.now()
	in.smu.Lock()
	in.st.Bytes += int64(len(p))
	in.lastBytes = now
	if in.st.State != StateLive {
		in.setStateLocked(StateLive, "", now)
	}
	in.smu.Unlock()
}

func (in *Ingest) beginAttempt(cancel context.CancelCauseFunc) {
	in.smu.Lock()
	defer in.smu.Unlock()
	in.cancelAttempt = cancel
	in.attemptStart = in.now()
	in.gap = 0
	in.setStateLocked(StateConnecting, "", in.attemptStart)
}

func (in *Ingest) endAttempt() {
	in.smu.Lock()
	in.cancelAttempt = nil
	in.smu.Unlock()
}

func (in *Ingest) setState(s IngestState, errMsg string) {
	now := in.now()
	in.smu.Lock()
	in.setStateLocked(s, errMsg, now)
	in.smu.Unlock()
}

func (in *Ingest) setStateLocked(s IngestState, errMsg string, now time.Time) {
	if errMsg != "" {
		in.st.Err = errMsg
	}
	if s == StateLive {
		in.st.Err = ""
	}
	if s == in.st.State {
		return
	}
	in.log.Info("origin: ingest state", "from", in.st.State, "to", s)
	in.st.State = s
	in.st.Since = now
}

// watch ticks the chunker and checks for stalls until ctx is done.
func (in *Ingest) watch(ctx context.Context) {
	every := max(min(in.cfg.Chunker.MaxDuration/2, in.cfg.StallAfter/4), 5*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			in.tick()
		}
	}
}

func (in *Ingest) tick() {
	in.cmu.Lock()
	in.chunker.Tick()
	in.cmu.Unlock()
	now := in.now()
	in.smu.Lock()
	defer in.smu.Unlock()
	if in.st.State == StateLive && now.Sub(in.lastBytes) >= max(in.cfg.StallAfter, in.gap) {
		in.setStateLocked(StateStalled, "", now)
	}
	if in.cancelAttempt != nil {
		last := in.attemptStart
		if in.lastBytes.After(last) {
			last = in.lastBytes
		}
		if now.Sub(last) >= max(in.cfg.RestartAfter, 3*in.gap) {
			in.cancelAttempt(ErrSourceIdle)
			in.cancelAttempt = nil
		}
	}
}

// attemptWriter is the SourceWriter of one pull attempt.
type attemptWriter struct {
	in    *Ingest
	wrote atomic.Bool
}

func (w *attemptWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.wrote.Store(true)
		w.in.write(p)
	}
	return len(p), nil
}

func (w *attemptWriter) Discontinuity() {
	w.in.cmu.Lock()
	w.in.chunker.Discontinuity()
	w.in.cmu.Unlock()
}

// Span tells the chunker that the next n bytes play over d (see
// Chunker.Span).
func (w *attemptWriter) Span(d time.Duration, n int) {
	w.in.cmu.Lock()
	w.in.chunker.Span(d, n)
	w.in.cmu.Unlock()
}

func (w *attemptWriter) ExpectGap(d time.Duration) {
	w.in.smu.Lock()
	w.in.gap = max(d, 0)
	w.in.smu.Unlock()
}

// sleepCtx waits d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
