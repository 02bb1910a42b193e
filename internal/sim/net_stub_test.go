package sim

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"time"
)

// scriptEP is an endpoint driven by the test: it sends what the test queues,
// records what it receives and fires at the deadlines the test sets.
type scriptEP struct {
	out       []scriptDatagram
	recv      []scriptDatagram
	deadlines []time.Duration // ascending; the first is NextDeadline
	fired     []time.Duration
	// onRecv, if set, runs inside HandleDatagram.
	onRecv func(now time.Duration, from netip.AddrPort, b []byte)
}

type scriptDatagram struct {
	at      time.Duration // receive time (recv only)
	peer    netip.AddrPort
	payload []byte
}

func (e *scriptEP) send(to netip.AddrPort, payload []byte) {
	e.out = append(e.out, scriptDatagram{peer: to, payload: payload})
}

func (e *scriptEP) HandleDatagram(now time.Duration, from netip.AddrPort, b []byte) {
	e.recv = append(e.recv, scriptDatagram{at: now, peer: from, payload: append([]byte(nil), b...)})
	if e.onRecv != nil {
		e.onRecv(now, from, b)
	}
}

func (e *scriptEP) HandleTimeout(now time.Duration) {
	e.fired = append(e.fired, now)
	for len(e.deadlines) > 0 && e.deadlines[0] <= now {
		e.deadlines = e.deadlines[1:]
	}
}

func (e *scriptEP) PollTransmit(buf []byte) (netip.AddrPort, []byte, bool) {
	if len(e.out) == 0 {
		return netip.AddrPort{}, nil, false
	}
	d := e.out[0]
	e.out = e.out[1:]
	return d.peer, append(buf[:0], d.payload...), true
}

func (e *scriptEP) NextDeadline() time.Duration {
	if len(e.deadlines) == 0 {
		return -1
	}
	return e.deadlines[0]
}

// stubEP sends sizeBytes datagrams to random peers, burst datagrams every
// interval, and answers each request with a short reply to its sender. It
// allocates nothing in steady state and hashes what it receives.
type stubEP struct {
	peers    *[]netip.AddrPort
	rng      rand.PCG
	interval time.Duration
	burst    int
	size     int
	reply    bool

	next    time.Duration
	pending int
	replies []netip.AddrPort
	seq     uint32

	received    int
	noPayload   bool   // neither write nor read payload bytes
	hashPayload bool   // hash every payload byte, not only the header
	trace       uint64 // FNV-1a over (now, from, payload)
}

func newStubEP(peers *[]netip.AddrPort, seed uint64, interval time.Duration, burst, size int, reply bool) *stubEP {
	e := &stubEP{peers: peers, interval: interval, burst: burst, size: size, reply: reply, trace: 14695981039346656037}
	e.rng.Seed(seed, 1)
	e.next = time.Duration(e.rng.Uint64() % uint64(interval)) // spread the first sends
	return e
}

func (e *stubEP) mix(v uint64) {
	for range 8 {
		e.trace ^= v & 0xff
		e.trace *= 1099511628211
		v >>= 8
	}
}

func (e *stubEP) HandleDatagram(now time.Duration, from netip.AddrPort, b []byte) {
	e.received++
	if e.noPayload {
		return
	}
	e.mix(uint64(now))
	a := from.Addr().As4()
	e.mix(uint64(binary.BigEndian.Uint32(a[:])))
	e.mix(uint64(len(b)))
	if !e.hashPayload && len(b) > 8 {
		b = b[:8]
	}
	for _, c := range b {
		e.trace ^= uint64(c)
		e.trace *= 1099511628211
	}
	if e.reply && len(b) > 0 && b[0] == 0 {
		e.replies = append(e.replies, from)
	}
}

func (e *stubEP) HandleTimeout(now time.Duration) {
	for e.next <= now {
		e.pending += e.burst
		e.next += e.interval
	}
}

func (e *stubEP) PollTransmit(buf []byte) (netip.AddrPort, []byte, bool) {
	if n := len(e.replies); n > 0 {
		to := e.replies[n-1]
		e.replies = e.replies[:n-1]
		b := append(buf[:0], 1, 0, 0, 0, 0)
		e.seq++
		binary.BigEndian.PutUint32(b[1:], e.seq)
		return to, b[:64], true
	}
	if e.pending == 0 {
		return netip.AddrPort{}, nil, false
	}
	e.pending--
	peers := *e.peers
	to := peers[e.rng.Uint64()%uint64(len(peers))]
	b := buf[:e.size]
	if e.noPayload {
		return to, b, true
	}
	b[0] = 0
	e.seq++
	binary.BigEndian.PutUint32(b[1:], e.seq)
	return to, b, true
}

func (e *stubEP) NextDeadline() time.Duration { return e.next }
