package udp

import (
	"bytes"
	"testing"
	"time"
)

// TestSendsRacingHandshake sends datagrams right after Listen, so that some
// are held for the handshake and some go out the moment it completes: none
// may reach the responder ahead of the handshake's finish, where it would
// be dropped. Many fresh pairs make the race likely on a busy machine.
func TestSendsRacingHandshake(t *testing.T) {
	sizes := []int{0, 1, 100, MaxPayload}
	for i := range 100 {
		a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
		b := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
		cb := collect(b)
		for _, size := range sizes {
			if err := a.Send(b.LocalAddr(), bytes.Repeat([]byte{1}, size)); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		deadline := time.After(waitLimit)
		for got < len(sizes) {
			select {
			case <-cb.ch:
				got++
			case <-deadline:
				t.Fatalf("pair %d: %d of %d datagrams arrived\nA %+v\nB %+v", i, got, len(sizes), a.Stats(), b.Stats())
			}
		}
		a.Close()
		b.Close()
	}
}
