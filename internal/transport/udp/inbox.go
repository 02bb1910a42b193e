package udp

import (
	"io"
	"net"
	"net/netip"
	"sync"
)

// inboundLen is how many datagrams one Inbound carries at most.
const inboundLen = 64

// Inbound is a run of decrypted datagrams that arrived together, handed
// over in one piece: the reader decrypts a whole read of the socket into
// one Inbound, so a consumer pays one channel receive and no copy per run
// instead of per datagram. Each Message's Addr, Peer, Buf and N are set;
// Buf belongs to the Inbound and is valid until Release.
type Inbound struct {
	Msgs []Message
	buf  [inboundLen * MaxPayload]byte
}

var inboundPool = sync.Pool{New: func() any { return &Inbound{Msgs: make([]Message, 0, inboundLen)} }}

// slot is the buffer the next datagram is decrypted into.
func (in *Inbound) slot() []byte {
	i := len(in.Msgs) * MaxPayload
	return in.buf[i : i : i+MaxPayload]
}

// Inbox delivers decrypted datagrams a run at a time; give each Inbound
// back with Release once its Msgs are handled. A Conn has one consumer:
// Inbox, or Recv and RecvBatch, not both.
func (c *Conn) Inbox() <-chan *Inbound { return c.recvq }

// Release gives back an Inbound received from Inbox; its datagrams stop
// counting against Options.RecvQueueLen.
func (c *Conn) Release(in *Inbound) {
	c.queued.Add(-int64(len(in.Msgs)))
	c.runs.Add(-1)
	in.Msgs = in.Msgs[:0]
	inboundPool.Put(in)
}

// rxSlot is the buffer the reader decrypts the next datagram into.
func (c *Conn) rxSlot() []byte {
	if c.rx == nil {
		c.rx = inboundPool.Get().(*Inbound)
	}
	return c.rx.slot()
}

// push adds the datagram just decrypted into rxSlot to the run being
// collected, and reports false (the datagram dropped) when RecvQueueLen
// datagrams already wait. Only the reading goroutine calls it.
func (c *Conn) push(from netip.AddrPort, peer PeerID, b []byte) bool {
	in := c.rx
	if c.queued.Load() >= int64(c.opts.RecvQueueLen) || len(in.Msgs) == 0 && c.runs.Load() >= c.maxRuns() {
		return false
	}
	in.Msgs = append(in.Msgs, Message{Addr: from, Peer: peer, Buf: b, N: len(b)})
	c.queued.Add(1)
	return true
}

// flushIfFull hands the run over once it holds inboundLen datagrams; the
// reader calls it after counting the last one, so Stats stay ahead of what
// the consumer sees.
func (c *Conn) flushIfFull() {
	if c.rx != nil && len(c.rx.Msgs) == inboundLen {
		c.flushInbound()
	}
}

// flushInbound hands the run collected so far to the consumer. The queue
// holds at most RecvQueueLen datagrams, so at most that many runs, and the
// send never blocks.
func (c *Conn) flushInbound() {
	if in := c.rx; in != nil && len(in.Msgs) > 0 {
		c.rx = nil
		c.runs.Add(1)
		c.recvq <- in
	}
}

// maxRuns bounds the Inbounds waiting, each of which holds room for
// inboundLen datagrams, so that a consumer that falls behind while reads
// come a datagram at a time holds a few MiB rather than RecvQueueLen
// Inbounds: four times the runs RecvQueueLen full ones would take.
func (c *Conn) maxRuns() int64 {
	return int64(max(16, 4*((c.opts.RecvQueueLen+inboundLen-1)/inboundLen)))
}

// next returns the next datagram for Recv and RecvBatch, waiting for one
// when wait is set; nil without wait means none is ready. Call with rmu
// held, and done after using the Message.
func (c *Conn) next(wait bool) (*Message, error) {
	if c.cur == nil {
		select {
		case <-c.done:
			return nil, net.ErrClosed
		default:
		}
		if wait {
			select {
			case c.cur = <-c.recvq:
			case <-c.done:
				return nil, net.ErrClosed
			}
		} else {
			select {
			case c.cur = <-c.recvq:
			default:
				return nil, nil
			}
		}
		c.curOff = 0
	}
	m := &c.cur.Msgs[c.curOff]
	c.curOff++
	return m, nil
}

// doneWith releases the current Inbound once next has returned all of it.
func (c *Conn) doneWith() {
	if c.cur != nil && c.curOff == len(c.cur.Msgs) {
		c.Release(c.cur)
		c.cur = nil
	}
}

// Recv waits for the next application datagram and copies it into buf. It
// returns net.ErrClosed once the Conn is closed, and io.ErrShortBuffer
// (with buf filled) when the datagram did not fit.
func (c *Conn) Recv(buf []byte) (from netip.AddrPort, peer PeerID, n int, err error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	m, err := c.next(true)
	if err != nil {
		return from, peer, 0, err
	}
	n = copy(buf, m.Buf)
	from, peer, short := m.Addr, m.Peer, n < m.N
	c.doneWith()
	if short {
		return from, peer, n, io.ErrShortBuffer
	}
	return from, peer, n, nil
}

// RecvBatch waits for at least one datagram, then fills as many of msgs as
// are ready without waiting. It returns the number filled.
func (c *Conn) RecvBatch(msgs []Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for n := range msgs {
		m, err := c.next(n == 0)
		if err != nil || m == nil {
			return n, err
		}
		out := &msgs[n]
		out.N = copy(out.Buf, m.Buf)
		out.Addr, out.Peer, out.Truncated = m.Addr, m.Peer, out.N < m.N
		c.doneWith()
	}
	return len(msgs), nil
}
