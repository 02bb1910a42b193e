package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

const (
	addrA = "10.0.0.1:1000"
	addrB = "10.0.0.2:2000"
	addrC = "10.0.0.3:3000"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// pair builds A and B on a memNet with a session, A as initiator.
func pair(t *testing.T, opts Options) (*memNet, *Conn, *Conn) {
	t.Helper()
	n := newMemNet(t)
	a := n.add(addrA, mustIdentity(t), opts)
	b := n.add(addrB, mustIdentity(t), opts)
	if err := a.Send(ap(addrB), []byte("hello")); err != nil {
		t.Fatal(err)
	}
	n.pump(nil)
	got := received(b)
	if len(got) != 1 || string(got[0].Buf) != "hello" {
		t.Fatalf("B received %v, want one hello", got)
	}
	return n, a, b
}

func TestHandshakeAndExchange(t *testing.T) {
	var evA, evB eventLog
	n := newMemNet(t)
	a := n.add(addrA, mustIdentity(t), Options{OnEvent: evA.add})
	b := n.add(addrB, mustIdentity(t), Options{OnEvent: evB.add})

	for i := range 3 {
		if err := a.Send(ap(addrB), fmt.Appendf(nil, "a%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing is sent in the clear: only the init is out before the handshake.
	if q := n.take(); len(q) != 1 || kindOf(q[0].b) != typeInit || len(q[0].b) != initPacketLen {
		t.Fatalf("before handshake: %d packets, want one init", len(q))
	} else {
		n.deliver(q[0])
	}
	n.pump(nil)

	got := received(b)
	if len(got) != 3 {
		t.Fatalf("B received %d datagrams, want 3", len(got))
	}
	for i, m := range got {
		if want := fmt.Sprintf("a%d", i); string(m.Buf) != want {
			t.Errorf("datagram %d = %q, want %q", i, m.Buf, want)
		}
		if m.Peer != a.Identity().PeerID() || m.Addr != ap(addrA) {
			t.Errorf("datagram %d from %v %v, want A", i, m.Addr, m.Peer)
		}
	}
	if err := b.Send(ap(addrA), []byte("back")); err != nil {
		t.Fatal(err)
	}
	if q := n.take(); len(q) != 1 || kindOf(q[0].b) != typeData || len(q[0].b) != 4+Overhead {
		t.Fatalf("B's reply: %d packets, want one data packet of %d bytes", len(q), 4+Overhead)
	} else {
		n.deliver(q[0])
	}
	if got := received(a); len(got) != 1 || string(got[0].Buf) != "back" || got[0].Peer != b.Identity().PeerID() {
		t.Fatalf("A received %v", got)
	}
	if id, ok := b.PeerID(ap(addrA)); !ok || id != a.Identity().PeerID() {
		t.Errorf("B.PeerID(A) = %v, %v", id, ok)
	}
	for _, c := range []*Conn{a, b} {
		st := c.Stats()
		if st.HandshakesStarted != 1 || st.HandshakesCompleted != 1 || st.Sessions != 1 {
			t.Errorf("%v stats %+v", c.LocalAddr(), st)
		}
	}
	if evA.count(SessionUp) != 1 || evB.count(SessionUp) != 1 {
		t.Errorf("events A %v B %v, want one up each", evA.all(), evB.all())
	}
}

func TestSimultaneousOpen(t *testing.T) {
	for i := range 8 { // each run draws new ephemerals, so either side may win
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			n := newMemNet(t)
			a := n.add(addrA, mustIdentity(t), Options{})
			b := n.add(addrB, mustIdentity(t), Options{})
			a.Send(ap(addrB), []byte("from a"))
			b.Send(ap(addrA), []byte("from b"))
			inits := n.take()
			if len(inits) != 2 {
				t.Fatalf("%d packets, want two inits", len(inits))
			}
			aSmaller := bytes.Compare(inits[0].b[5:37], inits[1].b[5:37]) < 0 // inits[0] is A's
			for _, p := range inits {
				n.deliver(p)
			}
			n.pump(nil)
			if got := received(b); len(got) != 1 || string(got[0].Buf) != "from a" {
				t.Fatalf("B received %v", got)
			}
			if got := received(a); len(got) != 1 || string(got[0].Buf) != "from b" {
				t.Fatalf("A received %v", got)
			}
			sa, sb := a.peers[ap(addrB)].cur, b.peers[ap(addrA)].cur
			if sa.initiator == sb.initiator || sa.initiator != aSmaller {
				t.Errorf("A initiator %v, B initiator %v; A's ephemeral smaller %v", sa.initiator, sb.initiator, aSmaller)
			}
			if a.Stats().HandshakesCompleted != 1 || b.Stats().HandshakesCompleted != 1 {
				t.Errorf("completed A %d B %d, want 1 each", a.Stats().HandshakesCompleted, b.Stats().HandshakesCompleted)
			}
		})
	}
}

func TestHandshakeRetransmitAndTimeout(t *testing.T) {
	n := newMemNet(t)
	a := n.add(addrA, mustIdentity(t), Options{})
	start := n.clock()
	a.Send(ap(addrB), []byte("x")) // nobody at B
	var sent []time.Duration
	var first []byte
	for n.clock().Sub(start) < 6*time.Second {
		for _, p := range n.take() {
			if kindOf(p.b) != typeInit {
				t.Fatalf("unexpected packet type %d", kindOf(p.b))
			}
			if first == nil {
				first = p.b
			} else if !bytes.Equal(p.b, first) {
				t.Errorf("retransmission differs from the first init")
			}
			sent = append(sent, n.clock().Sub(start))
		}
		n.advance(10*time.Millisecond, 10*time.Millisecond)
	}
	want := []time.Duration{0, 250 * time.Millisecond, 750 * time.Millisecond, 1750 * time.Millisecond, 3750 * time.Millisecond}
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("init sent at %v, want %v", sent, want)
	}
	st := a.Stats()
	if st.HandshakesTimedOut != 1 || st.Drops.Queue != 1 || st.Peers != 0 || a.queuedBytes != 0 || len(a.byIndex) != 0 {
		t.Errorf("after timeout: %+v, queued %d, indices %d", st, a.queuedBytes, len(a.byIndex))
	}
}

func TestHandshakeSurvivesLoss(t *testing.T) {
	tests := []struct {
		name string
		lose byte // the first packet of this type is lost
	}{
		{"init", typeInit},
		{"response", typeResponse},
		{"finish", typeFinish},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newMemNet(t)
			a := n.add(addrA, mustIdentity(t), Options{})
			b := n.add(addrB, mustIdentity(t), Options{})
			a.Send(ap(addrB), []byte("1"))
			lost := false
			keep := func(p memPacket) bool {
				if !lost && kindOf(p.b) == tt.lose {
					lost = true
					return false
				}
				return true
			}
			n.pump(keep)
			if !lost {
				t.Fatal("nothing was lost")
			}
			for i := 0; i < 100 && b.Stats().Sessions == 0; i++ {
				n.advance(50*time.Millisecond, 50*time.Millisecond)
				a.Send(ap(addrB), []byte("again"))
				n.pump(keep)
			}
			if b.Stats().Sessions != 1 || a.Stats().Sessions != 1 {
				t.Fatalf("sessions A %d B %d after loss of %s", a.Stats().Sessions, b.Stats().Sessions, tt.name)
			}
			// Recovered by repeating messages, not by a second handshake.
			if a.Stats().HandshakesStarted != 1 || b.Stats().HandshakesStarted != 1 {
				t.Errorf("handshakes started A %d B %d, want 1 each", a.Stats().HandshakesStarted, b.Stats().HandshakesStarted)
			}
			received(b)
			a.Send(ap(addrB), []byte("2"))
			n.pump(nil)
			if got := received(b); len(got) != 1 || string(got[0].Buf) != "2" {
				t.Fatalf("B received %v", got)
			}
		})
	}
}

func TestReplayAndReorder(t *testing.T) {
	n, a, b := pair(t, Options{})
	for i := range 10 {
		a.Send(ap(addrB), []byte{byte(i)})
	}
	q := n.take()
	for i := len(q) - 1; i >= 0; i-- { // reversed: reordered within the window
		n.deliver(q[i])
	}
	got := received(b)
	if len(got) != 10 {
		t.Fatalf("reordered: received %d of 10", len(got))
	}
	for i, m := range got {
		if m.Buf[0] != byte(9-i) {
			t.Fatalf("datagram %d carries %d, want %d", i, m.Buf[0], 9-i)
		}
	}
	for _, p := range q { // replayed
		n.deliver(p)
	}
	if got := received(b); len(got) != 0 {
		t.Fatalf("replay delivered %d datagrams", len(got))
	}
	if d := b.Stats().Drops.Replay; d != 10 {
		t.Errorf("replay drops %d, want 10", d)
	}

	// One packet held back while the window moves past it is refused.
	a.Send(ap(addrB), []byte("late"))
	late := n.take()[0]
	for range replayWindow + 1 {
		a.Send(ap(addrB), nil)
	}
	n.pump(nil)
	received(b)
	n.deliver(late)
	if got := received(b); len(got) != 0 {
		t.Fatalf("a packet behind the window was delivered")
	}
	if d := b.Stats().Drops.Replay; d != 11 {
		t.Errorf("replay drops %d, want 11", d)
	}
}

func TestForgedPacketsDropped(t *testing.T) {
	n, a, b := pair(t, Options{})
	sb := b.peers[ap(addrA)].cur
	// A data packet naming B's session but sealed with another key.
	rogue := &session{remoteIndex: sb.localIndex}
	rogue.sendCounter.Store(1000)
	rogue.send = cipherSuite.Cipher([32]byte{1, 2, 3})
	pkt, _ := rogue.seal(nil, []byte("forged"))
	n.deliver(memPacket{from: ap(addrA), to: ap(addrB), b: pkt})
	n.deliver(memPacket{from: ap(addrC), to: ap(addrB), b: pkt})
	// A genuine packet with one bit flipped.
	a.Send(ap(addrB), []byte("genuine"))
	good := n.take()[0]
	for i := range good.b {
		if i < 5 {
			continue // type and index flips are counted elsewhere
		}
		bad := bytes.Clone(good.b)
		bad[i] ^= 0x40
		n.deliver(memPacket{from: ap(addrA), to: ap(addrB), b: bad})
	}
	if got := received(b); len(got) != 0 {
		t.Fatalf("forged datagrams delivered: %v", got)
	}
	if d := b.Stats().Drops.Auth; d != uint64(2+len(good.b)-5) {
		t.Errorf("auth drops %d, want %d", d, 2+len(good.b)-5)
	}
	if b.peers[ap(addrA)].addr != ap(addrA) {
		t.Errorf("a forged packet moved the session")
	}
	n.deliver(good)
	if got := received(b); len(got) != 1 {
		t.Fatalf("the genuine packet was not delivered after the forgeries")
	}
}

func TestForgedHandshakeMessages(t *testing.T) {
	tests := []struct {
		name   string
		target byte // forge a packet of this type before the real one arrives
	}{
		{"response", typeResponse},
		{"finish", typeFinish},
	}
	for _, tt := range tests {
		for _, lowOrder := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/zero-key=%v", tt.name, lowOrder), func(t *testing.T) {
				n := newMemNet(t)
				a := n.add(addrA, mustIdentity(t), Options{})
				b := n.add(addrB, mustIdentity(t), Options{})
				a.Send(ap(addrB), []byte("x"))
				forged := false
				n.pump(func(p memPacket) bool {
					if kindOf(p.b) == tt.target && !forged {
						forged = true
						f := bytes.Clone(p.b)
						body := f[1+indexLen:] // the finish's Noise bytes
						if tt.target == typeResponse {
							body = f[1+2*indexLen:]
						}
						for i := range body {
							if lowOrder && i < keyLen {
								body[i] = 0
							} else {
								body[i] ^= 0x5a
							}
						}
						n.deliver(memPacket{from: p.from, to: p.to, b: f})
					}
					return true
				})
				if !forged {
					t.Fatal("no packet forged")
				}
				if got := received(b); len(got) != 1 {
					t.Fatalf("B received %d datagrams, want 1", len(got))
				}
				if d := a.Stats().Drops.Handshake + b.Stats().Drops.Handshake; d != 1 {
					t.Errorf("handshake drops %d, want 1", d)
				}
			})
		}
	}
}

func TestRestartedPeer(t *testing.T) {
	tests := []struct {
		name       string
		newAddr    string
		sameID     bool
		restartedB bool // B sends first after restarting, else A does
	}{
		{"same port, peer speaks first", addrB, true, true},
		{"same port, we speak first", addrB, true, false},
		{"new port", "10.0.0.2:2001", true, true},
		{"same port, new identity", addrB, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev eventLog
			n := newMemNet(t)
			a := n.add(addrA, mustIdentity(t), Options{OnEvent: ev.add})
			idB := mustIdentity(t)
			b := n.add(addrB, idB, Options{})
			a.Send(ap(addrB), []byte("before"))
			n.pump(nil)
			received(b)
			b.Close()
			delete(n.conns, ap(addrB))
			if !tt.sameID {
				idB = mustIdentity(t)
			}
			b2 := n.add(tt.newAddr, idB, Options{})
			if tt.restartedB {
				b2.Send(ap(addrA), []byte("b2"))
			} else {
				a.Send(ap(tt.newAddr), []byte("lost")) // sealed for the old session
				for range 2 {                          // data to B2, its reset to A
					for _, p := range n.take() {
						n.deliver(p)
					}
				}
				a.Send(ap(tt.newAddr), []byte("held")) // held for the new session
			}
			n.pump(nil)
			if tt.restartedB {
				got := received(a)
				if len(got) != 1 || got[0].Peer != idB.PeerID() || got[0].Addr != ap(tt.newAddr) {
					t.Fatalf("A received %v", got)
				}
			}
			a.Send(ap(tt.newAddr), []byte("after"))
			n.pump(nil)
			var texts []string
			for _, m := range received(b2) {
				texts = append(texts, string(m.Buf))
			}
			want := "[after]"
			if !tt.restartedB {
				want = "[held after]"
			}
			if fmt.Sprint(texts) != want {
				t.Errorf("B2 received %v, want %s", texts, want)
			}
			if !tt.restartedB && (b2.Stats().ResetsSent == 0 || a.Stats().ResetsReceived == 0) {
				t.Errorf("no reset was exchanged")
			}
			ups, downs := ev.count(SessionUp), ev.count(SessionDown)
			wantDowns := 0
			if !tt.sameID && tt.newAddr == addrB {
				wantDowns = 1 // a different peer now holds the address
			}
			if ups != 2 || downs != wantDowns {
				t.Errorf("events %v: want 2 up, %d down", ev.all(), wantDowns)
			}
		})
	}
}

func TestResetIsOnlyAHint(t *testing.T) {
	n, a, b := pair(t, Options{})
	sa := a.peers[ap(addrB)].cur
	// A reset from a stranger, or naming the wrong index, changes nothing.
	for _, p := range []memPacket{
		{from: ap(addrC), to: ap(addrA), b: (&resetMsg{receiverIndex: sa.remoteIndex}).Append(nil)},
		{from: ap(addrB), to: ap(addrA), b: (&resetMsg{receiverIndex: sa.remoteIndex + 1}).Append(nil)},
	} {
		n.deliver(p)
	}
	if len(n.take()) != 0 || sa.stale {
		t.Fatal("an inapplicable reset had an effect")
	}
	// A forged but applicable reset costs a handshake, not the session:
	// B's traffic on the old session still arrives meanwhile.
	n.deliver(memPacket{from: ap(addrB), to: ap(addrA), b: (&resetMsg{receiverIndex: sa.remoteIndex}).Append(nil)})
	init := n.take()
	if len(init) != 1 || kindOf(init[0].b) != typeInit {
		t.Fatalf("reset did not start a handshake")
	}
	b.Send(ap(addrA), []byte("still here"))
	n.pump(nil)
	if got := received(a); len(got) != 1 {
		t.Fatalf("old session stopped receiving")
	}
	n.deliver(init[0])
	n.pump(nil)
	a.Send(ap(addrB), []byte("new"))
	n.pump(nil)
	if got := received(b); len(got) != 1 || string(got[0].Buf) != "new" {
		t.Fatalf("B received %v", got)
	}
}

func TestRoaming(t *testing.T) {
	var ev eventLog
	n := newMemNet(t)
	a := n.add(addrA, mustIdentity(t), Options{})
	b := n.add(addrB, mustIdentity(t), Options{OnEvent: ev.add})
	a.Send(ap(addrB), []byte("1"))
	n.pump(nil)
	received(b)
	a.Send(ap(addrB), []byte("old"))
	old := n.take()[0] // overtaken by newer packets from the new address
	n.move(a, "192.0.2.7:4000")
	a.Send(ap(addrB), []byte("2"))
	n.pump(nil)
	n.deliver(old)
	got := received(b)
	if len(got) != 2 || got[0].Addr != ap("192.0.2.7:4000") || got[1].Addr != ap("192.0.2.7:4000") {
		t.Fatalf("B received %v, want two datagrams from the new address", got)
	}
	if _, ok := b.PeerID(ap(addrA)); ok {
		t.Error("old address still has a session")
	}
	if id, ok := b.PeerID(ap("192.0.2.7:4000")); !ok || id != a.Identity().PeerID() {
		t.Error("new address has no session")
	}
	b.Send(ap("192.0.2.7:4000"), []byte("3"))
	n.pump(nil)
	if got := received(a); len(got) != 1 || string(got[0].Buf) != "3" {
		t.Fatalf("A received %v", got)
	}
	if ev.count(SessionMoved) != 1 || b.Stats().HandshakesCompleted != 1 {
		t.Errorf("events %v, handshakes %d", ev.all(), b.Stats().HandshakesCompleted)
	}
}

func TestIdleTimeout(t *testing.T) {
	var ev eventLog
	opts := Options{IdleTimeout: 2 * time.Second, OnEvent: ev.add}
	n, a, b := pair(t, opts)
	n.advance(1500*time.Millisecond, 100*time.Millisecond)
	a.Send(ap(addrB), []byte("keep"))
	n.pump(nil)
	received(b)
	n.advance(1500*time.Millisecond, 100*time.Millisecond)
	if a.Stats().Sessions != 1 || b.Stats().Sessions != 1 {
		t.Fatal("a session with recent traffic was forgotten")
	}
	n.advance(2500*time.Millisecond, 100*time.Millisecond)
	if a.Stats().Peers != 0 || b.Stats().Peers != 0 || len(a.byIndex) != 0 {
		t.Fatalf("idle sessions kept: A %+v", a.Stats())
	}
	if ev.count(SessionDown) != 2 {
		t.Errorf("events %v, want two downs", ev.all())
	}
	a.Send(ap(addrB), []byte("again"))
	n.pump(nil)
	if got := received(b); len(got) != 1 || a.Stats().HandshakesCompleted != 2 {
		t.Fatalf("no new session after idle: received %v", got)
	}
}

func TestQueueBounds(t *testing.T) {
	n := newMemNet(t)
	a := n.add(addrA, mustIdentity(t), Options{QueueLen: 8})
	b := n.add(addrB, mustIdentity(t), Options{})
	for i := range 20 {
		a.Send(ap(addrB), []byte{byte(i)})
	}
	if st := a.Stats(); st.Drops.Queue != 12 || a.queuedBytes != 8 {
		t.Fatalf("drops %d, queued %d bytes; want 12, 8", st.Drops.Queue, a.queuedBytes)
	}
	n.pump(nil)
	got := received(b)
	if len(got) != 8 || got[0].Buf[0] != 12 || got[7].Buf[0] != 19 {
		t.Fatalf("B received %v, want the newest 8", got)
	}

	// The total bound holds across peers.
	c := n.add(addrC, mustIdentity(t), Options{MaxQueuedBytes: 3 * MaxPayload})
	big := make([]byte, MaxPayload)
	for i := range 5 {
		c.Send(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 9), big)
	}
	if c.queuedBytes != 3*MaxPayload || c.Stats().Drops.Queue != 2 {
		t.Errorf("queued %d bytes, %d drops; want %d, 2", c.queuedBytes, c.Stats().Drops.Queue, 3*MaxPayload)
	}
}

func TestMaxPeers(t *testing.T) {
	n := newMemNet(t)
	a := n.add(addrA, mustIdentity(t), Options{MaxPeers: 2})
	var errs []error
	for i := range 3 {
		errs = append(errs, a.Send(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 9), nil))
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrPeerLimit) {
		t.Errorf("errors %v, want nil nil ErrPeerLimit", errs)
	}
	n.take()
	b := n.add(addrB, mustIdentity(t), Options{})
	b.Send(ap(addrA), nil)
	n.pump(nil)
	if st := a.Stats(); st.Drops.PeerLimit != 1 || st.Peers != 2 {
		t.Errorf("drops %d peers %d; want 1, 2", st.Drops.PeerLimit, st.Peers)
	}
}

func TestMalformedPackets(t *testing.T) {
	n, _, b := pair(t, Options{})
	sb := b.peers[ap(addrA)].cur
	tests := []struct {
		name   string
		pkt    []byte
		reason func(Drops) uint64
	}{
		{"empty", nil, func(d Drops) uint64 { return d.Malformed }},
		{"unknown type", []byte{9, 1, 2, 3}, func(d Drops) uint64 { return d.Malformed }},
		{"short data", make([]byte, Overhead-1), func(d Drops) uint64 { return d.Malformed }},
		{"oversized data", append([]byte{typeData}, make([]byte, MaxPacketSize)...), func(d Drops) uint64 { return d.Malformed }},
		{"short init", []byte{typeInit, 1, 2, 3, 4}, func(d Drops) uint64 { return d.Malformed }},
		{"long finish", append([]byte{typeFinish}, make([]byte, finishPacketLen)...), func(d Drops) uint64 { return d.Malformed }},
		{"unknown index", (&dataMsg{receiverIndex: sb.localIndex + 1, sealed: make([]byte, tagLen)}).Append(nil), func(d Drops) uint64 { return d.UnknownIndex }},
		{"response to unknown index", (&responseMsg{receiverIndex: sb.localIndex + 1, noise: make([]byte, responseNoiseLen)}).Append(nil), func(d Drops) uint64 { return d.UnknownIndex }},
		{"finish for a session", (&finishMsg{receiverIndex: sb.localIndex, noise: make([]byte, finishNoiseLen)}).Append(nil), func(d Drops) uint64 { return d.Handshake }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "short data" {
				tt.pkt[0] = typeData
			}
			before := tt.reason(b.Stats().Drops)
			n.deliver(memPacket{from: ap(addrA), to: ap(addrB), b: tt.pkt})
			if after := tt.reason(b.Stats().Drops); after != before+1 {
				t.Errorf("counter went from %d to %d", before, after)
			}
			if got := received(b); len(got) != 0 {
				t.Errorf("delivered %v", got)
			}
		})
	}
}
