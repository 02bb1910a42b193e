package core

import (
	"time"

	"github.com/shoalstream/shoal/internal/wire"
)

// onRequest queues the chunks a neighbour asked for, or rejects them.
func (s *swarm) onRequest(now time.Duration, p *peer, r *wire.Request) {
	if p.state != peerConnected {
		return
	}
	cfg := &s.e.cfg
	deadline := now + 10*time.Second
	if r.DeadlineMs > 0 {
		deadline = now + time.Duration(r.DeadlineMs)*time.Millisecond
	}
	urgent := r.DeadlineMs > 0 && time.Duration(r.DeadlineMs)*time.Millisecond <= cfg.UrgentWindow
	for _, rg := range r.Ranges {
		for v := rg.Start; v < rg.End && v-rg.Start < 1024; v++ {
			p.periodRequested++
			if s.desc.Origin && s.live != nil {
				s.live.pushMissed(now, p, v)
			}
			ok := s.has(v) && !p.chokedByUs && !s.overdrawn(now, p)
			if ok && s.desc.Origin && s.live != nil && !urgent {
				ok = false // the origin serves only peers in trouble
			}
			if ok && s.backlogged() {
				ok = false
			}
			if !ok {
				p.rejects.add(v)
				p.markDirty(s.e)
				continue
			}
			n := s.chunkLen(v)
			p.enqueue(serveItem{seq: v, deadline: deadline, nfrags: (n + s.desc.FragmentBytes - 1) / s.desc.FragmentBytes})
			p.queuedBytes += n
		}
	}
	if s.live != nil {
		s.live.probe(now, p)
	}
}

// overdrawn says p, a live neighbour, has left our check (liveState.probe)
// unanswered for a while and has taken unprovenCredit chunks from us
// meanwhile: it gets nothing more until it answers one.
func (s *swarm) overdrawn(now time.Duration, p *peer) bool {
	return s.live != nil && !p.proven && p.probedAt > 0 && now-p.probedAt > 2*time.Second &&
		p.bytesTo >= int64(unprovenCredit*s.desc.ChunkBytes)
}

const unprovenCredit = 8

// onRequestFragments queues just the fragments asked for.
func (s *swarm) onRequestFragments(now time.Duration, p *peer, r *wire.RequestFragments) {
	if p.state != peerConnected {
		return
	}
	if !s.has(r.Chunk) || p.chokedByUs {
		p.rejects.add(r.Chunk)
		p.markDirty(s.e)
		return
	}
	for i := range p.serveQ {
		if it := &p.serveQ[i]; it.seq == r.Chunk {
			// still being served: fold the request into it rather than
			// queue fragments that are on their way anyway a second time
			it.mergeFragments(r.Fragments, r.Flags&wire.FlagWantIntegrity != 0)
			return
		}
	}
	n := s.chunkLen(r.Chunk)
	nf := (n + s.desc.FragmentBytes - 1) / s.desc.FragmentBytes
	it := serveItem{seq: r.Chunk, deadline: now + time.Second, frags: newBitset(nf), nfrags: nf, wantMeta: r.Flags&wire.FlagWantIntegrity != 0}
	cnt := 0
	for _, rg := range r.Fragments {
		for f := rg.Start; f < rg.End && f < uint64(nf); f++ {
			it.frags.set(int(f))
			cnt++
		}
	}
	if cnt == 0 {
		return
	}
	it.metaSent = !it.wantMeta
	p.enqueue(it)
	p.queuedBytes += cnt * s.desc.FragmentBytes
}

// has says whether this engine holds verified chunk v.
func (s *swarm) has(v uint64) bool {
	if s.live != nil {
		c := s.live.peek(v)
		return c != nil && c.have
	}
	return s.vod.has(v)
}

func (s *swarm) chunkLen(v uint64) int {
	if s.live != nil {
		if c := s.live.peek(v); c != nil {
			return len(c.data)
		}
		return 0
	}
	return s.vod.chunkLen(int(v))
}

// backlogged says the upload queue already holds more than a second of work.
func (s *swarm) backlogged() bool {
	queued := 0
	for _, p := range s.list {
		queued += p.queuedBytes
	}
	capBps := s.uploadRateBps
	if a := float64(s.e.cfg.AdvertisedUploadBps); a > 0 {
		capBps = a
	}
	limit := max(32<<10, int(capBps/8*0.3)) // 300 ms of upload
	if s.desc.Origin && s.e.cfg.MaxUploadBps > 0 {
		// the origin keeps its queue short: its pushes feed the trees
		limit = max(32<<10, int(s.e.cfg.MaxUploadBps/8/10))
	}
	return queued > limit
}

// mergeFragments adds requested fragments to an item being served.
func (it *serveItem) mergeFragments(frs []wire.Range, wantMeta bool) {
	if it.frags == nil {
		it.frags = newBitset(it.nfrags)
		for f := it.next; f < it.nfrags; f++ {
			it.frags.set(f)
		}
		it.next = 0
	}
	for _, rg := range frs {
		for f := rg.Start; f < rg.End && f < uint64(it.nfrags); f++ {
			it.frags.set(int(f))
		}
	}
	if wantMeta {
		it.metaSent = false
	}
}
