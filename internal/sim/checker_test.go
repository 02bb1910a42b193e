package sim

import (
	"hash/fnv"
	"net/netip"
	"testing"
	"time"
)

type checkEP struct {
	Endpoint
	sent map[uint64]int
	t    *testing.T
	bad  *int
}

func h64(b []byte) uint64 { f := fnv.New64a(); f.Write(b); return f.Sum64() }

func (c *checkEP) PollTransmit(buf []byte) (netip.AddrPort, []byte, bool) {
	to, b, ok := c.Endpoint.PollTransmit(buf)
	if ok {
		c.sent[h64(b)]++
	}
	return to, b, ok
}
func (c *checkEP) HandleDatagram(now time.Duration, from netip.AddrPort, b []byte) {
	if c.sent[h64(b)] == 0 {
		*c.bad++
	}
	c.Endpoint.HandleDatagram(now, from, b)
}

// TestNetworkDeliversWhatWasSent checks, outside the system under test, that
// every datagram an engine receives is one that an engine sent, unaltered.
func TestNetworkDeliversWhatWasSent(t *testing.T) {
	opt := DefaultOptions("live-steady")
	opt.Peers = 20
	opt.Duration = 20 * time.Second
	sent := map[uint64]int{}
	bad := 0
	wrap = func(ep Endpoint) Endpoint { return &checkEP{Endpoint: ep, sent: sent, t: t, bad: &bad} }
	defer func() { wrap = nil }()
	if _, err := Simulate(opt); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d datagrams were received that no engine sent", bad)
	}
}
