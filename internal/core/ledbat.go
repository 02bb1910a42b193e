package core

import (
	"time"

	"github.com/shoalstream/shoal/internal/wire"
)

// ledbat is one peer's sending side: packet numbers, bytes in flight, RTT
// and a LEDBAT congestion window (RFC 6817) with a slow start until the
// first sign of queuing, so a new relay reaches its rate in a few RTTs.
type ledbat struct {
	target time.Duration
	mss    float64
	burst  float64 // the window never shrinks below this for want of use

	cwnd      float64 // bytes
	inflight  int     // bytes
	slowStart bool

	nextPN uint64
	// sent[i] describes packet firstPN+i; a zero sentAt marks acked or lost.
	sent         []sentPacket
	firstPN      uint64
	largestAcked uint64
	anyAcked     bool

	srtt, rttvar, minRTT time.Duration
	// base delay: minimum one-way delay seen per bucket of baseBucket.
	baseMins  [baseBuckets]int64
	baseStart time.Duration
	baseIdx   int
	curDelays [4]int64
	curIdx    int
	curN      int
	lastCut   time.Duration // time of the last window reduction
	lostBytes int64
	lastAckAt time.Duration
	// waitingSince is when the first datagram sent after the last ack left;
	// valid while waiting.
	waitingSince time.Duration
	waiting      bool
}

type sentPacket struct {
	sentAt time.Duration
	size   int32
	live   bool
}

const (
	baseBuckets  = 10
	baseBucket   = 30 * time.Second
	minCwndMSS   = 2
	initCwndMSS  = 10
	reorderGap   = 3
	maxCwndBytes = 4 << 20
)

// newLEDBAT starts a window for datagrams of mss bytes that sends bursts of
// burst bytes (a chunk or two) whole, however idle the flow was before.
func newLEDBAT(target time.Duration, mss, burst int) ledbat {
	l := ledbat{target: target, mss: float64(mss), burst: float64(burst), cwnd: initCwndMSS * float64(mss), slowStart: true}
	for i := range l.baseMins {
		l.baseMins[i] = 1 << 62
	}
	return l
}

// canSend reports whether a datagram of size bytes fits the window.
func (l *ledbat) canSend(size int) bool {
	return float64(l.inflight+size) <= l.cwnd
}

// onSend records a congestion-controlled datagram and returns its number.
func (l *ledbat) onSend(now time.Duration, size int) uint64 {
	pn := l.nextPN
	l.nextPN++
	if len(l.sent) == 0 {
		l.firstPN = pn
	}
	l.sent = append(l.sent, sentPacket{sentAt: now, size: int32(size), live: true})
	l.inflight += size
	if !l.waiting {
		l.waiting, l.waitingSince = true, now
	}
	return pn
}

func (l *ledbat) rto() time.Duration {
	if l.srtt == 0 {
		return time.Second
	}
	r := l.srtt + 4*l.rttvar
	if r < 200*time.Millisecond {
		r = 200 * time.Millisecond
	}
	return r
}

// onAck processes an Ack frame at time now.
func (l *ledbat) onAck(now time.Duration, a *wire.Ack) {
	if len(a.Ranges) == 0 {
		return
	}
	largest := a.Ranges[len(a.Ranges)-1].End - 1
	if largest >= l.nextPN {
		return // acks something never sent: ignore the frame
	}
	l.waiting = false
	newlyAcked := 0
	var largestNewSentAt time.Duration
	largestNew := false
	for _, r := range a.Ranges {
		start, end := r.Start, r.End
		if end <= l.firstPN {
			continue
		}
		if start < l.firstPN {
			start = l.firstPN
		}
		for pn := start; pn < end; pn++ {
			p := &l.sent[pn-l.firstPN]
			if !p.live {
				continue
			}
			p.live = false
			l.inflight -= int(p.size)
			newlyAcked += int(p.size)
			if pn == largest {
				largestNew = true
				largestNewSentAt = p.sentAt
			}
		}
	}
	if !l.anyAcked || largest > l.largestAcked {
		l.largestAcked = largest
		l.anyAcked = true
	}
	if largestNew {
		l.rttSample(now - largestNewSentAt)
		l.delaySample(now, a.DelayUs)
	}
	l.detectLoss(now)
	if newlyAcked > 0 {
		l.lastAckAt = now
		l.grow(newlyAcked)
	}
	l.trim()
}

func (l *ledbat) rttSample(rtt time.Duration) {
	if rtt <= 0 {
		rtt = time.Microsecond
	}
	if l.minRTT == 0 || rtt < l.minRTT {
		l.minRTT = rtt
	}
	if l.srtt == 0 {
		l.srtt, l.rttvar = rtt, rtt/2
		return
	}
	d := l.srtt - rtt
	if d < 0 {
		d = -d
	}
	l.rttvar = (3*l.rttvar + d) / 4
	l.srtt = (7*l.srtt + rtt) / 8
}

func (l *ledbat) delaySample(now time.Duration, delayUs int64) {
	if now-l.baseStart >= baseBucket {
		l.baseStart = now
		l.baseIdx = (l.baseIdx + 1) % baseBuckets
		l.baseMins[l.baseIdx] = 1 << 62
	}
	if delayUs < l.baseMins[l.baseIdx] {
		l.baseMins[l.baseIdx] = delayUs
	}
	l.curDelays[l.curIdx] = delayUs
	l.curIdx = (l.curIdx + 1) % len(l.curDelays)
	if l.curN < len(l.curDelays) {
		l.curN++
	}
}

// queuingDelay is the current delay over the base delay.
func (l *ledbat) queuingDelay() time.Duration {
	if l.curN == 0 {
		return 0
	}
	base := int64(1 << 62)
	for _, m := range l.baseMins {
		base = min(base, m)
	}
	cur := int64(1 << 62)
	for i := 0; i < l.curN; i++ {
		cur = min(cur, l.curDelays[i])
	}
	return time.Duration(cur-base) * time.Microsecond
}

func (l *ledbat) grow(acked int) {
	q := l.queuingDelay()
	if l.slowStart {
		if q > l.target/2 {
			l.slowStart = false
		} else {
			l.cwnd += float64(acked)
			l.cwnd = min(l.cwnd, maxCwndBytes)
			return
		}
	}
	offTarget := float64(l.target-q) / float64(l.target)
	// RFC 6817 grows by at most one MSS per RTT, which takes tens of
	// seconds to reach a stream's rate on a 200 ms path; the gain scales
	// with the RTT so the window grows the same per unit of time on any
	// path (the decrease when queues build is unchanged).
	gain := 1.0
	if offTarget > 0 {
		gain = max(1, float64(l.srtt)/float64(25*time.Millisecond))
	}
	l.cwnd += gain * offTarget * float64(acked) * l.mss / l.cwnd
	// Never grow far beyond what is actually in flight (RFC 6817 2.4.1),
	// except up to a burst: a relay's flows are idle between chunks, and a
	// window clamped to its last idle moment would spread every chunk over
	// several round trips, each one a hop's worth of delay.
	if limit := max(float64(l.inflight)+4*l.mss, l.burst); l.cwnd > limit && offTarget > 0 {
		l.cwnd = max(limit, minCwndMSS*l.mss)
	}
	l.cwnd = max(min(l.cwnd, maxCwndBytes), minCwndMSS*l.mss)
}

// detectLoss declares lost the packets reorderGap below the largest acked.
func (l *ledbat) detectLoss(now time.Duration) {
	if !l.anyAcked {
		return
	}
	lost := false
	for i := range l.sent {
		pn := l.firstPN + uint64(i)
		if pn+reorderGap > l.largestAcked {
			break
		}
		p := &l.sent[i]
		if p.live {
			p.live = false
			l.inflight -= int(p.size)
			l.lostBytes += int64(p.size)
			lost = true
		}
	}
	if lost {
		l.congestion(now)
	}
}

// onTimer expires packets outstanding for longer than the RTO.
func (l *ledbat) onTimer(now time.Duration) {
	rto := l.rto()
	expired := false
	for i := range l.sent {
		p := &l.sent[i]
		if !p.live {
			continue
		}
		if now-p.sentAt < rto {
			break
		}
		p.live = false
		l.inflight -= int(p.size)
		l.lostBytes += int64(p.size)
		expired = true
	}
	if expired {
		l.slowStart = false
		l.cwnd = minCwndMSS * l.mss
		l.lastCut = now
	}
	l.trim()
}

func (l *ledbat) congestion(now time.Duration) {
	l.slowStart = false
	if now-l.lastCut < l.srtt {
		return // one reduction per round trip
	}
	l.lastCut = now
	// with no queue building up, a loss is more likely noise than
	// congestion: back off gently
	if l.queuingDelay() < l.target/4 {
		l.cwnd = max(l.cwnd*0.85, minCwndMSS*l.mss)
		return
	}
	l.cwnd = max(l.cwnd/2, minCwndMSS*l.mss)
}

// trim drops settled packets from the front of the record.
func (l *ledbat) trim() {
	i := 0
	for i < len(l.sent) && !l.sent[i].live {
		i++
	}
	if i == 0 {
		return
	}
	l.firstPN += uint64(i)
	n := copy(l.sent, l.sent[i:])
	l.sent = l.sent[:n]
	if n == 0 {
		l.firstPN = l.nextPN
	}
}

// oldestSent is when the oldest packet in flight left, or -1.
func (l *ledbat) oldestSent() time.Duration {
	for i := range l.sent {
		if l.sent[i].live {
			return l.sent[i].sentAt
		}
	}
	return -1
}

// rate estimates the bytes per second this window sustains.
func (l *ledbat) rateBps() float64 {
	rtt := l.srtt
	if rtt == 0 {
		rtt = 100 * time.Millisecond
	}
	return l.cwnd * 8 / rtt.Seconds()
}
