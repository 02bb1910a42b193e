package node

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/transport/udp"
	"github.com/shoalstream/shoal/internal/wire"
)

// ErrStopped is returned by Call and Post once the driver has stopped.
var ErrStopped = errors.New("node: driver stopped")

// batchLen is how many datagrams the driver hands the Conn per SendBatch.
const batchLen = 64

// DriverConfig configures a Driver.
type DriverConfig struct {
	// Conn carries the engine's datagrams; the Driver does not close it.
	Conn *udp.Conn
	// Engine is owned by the Driver's goroutine from Run on.
	Engine *core.Engine
	// Start is the wall-clock instant of engine time zero.
	Start time.Time
	// OnEvent gets every engine event on the engine's goroutine; it may call
	// the engine directly and must not block.
	OnEvent func(now time.Duration, e *core.Engine, ev core.Event)
	// OnSend, when set, sees every datagram before it is sent (to count it
	// against a budget, or to alter it for tests).
	OnSend func(to netip.AddrPort, b []byte)
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Driver runs one engine against one UDP Conn.
type Driver struct {
	cfg  DriverConfig
	e    *core.Engine
	log  *slog.Logger
	cmds chan func(now time.Duration, e *core.Engine)
	done chan struct{}

	txBufs [batchLen][]byte
	txMsgs [batchLen]udp.Message
}

// NewDriver returns a Driver; call Run to start it.
func NewDriver(cfg DriverConfig) *Driver {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now()
	}
	d := &Driver{cfg: cfg, e: cfg.Engine, log: cfg.Logger,
		cmds: make(chan func(time.Duration, *core.Engine), 1024),
		done: make(chan struct{}),
	}
	for i := range d.txBufs {
		d.txBufs[i] = make([]byte, 0, udp.MaxPayload)
	}
	return d
}

// now is the engine time: monotonic time since Start.
func (d *Driver) now() time.Duration { return time.Since(d.cfg.Start) }

// Post queues f to run on the engine's goroutine without waiting for it.
func (d *Driver) Post(ctx context.Context, f func(now time.Duration, e *core.Engine)) error {
	select {
	case d.cmds <- f:
		return nil
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call runs f on the engine's goroutine and waits until it returned.
func (d *Driver) Call(ctx context.Context, f func(now time.Duration, e *core.Engine)) error {
	ran := make(chan struct{})
	if err := d.Post(ctx, func(now time.Duration, e *core.Engine) { f(now, e); close(ran) }); err != nil {
		return err
	}
	select {
	case <-ran:
		return nil
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when Run has returned.
func (d *Driver) Done() <-chan struct{} { return d.done }

// Run drives the engine until ctx ends, then closes the engine, sends its
// goodbyes and returns. The caller closes the Conn afterwards. Datagrams
// come straight from the Conn's reader, a decrypted run at a time, with no
// goroutine or copy between it and the engine.
func (d *Driver) Run(ctx context.Context) {
	defer close(d.done)
	inbox := d.cfg.Conn.Inbox()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.flush()
		now := d.now()
		wait := d.e.NextDeadline() - now
		if wait <= 0 {
			d.e.HandleTimeout(now)
			d.flush()
			if wait = d.e.NextDeadline() - d.now(); wait <= 0 {
				wait = 200 * time.Microsecond // paced: try again shortly
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			d.e.Close(d.now())
			d.flush()
			return
		case in := <-inbox:
			now := d.now()
			for i := range in.Msgs {
				m := &in.Msgs[i]
				d.e.HandleDatagram(now, m.Addr, m.Buf)
			}
			d.cfg.Conn.Release(in)
		case f := <-d.cmds:
			f(d.now(), d.e)
		case <-timer.C:
			d.e.HandleTimeout(d.now())
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// flush sends what the engine wants sent and hands its events on, until it
// has neither.
func (d *Driver) flush() {
	for {
		n := 0
		for n < batchLen {
			to, dg, ok := d.e.PollTransmit(d.txBufs[n][:0])
			if !ok {
				break
			}
			if d.cfg.OnSend != nil {
				d.cfg.OnSend(to, dg)
			}
			d.txMsgs[n] = udp.Message{Addr: to, Buf: dg}
			n++
		}
		for sent := 0; sent < n; {
			k, err := d.cfg.Conn.SendBatch(d.txMsgs[sent:n])
			sent += k
			if err != nil {
				d.log.Debug("udp send", "to", d.txMsgs[sent].Addr, "err", err)
				sent++ // drop the one that failed
			}
		}
		events := 0
		for {
			ev, ok := d.e.PollEvent()
			if !ok {
				break
			}
			events++
			if d.cfg.OnEvent != nil {
				d.cfg.OnEvent(d.now(), d.e, ev)
			}
		}
		if n < batchLen && events == 0 {
			return
		}
	}
}

// CorruptData flips a byte of every Data payload in a plaintext datagram:
// a peer that lies about its chunks, for tests of banning.
func CorruptData(b []byte) {
	_, off, err := wire.ParseHeader(b)
	if err != nil {
		return
	}
	var m wire.Data
	for off < len(b) {
		t, err := wire.PeekType(b[off:])
		if err != nil {
			return
		}
		n, err := wire.SkipFrame(b[off:])
		if err != nil || n <= 0 {
			return
		}
		if t == wire.TypeData {
			if _, err := m.Parse(b[off : off+n]); err == nil && len(m.Payload) > 0 {
				m.Payload[len(m.Payload)/2] ^= 0x5a
			}
		}
		off += n
	}
}
