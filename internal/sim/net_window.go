package sim

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Windows. A datagram takes at least Config.MinLatency from one node to
// another, so within a window of that length no node's events depend on
// another node's events of the same window. Run with a window set takes the
// events of a window from the queue and runs them node by node, each node's
// in time order: the node's engine stays in the cache for all of them, where
// strict global time order would touch a different engine on nearly every
// event. Each node draws its loss and jitter from a source of its own, so
// every node sees what strict time order gives it
// (TestWindowsMatchTimeOrder), up to the order of events due at the same
// instant. The nodes of a window may run on several workers (see lane),
// with the same result for any number.
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

// pushFor queues e, an event of node i: into the lane's own queue when i is
// the node the lane runs and e falls in the window, into the task's outbox
// when the lane runs a window, else into the network's queue. A fetch
// request always goes through the queue: the service's queue is shared.
func (n *Network) pushFor(l *lane, i int32, e event, kind eventKind) {
	if l.task == nil {
		n.q.pushEvent(e, kind)
		return
	}
	if i == l.cur && e.at < l.end && kind != evFetchRequest {
		l.seq++
		e.key = l.seq<<8 | uint64(kind)
		l.lq.push(e)
		return
	}
	if kind == evFetchRequest {
		e.key = uint64(kind)
		l.task.out = append(l.task.out, e)
		return
	}
	l.queueLater(e, kind)
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
	if len(n.lanes) == 0 {
		n.SetWorkers(1)
	}
	var p *pool
	if len(n.lanes) > 1 {
		p = n.startPool()
		defer p.stop()
	}
	for {
		next := time.Duration(math.MaxInt64)
		if e := n.peek(); e != nil {
			next = e.at
		}
		if n.progressFn != nil && n.progressNext <= min(next, until) {
			// Reported between windows, so that reporting progress or not
			// cannot change where windows end.
			t := n.progressNext
			n.main.now = max(n.main.now, t)
			n.progressNext += n.progressEvery
			n.progressFn(t)
			continue
		}
		if next > until {
			break
		}
		if len(n.aq) > 0 && n.aq[0].at <= next {
			n.main.now = max(n.main.now, next)
			n.runAction(n.aq.pop())
			continue
		}
		end := min(next+n.window, until+1)
		if len(n.aq) > 0 {
			end = min(end, n.aq[0].at)
		}
		n.runWindow(p, end)
	}
	n.gather()
	n.main.now = max(n.main.now, until)
}

// gather moves the events waiting in the lanes' queues into the network's,
// keys kept, so that between runs every event is there.
func (n *Network) gather() {
	for _, l := range n.lanes {
		b := l.q.popBefore(math.MaxInt64, n.batch[:0])
		for _, e := range b {
			n.q.insert(e)
		}
		clear(b)
		n.batch = b[:0]
	}
}

func (n *Network) runAction(e event) {
	n.main.events++
	fn := n.actions[e.ref]
	n.actions[e.ref] = nil
	n.freeActions = append(n.freeActions, e.ref)
	fn(n.main.now)
}

// runWindow runs every queued event due before end, node by node, on the
// pool's workers (on the caller's goroutine if p is nil).
func (n *Network) runWindow(p *pool, end time.Duration) {
	m := &n.main
	b := n.q.popBefore(end, n.batch[:0])
	for _, l := range n.lanes {
		b = l.q.popBefore(end, b)
	}
	last := m.now
	// Requests reach the service in time order first: its queue is shared,
	// and what it does with them happens a latency later.
	k := 0
	reqs := n.reqs[:0]
	for _, e := range b {
		if e.kind() == evFetchRequest {
			reqs = append(reqs, e)
			continue
		}
		b[k] = e
		k++
	}
	b = b[:k]
	slices.SortFunc(reqs, func(x, y event) int {
		if before(&x, &y) {
			return -1
		}
		return 1
	})
	for _, e := range reqs {
		m.now = e.at
		last = max(last, e.at)
		m.events++
		n.fetchRequest(m, e.ref)
	}
	n.reqs = reqs[:0]
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
	n.splitTasks()
	for i := range n.tasks {
		t := &n.tasks[i]
		t.keyBase, t.keys = n.q.seq+uint64(i)<<taskKeyBits, 0
	}
	for _, l := range n.lanes {
		l.end, l.last = end, last
	}
	if p != nil {
		p.run()
	} else {
		for i := range n.tasks {
			n.runTask(n.lanes[0], &n.tasks[i])
		}
	}
	n.flush()
	for _, l := range n.lanes {
		last = max(last, l.last)
		l.end = 0
	}
	m.now = last
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

// dispatch runs one event other than an action on lane l.
func (n *Network) dispatch(l *lane, e event) {
	switch e.kind() {
	case evArrive:
		l.events++
		n.arrive(l, e)
	case evDeliver:
		l.events++
		n.deliver(l, e)
	case evTimer:
		n.timer(l, e.ref, e.aux)
	case evFetchRequest:
		l.events++
		n.fetchRequest(l, e.ref)
	case evFetchSegment:
		l.events++
		n.fetchSegment(l, e.ref)
	case evFetchDone:
		l.events++
		n.fetchDone(l, e.ref)
	}
}
