package udp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestInboxRunsAndBound sends datagrams to a Conn whose consumer reads
// Inbox: every datagram arrives once, in order, with its sender; datagrams
// held and not released count against RecvQueueLen, and those past it are
// dropped and counted, not queued.
func TestInboxRunsAndBound(t *testing.T) {
	const limit = 40
	a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	b := listen(t, "127.0.0.1:0", mustIdentity(t), Options{RecvQueueLen: limit})
	send := func(from, n int) {
		t.Helper()
		msgs := make([]Message, n)
		for i := range msgs {
			msgs[i] = Message{Addr: b.LocalAddr(), Buf: fmt.Appendf(nil, "%06d", from+i)}
		}
		if k, err := a.SendBatch(msgs); k != n || err != nil {
			t.Fatalf("SendBatch = %d, %v", k, err)
		}
	}
	// take reads runs until want datagrams, keeping (not releasing) them
	take := func(want int) (held []*Inbound, got []string) {
		t.Helper()
		timeout := time.After(waitLimit)
		for len(got) < want {
			select {
			case in := <-b.Inbox():
				if len(in.Msgs) == 0 || len(in.Msgs) > inboundLen {
					t.Fatalf("a run of %d datagrams", len(in.Msgs))
				}
				for _, m := range in.Msgs {
					if m.Addr != a.LocalAddr() || m.Peer != a.Identity().PeerID() || m.N != len(m.Buf) {
						t.Fatalf("datagram %q from %v (%v), N %d", m.Buf, m.Addr, m.Peer, m.N)
					}
					got = append(got, string(m.Buf))
				}
				held = append(held, in)
			case <-timeout:
				t.Fatalf("received %d of %d", len(got), want)
			}
		}
		return held, got
	}
	send(0, 1) // the handshake holds what waits for it
	held, got := take(1)
	send(1, limit-1)
	more, rest := take(limit - 1)
	held, got = append(held, more...), append(got, rest...)
	for i, s := range got {
		if s != fmt.Sprintf("%06d", i) {
			t.Fatalf("datagram %d is %q", i, s)
		}
	}
	// the queue is full of held runs: what comes now is dropped
	send(limit, 10)
	deadline := time.Now().Add(waitLimit)
	for b.Stats().Drops.RecvQueue < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("drops %+v, want 10 RecvQueue", b.Stats().Drops)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case in := <-b.Inbox():
		t.Fatalf("a run of %d past the bound", len(in.Msgs))
	default:
	}
	// released, the room comes back
	for _, in := range held {
		b.Release(in)
	}
	send(limit+10, 5)
	_, got = take(5)
	if got[0] != fmt.Sprintf("%06d", limit+10) {
		t.Errorf("after release got %q first", got[0])
	}
	if st := b.Stats(); st.DatagramsIn != limit+5 || st.Drops.RecvQueue != 10 {
		t.Errorf("stats %+v", st)
	}
}

// TestInboxBoundsRuns: datagrams that come a read at a time make one
// Inbound each; a consumer holding them all caps them at maxRuns, however
// much room RecvQueueLen has left, so a slow consumer cannot pin an
// Inbound's worth of memory per datagram.
func TestInboxBoundsRuns(t *testing.T) {
	n := newMemNet(t)
	c := n.add("10.0.0.1:1000", mustIdentity(t), Options{RecvQueueLen: 4096})
	from := netip.MustParseAddrPort("10.0.0.2:1000")
	limit := int(c.maxRuns())
	if limit >= 4096 || limit < 16 {
		t.Fatalf("maxRuns %d for a queue of 4096", limit)
	}
	kept := 0
	for i := range limit + 10 {
		b := append(c.rxSlot(), byte(i))
		if c.push(from, PeerID{}, b) {
			kept++
		}
		c.flushInbound() // one datagram per read
	}
	if kept != limit || len(c.recvq) != limit {
		t.Fatalf("kept %d in %d runs, want %d", kept, len(c.recvq), limit)
	}
	in := <-c.Inbox()
	c.Release(in)
	if !c.push(from, PeerID{}, append(c.rxSlot(), 'x')) {
		t.Fatal("a released run did not make room")
	}
}

// TestInboxFullRunGoesAtOnce: a run is handed over as soon as it holds
// inboundLen datagrams, not only at the end of the read.
func TestInboxFullRunGoesAtOnce(t *testing.T) {
	n := newMemNet(t)
	c := n.add("10.0.0.1:1000", mustIdentity(t), Options{})
	from := netip.MustParseAddrPort("10.0.0.2:1000")
	for i := range inboundLen + 1 {
		if !c.push(from, PeerID{}, append(c.rxSlot(), byte(i))) {
			t.Fatalf("datagram %d dropped", i)
		}
		c.flushIfFull()
	}
	if len(c.recvq) != 1 || len(c.rx.Msgs) != 1 {
		t.Fatalf("%d runs handed over, %d collecting; want 1 full run and 1 collecting", len(c.recvq), len(c.rx.Msgs))
	}
	if in := <-c.Inbox(); len(in.Msgs) != inboundLen || in.Msgs[inboundLen-1].Buf[0] != byte(inboundLen-1) {
		t.Fatalf("run of %d", len(in.Msgs))
	}
}
