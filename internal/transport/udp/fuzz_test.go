package udp

import (
	"bytes"
	"testing"
)

// parser is implemented by every wire message.
type parser interface {
	Append([]byte) []byte
	Parse([]byte) (int, error)
}

// FuzzPacket feeds arbitrary bytes to the receive path of two Conns that
// share a session. Nothing may panic, every message that parses must
// re-encode to the same bytes, no forged datagram may be delivered, and
// the session must still carry traffic afterwards.
func FuzzPacket(f *testing.F) {
	n := newMemNet(f)
	a := n.add(addrA, mustIdentity(f), Options{})
	b := n.add(addrB, mustIdentity(f), Options{})
	a.Send(ap(addrB), []byte("hello"))
	for _, p := range n.take() {
		f.Add(p.b) // init
		n.deliver(p)
	}
	for range 3 {
		for _, p := range n.take() {
			f.Add(p.b) // response, then finish and data
			n.deliver(p)
		}
	}
	b.Send(ap(addrA), []byte("hi there"))
	for _, p := range n.take() {
		f.Add(p.b)
		n.deliver(p)
	}
	sa := a.peers[ap(addrB)].cur
	f.Add((&resetMsg{receiverIndex: sa.remoteIndex}).Append(nil))
	f.Add([]byte{})
	f.Add([]byte{typeData})
	f.Add(make([]byte, MaxPacketSize+1))
	if len(received(a)) != 1 || len(received(b)) != 1 {
		f.Fatal("setup: session not established")
	}
	if b.Stats().HandshakesCompleted != 1 {
		f.Fatal("setup: no handshake")
	}

	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, m := range []parser{&initMsg{}, &responseMsg{}, &finishMsg{}, &dataMsg{}, &resetMsg{}} {
			if _, err := m.Parse(pkt); err == nil {
				if out := m.Append(nil); !bytes.Equal(out, pkt) {
					t.Fatalf("%T: Append(Parse(b)) = %x, want %x", m, out, pkt)
				}
			}
		}
		for _, p := range []memPacket{
			{from: ap(addrA), to: ap(addrB), b: pkt},
			{from: ap(addrB), to: ap(addrA), b: pkt},
			{from: ap(addrC), to: ap(addrB), b: pkt},
		} {
			n.deliver(p)
		}
		if got := received(a); len(got) != 0 {
			t.Fatalf("A delivered a forged datagram %q", got[0].Buf)
		}
		if got := received(b); len(got) != 0 {
			t.Fatalf("B delivered a forged datagram %q", got[0].Buf)
		}
		// Whatever the input did, traffic between A and B still flows.
		n.take()
		a.Send(ap(addrB), []byte("probe"))
		n.pump(func(p memPacket) bool { return p.to != ap(addrC) })
		if got := received(b); len(got) != 1 || string(got[0].Buf) != "probe" || got[0].Peer != a.Identity().PeerID() {
			t.Fatalf("after the input B received %v", got)
		}
		received(a)
	})
}
