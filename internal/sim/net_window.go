package sim

import (
	"fmt"
	"math"
	"time"
)

// Windows. A datagram takes at least Config.MinLatency from one node to
// another, so within a window of that length no node's events depend on
// another node's events of the same window. Run with a window set takes the
// events of a window from the queue and runs them node by node, each node's
// in time order: the node's engine stays in the cache for all of them, where
// strict global time order would touch a different engine on nearly every
// event. The order is fixed by the seed (windows in time, nodes by index),
// so a run stays deterministic, but it is not the order of strict time:
// draws from the network's random source, the service's queue and the
// scenario's tallies see events in a different order, and runs differ from
// those without windows.
//
// Scenario actions (At) end a window and run on their own, in time order, so
// an action sees every node at its time.

// SetWindow makes Run process events in windows of length w (see above); 0
// turns windows off. It panics if w is negative or longer than
// Config.MinLatency, which would let a datagram arrive within the window it
// was sent in.
func (n *Network) SetWindow(w time.Duration) {
	if w < 0 || w > n.cfg.MinLatency {
		panic(fmt.Sprintf("sim: SetWindow(%v): want 0..MinLatency (%v)", w, n.cfg.MinLatency))
	}
	n.window = w
}

// pushFor queues e, an event of node i: into the running node's own queue
// when it falls in the window being run, else into the network's queue.
func (n *Network) pushFor(i int32, e event, kind eventKind) {
	if i == n.cur && e.at < n.end {
		n.q.seq++
		e.key = n.q.seq<<8 | uint64(kind)
		n.lq.push(e)
		return
	}
	n.q.pushEvent(e, kind)
}

// owner is the node an event belongs to.
func (n *Network) owner(e *event) int32 {
	switch e.kind() {
	case evArrive, evDeliver:
		return e.to
	case evTimer:
		return e.ref
	}
	return n.fetches[e.ref].client
}

func (n *Network) runWindows(until time.Duration) {
	for {
		next := time.Duration(math.MaxInt64)
		if e := n.peek(); e != nil {
			next = e.at
		}
		if n.progressFn != nil && n.progressNext <= min(next, until) {
			// Reported between windows, so that reporting progress or not
			// cannot change where windows end.
			t := n.progressNext
			n.now = max(n.now, t)
			n.progressNext += n.progressEvery
			n.progressFn(t)
			continue
		}
		if next > until {
			break
		}
		if len(n.aq) > 0 && n.aq[0].at <= next {
			n.now = max(n.now, next)
			n.runAction(n.aq.pop())
			continue
		}
		end := min(next+n.window, until+1)
		if len(n.aq) > 0 {
			end = min(end, n.aq[0].at)
		}
		n.runWindow(end)
	}
	n.now = max(n.now, until)
}

func (n *Network) runAction(e event) {
	n.events++
	fn := n.actions[e.ref]
	n.actions[e.ref] = nil
	n.freeActions = append(n.freeActions, e.ref)
	fn(n.now)
}

// runWindow runs every queued event due before end, node by node.
func (n *Network) runWindow(end time.Duration) {
	b := n.batch[:0]
	for {
		e := n.q.peek()
		if e == nil || e.at >= end {
			break
		}
		b = append(b, n.q.pop())
	}
	last := n.now
	// Requests reach the service in time order first: its queue is shared,
	// and what it does with them happens a latency later.
	k := 0
	for _, e := range b {
		if e.kind() == evFetchRequest {
			n.now = e.at
			last = max(last, e.at)
			n.events++
			n.fetchRequest(e.ref)
			continue
		}
		b[k] = e
		k++
	}
	b = b[:k]
	// A stable counting sort by node keeps each node's events in order.
	if len(n.counts) < len(n.nodes)+1 {
		n.counts = make([]int32, len(n.nodes)+1)
	}
	counts := n.counts[:len(n.nodes)+1]
	clear(counts)
	for i := range b {
		counts[n.owner(&b[i])+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	sorted := growEvents(n.sorted, len(b))
	n.sorted = sorted
	for _, e := range b {
		o := n.owner(&e)
		sorted[counts[o]] = e
		counts[o]++
	}
	n.end = end
	for lo := 0; lo < len(sorted); {
		o := n.owner(&sorted[lo])
		hi := lo + 1
		for hi < len(sorted) && n.owner(&sorted[hi]) == o {
			hi++
		}
		// sorted[lo:hi] is in time order, which is a valid heap; the
		// node's new events join it there.
		n.cur = o
		n.lq = append(n.lq[:0], sorted[lo:hi]...)
		for len(n.lq) > 0 {
			e := n.lq.pop()
			n.now = e.at
			last = max(last, e.at)
			n.dispatch(e)
		}
		lo = hi
	}
	n.cur, n.end = -1, 0
	n.now = last
	clear(b)
	n.batch = b[:0]
}

// growEvents returns a slice of length n, reusing s's memory if it can.
func growEvents(s []event, n int) []event {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]event, n)
}

// dispatch runs one event other than an action.
func (n *Network) dispatch(e event) {
	switch e.kind() {
	case evArrive:
		n.events++
		n.arrive(e)
	case evDeliver:
		n.events++
		n.deliver(e)
	case evTimer:
		n.timer(e.ref, e.aux)
	case evFetchRequest:
		n.events++
		n.fetchRequest(e.ref)
	case evFetchSegment:
		n.events++
		n.fetchSegment(e.ref)
	case evFetchDone:
		n.events++
		n.fetchDone(e.ref)
	}
}
