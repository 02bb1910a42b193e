package sim

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Lanes. Every event runs on a lane: the network's main lane outside
// windows (actions, service requests, runs without windows), or one of the
// workers' lanes inside a window. A lane has its own clock, event count and
// free packet slots, and inside a window it does not touch the queue or
// any node but the one whose events it runs: what those events leave for
// others (datagrams, timers past the window, drops counted on a sender,
// new fetches) goes into the task's outbox, and the outboxes are applied in
// node order after the window. The run is therefore the same for any number
// of workers, and the same as one worker running the tasks one by one.
//
// Events a task leaves for later windows go into its lane's own queue, not
// the network's, so that queueing them runs in parallel too. Their keys are
// the ones the task's place in node order gives them (see taskKeyBits),
// whichever lane runs it, and a window takes its events from every queue
// and orders each node's by key: where an event waits changes nothing.
type lane struct {
	id     int // 0: the main lane; workers from 1
	now    time.Duration
	last   time.Duration // the latest event run in the window
	events uint64
	free   []int32 // packet slots

	// Inside a window: the node whose events run now, the window's end,
	// that node's events due before it, and the task collecting what is
	// left for others. task is nil on the main lane.
	cur  int32
	end  time.Duration
	seq  uint64
	lq   eventHeap
	task *task
	q    eventQueue // events the lane's tasks left for later windows
}

// taskKeyBits: the events a window's task t queues get the insertion
// numbers base + t<<taskKeyBits + 1, 2, … (base: the network's count at the
// window's start), which orders them as if the tasks had queued them one
// after another in node order.
const taskKeyBits = 24

// task is a run of whole nodes of a window, sorted[lo:hi], and its outbox.
type task struct {
	lo, hi  int
	keyBase uint64  // insertion numbers of the events it queues start after this
	keys    uint64  // how many it has queued
	out     []event // fetch requests, in the order made (kind in key)
	drops   []drop  // counted on senders
	fetches []fetch // made in the task; their requests in out index this
	freed   []int32 // fetches finished in the task
}

type drop struct {
	node  int32
	queue bool // else gone
}

// countDrop counts a datagram dropped on its way to the lane's node on the
// sender, which another lane may be running.
func (n *Network) countDrop(l *lane, src int32, queue bool) {
	if l.task != nil {
		l.task.drops = append(l.task.drops, drop{node: src, queue: queue})
		return
	}
	if queue {
		n.nodes[src].stats.DropQueue++
	} else {
		n.nodes[src].stats.DropGone++
	}
}

func (l *lane) alloc(pp *packetPool) int32 {
	if len(l.free) == 0 {
		l.free = pp.grow(l.free)
	}
	p := l.free[len(l.free)-1]
	l.free = l.free[:len(l.free)-1]
	return p
}

func (l *lane) release(p int32) { l.free = append(l.free, p) }

// touch prefetches the first bytes of the datagrams of evs.
func (l *lane) touch(pp *packetPool, evs []event) {
	for i := range evs {
		if k := evs[i].kind(); k == evArrive || k == evDeliver {
			prefetch(&pp.slot(evs[i].ref)[:1][0])
		}
	}
}

// SetWorkers sets how many goroutines run a window's nodes (at least 1).
// The run does not depend on it; it takes effect with windows only.
func (n *Network) SetWorkers(k int) {
	k = max(k, 1)
	n.lanes = n.lanes[:0]
	for i := range k {
		n.lanes = append(n.lanes, &lane{id: i + 1, cur: -1})
	}
}

// laneID is the id of the lane running addr's events now: 0 for the main
// lane, 1 to the number of workers for theirs.
func (n *Network) laneID(addr netip.AddrPort) int {
	if i, ok := n.index(addr); ok {
		return n.nodes[i].lane.id
	}
	return 0
}

// laneOf is the lane running node i's events now.
func (n *Network) laneOf(i int32) *lane { return n.nodes[i].lane }

// Events returns how many events have been processed.
func (n *Network) Events() uint64 {
	e := n.main.events
	for _, l := range n.lanes {
		e += l.events
	}
	return e
}

// pool runs the tasks of windows on worker goroutines, the caller's included.
type pool struct {
	n     *Network
	start []chan struct{}
	wg    sync.WaitGroup
	next  atomic.Int32
}

// startPool starts one goroutine per lane but the first; stop ends them.
func (n *Network) startPool() *pool {
	p := &pool{n: n}
	for _, l := range n.lanes[1:] {
		c := make(chan struct{})
		p.start = append(p.start, c)
		go func() {
			for range c {
				p.work(l)
				p.wg.Done()
			}
		}()
	}
	return p
}

func (p *pool) stop() {
	for _, c := range p.start {
		close(c)
	}
}

// run runs every task of the window and returns when all are done.
func (p *pool) run() {
	p.next.Store(0)
	p.wg.Add(len(p.start))
	for _, c := range p.start {
		c <- struct{}{}
	}
	p.work(p.n.lanes[0])
	p.wg.Wait()
}

func (p *pool) work(l *lane) {
	n := p.n
	for {
		t := int(p.next.Add(1) - 1)
		if t >= len(n.tasks) {
			return
		}
		n.runTask(l, &n.tasks[t])
	}
}

// queueLater queues e, an event of a later window, on lane l's queue with
// the key of its place in the window's tasks.
func (l *lane) queueLater(e event, kind eventKind) {
	t := l.task
	t.keys++
	if t.keys >= 1<<taskKeyBits {
		panic("sim: a window's task queued more than 2^24 events")
	}
	e.key = (t.keyBase+t.keys)<<8 | uint64(kind)
	l.q.insert(e)
}

// runTask runs the task's nodes, each node's events in time order.
func (n *Network) runTask(l *lane, t *task) {
	sorted := n.sorted
	l.task = t
	l.touch(&n.packets, sorted[t.lo:min(t.lo+32, t.hi)])
	for lo := t.lo; lo < t.hi; {
		o := n.owner(&sorted[lo])
		hi := lo + 1
		for hi < t.hi && n.owner(&sorted[hi]) == o {
			hi++
		}
		// Load the datagrams of the node after this one now: their cache
		// misses overlap with this node's work instead of coming one by
		// one when each is delivered.
		nx := hi + 1
		for nx < t.hi && n.owner(&sorted[nx]) == n.owner(&sorted[hi]) {
			nx++
		}
		l.touch(&n.packets, sorted[hi:min(nx, t.hi)])
		// The node's events due in the window, ordered as a heap; its
		// new ones join it there, after every event queued before the
		// window.
		nd := &n.nodes[o]
		nd.lane = l
		l.cur, l.seq = o, n.q.seq
		l.lq = append(l.lq[:0], sorted[lo:hi]...)
		l.lq.heapify()
		for len(l.lq) > 0 {
			e := l.lq.pop()
			l.now = e.at
			l.last = max(l.last, e.at)
			n.dispatch(l, e)
		}
		nd.lane = &n.main
		lo = hi
	}
	l.cur, l.task = -1, nil
}

// flush applies the tasks' outboxes in node order.
func (n *Network) flush() {
	n.q.seq += uint64(len(n.tasks)) << taskKeyBits
	for i := range n.tasks {
		t := &n.tasks[i]
		for _, d := range t.drops {
			if d.queue {
				n.nodes[d.node].stats.DropQueue++
			} else {
				n.nodes[d.node].stats.DropGone++
			}
		}
		for _, k := range t.freed {
			n.freeFetches = append(n.freeFetches, k)
		}
		for _, e := range t.out {
			if e.kind() == evFetchRequest {
				e.ref = n.newFetch(t.fetches[e.ref])
			}
			n.q.pushEvent(e, e.kind())
		}
		clear(t.fetches)
		t.out, t.drops, t.fetches, t.freed = t.out[:0], t.drops[:0], t.fetches[:0], t.freed[:0]
	}
	n.balance()
}

// balance moves free packet slots from lanes that free more than they use
// to lanes that use more than they free (the origin's, for one).
func (n *Network) balance() {
	n.give(&n.main)
	for _, l := range n.lanes {
		n.give(l)
	}
	n.take(&n.main)
	for _, l := range n.lanes {
		n.take(l)
	}
}

const keepFree = 4096

func (n *Network) give(l *lane) {
	if len(l.free) > 2*keepFree {
		n.spare = append(n.spare, l.free[keepFree:]...)
		l.free = l.free[:keepFree]
	}
}

func (n *Network) take(l *lane) {
	if len(l.free) < keepFree/2 && len(n.spare) > 0 {
		k := min(keepFree-len(l.free), len(n.spare))
		l.free = append(l.free, n.spare[len(n.spare)-k:]...)
		n.spare = n.spare[:len(n.spare)-k]
	}
}

// splitTasks cuts the window's sorted events into tasks of whole nodes. The
// cut depends on the events alone, never on the number of workers.
func (n *Network) splitTasks() {
	sorted := n.sorted
	per := max(128, len(sorted)/32)
	k := 0
	for lo := 0; lo < len(sorted); {
		hi := min(lo+per, len(sorted))
		for hi < len(sorted) && n.owner(&sorted[hi]) == n.owner(&sorted[hi-1]) {
			hi++
		}
		switch {
		case k < len(n.tasks):
		case k < cap(n.tasks):
			n.tasks = n.tasks[:k+1] // the task's buffers are kept
		default:
			n.tasks = append(n.tasks, task{})
		}
		n.tasks[k].lo, n.tasks[k].hi = lo, hi
		k++
		lo = hi
	}
	n.tasks = n.tasks[:k]
}
