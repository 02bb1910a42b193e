package core_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/wire"
)

// TestAckDelayIsReceiveTime checks the delay an Ack reports: the time the
// largest acknowledged datagram arrived minus its send time, not the time
// the Ack itself was written. Acks wait to be batched; counting that wait
// as path delay would make the sender's congestion control see a queue that
// is not there.
func TestAckDelayIsReceiveTime(t *testing.T) {
	f, vs := newLiveFixture(t, 3, 1, nil)
	v := vs[0]
	var acks, wrong int
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if from != v.addr {
			return b
		}
		_, ms, err := wire.ParseDatagram(b)
		if err != nil {
			t.Fatalf("viewer sent a datagram it cannot parse: %v", err)
		}
		for _, m := range ms {
			if a, ok := m.(*wire.Ack); ok {
				acks++
				// one clock for both engines and a fixed path latency
				if a.DelayUs != f.net.latency.Microseconds() {
					wrong++
					if wrong <= 3 {
						t.Errorf("ack at %v reports %dµs of delay, want the path's %dµs", f.net.now, a.DelayUs, f.net.latency.Microseconds())
					}
				}
			}
		}
		return b
	}
	f.produce(5 * time.Second)
	f.net.run(6 * time.Second)
	if acks < 50 {
		t.Fatalf("only %d acks in 5 s of stream", acks)
	}
	if wrong > 0 {
		t.Errorf("%d of %d acks report a wrong delay", wrong, acks)
	}
}
