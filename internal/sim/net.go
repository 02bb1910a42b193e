package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Endpoint is a node's protocol engine as the network sees it.
type Endpoint interface {
	HandleDatagram(now time.Duration, from netip.AddrPort, b []byte) // b is only valid during the call
	HandleTimeout(now time.Duration)
	// PollTransmit appends the next datagram ready to send to buf[:0] and returns it with its destination.
	PollTransmit(buf []byte) (to netip.AddrPort, datagram []byte, ok bool)
	NextDeadline() time.Duration // the next time HandleTimeout must be called; a negative value means none
}

// NodePort is the UDP port of every simulated node.
const NodePort = 4000

// Node addresses come from 198.18.0.0/15, the benchmarking range, in order
// from 198.18.0.1.
const (
	addrBase  = uint32(198)<<24 | uint32(18)<<16
	addrFirst = addrBase + 1
	maxNodes  = 1<<17 - 2 // leaves out .0.0 and the last address
)

// ErrRunning is the panic value when Run or Step is called from inside an
// event (an action, a done callback or an endpoint).
var ErrRunning = errors.New("sim: Run or Step called while the network is running")

// NodeStats counts one node's traffic. Every drop is counted on the node
// that sent the dropped datagram, by cause.
type NodeStats struct {
	BytesSent         int64 // datagram payload bytes the endpoint sent, dropped or not
	BytesReceived     int64 // datagram payload bytes delivered to the endpoint
	DatagramsSent     int64
	DatagramsReceived int64
	DropQueue         int64 // dropped at a full uplink or downlink queue (drop-tail)
	DropLoss          int64 // lost on the path
	DropNAT           int64 // filtered by NAT: neither side open, not both cone
	DropGone          int64 // sender or receiver removed, or no such node
	BytesFetched      int64 // service response bytes that crossed the node's downlink
}

func (s *NodeStats) add(o *NodeStats) {
	s.BytesSent += o.BytesSent
	s.BytesReceived += o.BytesReceived
	s.DatagramsSent += o.DatagramsSent
	s.DatagramsReceived += o.DatagramsReceived
	s.DropQueue += o.DropQueue
	s.DropLoss += o.DropLoss
	s.DropNAT += o.DropNAT
	s.DropGone += o.DropGone
	s.BytesFetched += o.BytesFetched
}

type host struct {
	ep    Endpoint
	addr  netip.AddrPort
	cfg   NodeConfig
	pos   position
	alive bool
	up    link
	down  link

	// Loss and jitter of the datagrams the node sends are drawn from the
	// node's own source, so that what one node sees never depends on the
	// order in which other nodes' events run.
	pathPCG  *rand.PCG
	pathRand *rand.Rand
	lane     *lane // the lane running the node's events now

	// The node has one timer. timerWant is the deadline the endpoint last
	// asked for (-1: none); timerQueued is the time of the one live timer
	// event in the queue (-1: none), never later than timerWant. Events of
	// an older generation are stale and skipped.
	timerWant   time.Duration
	timerQueued time.Duration
	timerGen    uint32
	lastFire    time.Duration

	stats NodeStats
}

// Network is a discrete-event network. Its methods must be called from one
// goroutine (the one calling Run) or from the callbacks it makes; an
// endpoint's callbacks may run on a worker (see SetWorkers) and may then
// call Kick, Service.Fetch and the read-only methods, for their own node.
type Network struct {
	cfg  Config
	main lane // outside windows; its clock is the network's
	q    eventQueue
	aq   eventHeap // actions, apart from q so that windows can stop at them

	// Windows (see SetWindow): the workers' lanes, and the window's events
	// sorted by node and cut into tasks.
	window time.Duration
	lanes  []*lane
	tasks  []task
	batch  []event
	reqs   []event // a window's fetch requests
	sorted []event
	counts []int32

	seed      uint64
	placeRand *rand.Rand // node positions
	lossBelow uint64     // a datagram is lost when a uniform uint64 is below this

	nodes []host

	packets    packetPool
	spare      []int32 // free packet slots no lane holds
	prefetched byte    // sink for the early load in step

	actions     []func(now time.Duration)
	freeActions []int32

	fetches     []fetch
	freeFetches []int32

	running       bool
	progressEvery time.Duration
	progressNext  time.Duration
	progressFn    func(now time.Duration)
}

// New returns an empty network at virtual time 0. All its randomness comes
// from seed.
func New(cfg Config, seed uint64) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Network{
		cfg:       cfg,
		seed:      seed,
		placeRand: rand.New(rand.NewPCG(seed, 0x706c616365)), // "place"
		main:      lane{cur: -1},
	}
	n.packets.init(cfg.SlotBytes)
	if cfg.LossRate > 0 {
		n.lossBelow = uint64(math.Ldexp(cfg.LossRate, 64))
	}
	return n, nil
}

// Config returns the network's configuration.
func (n *Network) Config() Config { return n.cfg }

// Now returns the current virtual time.
func (n *Network) Now() time.Duration { return n.main.now }

// Pending returns how many events are queued (stale timer events included).
func (n *Network) Pending() int {
	k := n.q.len() + len(n.aq)
	for _, l := range n.lanes {
		k += l.q.len()
	}
	return k
}

// AddNode adds a node at the next free address, arms its timer and sends what
// the endpoint has to send now. It panics if cfg is invalid or the address
// range is exhausted, as both are mistakes in the scenario.
func (n *Network) AddNode(cfg NodeConfig, ep Endpoint) netip.AddrPort {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if ep == nil {
		panic("sim: AddNode with a nil Endpoint")
	}
	if len(n.nodes) >= maxNodes {
		panic(fmt.Sprintf("sim: AddNode: more than %d nodes", maxNodes))
	}
	i := int32(len(n.nodes))
	v := addrFirst + uint32(i)
	pcg := rand.NewPCG(n.seed, 0x70617468<<32|uint64(i)) // "path"
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), NodePort)
	n.nodes = append(n.nodes, host{
		ep:          ep,
		addr:        addr,
		cfg:         cfg,
		pos:         position{int32(n.placeRand.IntN(planeSide)), int32(n.placeRand.IntN(planeSide))},
		alive:       true,
		up:          link{rateBps: cfg.UpBps},
		down:        link{rateBps: cfg.DownBps},
		pathPCG:     pcg,
		pathRand:    rand.New(pcg),
		lane:        &n.main,
		timerWant:   -1,
		timerQueued: -1,
		lastFire:    -1,
	})
	n.afterCall(&n.main, i)
	return addr
}

// index maps an address to a node index.
func (n *Network) index(a netip.AddrPort) (int32, bool) {
	if a.Port() != NodePort || !a.Addr().Is4() {
		return 0, false
	}
	b := a.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	i := v - addrFirst // wraps to a huge value below the range
	if i >= uint32(len(n.nodes)) {
		return 0, false
	}
	return int32(i), true
}

// RemoveNode takes a node out (churn). Datagrams queued or in flight to or
// from it are dropped and counted as DropGone when they come due; later
// datagrams to it vanish the same way; its pending fetches never complete.
// Removing an unknown or removed node does nothing.
func (n *Network) RemoveNode(addr netip.AddrPort) {
	i, ok := n.index(addr)
	if !ok || !n.nodes[i].alive {
		return
	}
	nd := &n.nodes[i]
	nd.alive = false
	nd.timerGen++
	nd.timerWant, nd.timerQueued = -1, -1
}

// Endpoint returns the endpoint at addr (also after RemoveNode), or nil.
func (n *Network) Endpoint(addr netip.AddrPort) Endpoint {
	i, ok := n.index(addr)
	if !ok {
		return nil
	}
	return n.nodes[i].ep
}

// Alive reports whether addr is a node that has not been removed.
func (n *Network) Alive(addr netip.AddrPort) bool {
	i, ok := n.index(addr)
	return ok && n.nodes[i].alive
}

// NodeConfig returns the configuration addr was added with.
func (n *Network) NodeConfig(addr netip.AddrPort) (NodeConfig, bool) {
	i, ok := n.index(addr)
	if !ok {
		return NodeConfig{}, false
	}
	return n.nodes[i].cfg, true
}

// Addrs returns every node's address, removed ones included, in the order
// they were added.
func (n *Network) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(n.nodes))
	for i := range n.nodes {
		out[i] = n.nodes[i].addr
	}
	return out
}

// CanConnect reports whether the NATs of a and b let datagrams through: if
// either is open, or both are cone. Unknown addresses cannot connect.
func (n *Network) CanConnect(a, b netip.AddrPort) bool {
	i, ok1 := n.index(a)
	j, ok2 := n.index(b)
	return ok1 && ok2 && natCompatible(n.nodes[i].cfg.NAT, n.nodes[j].cfg.NAT)
}

// Latency returns the one-way latency between two nodes, before jitter and
// queueing, or -1 if either is unknown.
func (n *Network) Latency(a, b netip.AddrPort) time.Duration {
	i, ok1 := n.index(a)
	j, ok2 := n.index(b)
	if !ok1 || !ok2 {
		return -1
	}
	return n.cfg.pairLatency(n.nodes[i].pos, n.nodes[j].pos)
}

// QueueDelay returns how long a datagram entering addr's uplink or downlink
// now would wait before its first bit is sent.
func (n *Network) QueueDelay(addr netip.AddrPort) (up, down time.Duration) {
	i, ok := n.index(addr)
	if !ok {
		return 0, 0
	}
	return n.nodes[i].up.queueDelay(n.main.now), n.nodes[i].down.queueDelay(n.main.now)
}

// Stats returns addr's counters (zero for an unknown address).
func (n *Network) Stats(addr netip.AddrPort) NodeStats {
	i, ok := n.index(addr)
	if !ok {
		return NodeStats{}
	}
	return n.nodes[i].stats
}

// Totals returns the sum of every node's counters.
func (n *Network) Totals() NodeStats {
	var t NodeStats
	for i := range n.nodes {
		t.add(&n.nodes[i].stats)
	}
	return t
}

// At schedules fn at virtual time t (now, if t is in the past). Actions at
// the same instant run in the order they were scheduled. If fn calls into an
// endpoint it must call Kick for it.
func (n *Network) At(t time.Duration, fn func(now time.Duration)) {
	var i int32
	if k := len(n.freeActions); k > 0 {
		i = n.freeActions[k-1]
		n.freeActions = n.freeActions[:k-1]
		n.actions[i] = fn
	} else {
		i = int32(len(n.actions))
		n.actions = append(n.actions, fn)
	}
	n.q.seq++
	n.aq.push(event{at: max(t, n.main.now), key: n.q.seq<<8 | uint64(evAction), ref: i})
}

// Kick sends what addr's endpoint has to send now and re-arms its timer. Call
// it after calling into an endpoint from outside the network (an action
// telling it a new chunk exists).
func (n *Network) Kick(addr netip.AddrPort) {
	if i, ok := n.index(addr); ok {
		n.afterCall(n.laneOf(i), i)
	}
}

// SetProgress makes Run call fn each time virtual time passes a multiple of
// every. every <= 0 or fn nil turns it off.
func (n *Network) SetProgress(every time.Duration, fn func(now time.Duration)) {
	if every <= 0 || fn == nil {
		n.progressEvery, n.progressFn = 0, nil
		return
	}
	n.progressEvery, n.progressFn = every, fn
	n.progressNext = (n.main.now/every + 1) * every
}

// Run processes events in time order until virtual time until or until no
// event is left; then the clock stands at until.
func (n *Network) Run(until time.Duration) {
	if n.running {
		panic(ErrRunning)
	}
	n.running = true
	defer func() { n.running = false }()
	if n.window > 0 {
		n.runWindows(until)
		return
	}
	for {
		next := time.Duration(math.MaxInt64)
		if e := n.peek(); e != nil {
			next = e.at
		}
		if n.progressFn != nil && n.progressNext <= min(next, until) {
			// Report each multiple of the period on time, even when no
			// event falls on it.
			n.main.now = n.progressNext
			n.progressNext += n.progressEvery
			n.progressFn(n.main.now)
			continue
		}
		if next > until {
			break
		}
		n.step()
	}
	n.main.now = max(n.main.now, until)
}

// Step processes the next event and reports whether there was one.
func (n *Network) Step() bool {
	if n.running {
		panic(ErrRunning)
	}
	if n.Pending() == 0 {
		return false
	}
	n.running = true
	defer func() { n.running = false }()
	n.step()
	return true
}

// NextEvent returns the time of the next queued event, or -1 if none.
func (n *Network) NextEvent() time.Duration {
	if e := n.peek(); e != nil {
		return e.at
	}
	return -1
}

// peek returns the next event, action or not, or nil.
func (n *Network) peek() *event {
	e := n.q.peek()
	for _, l := range n.lanes {
		if le := l.q.peek(); le != nil && (e == nil || before(le, e)) {
			e = le
		}
	}
	if len(n.aq) > 0 && (e == nil || before(&n.aq[0], e)) {
		return &n.aq[0]
	}
	return e
}

func (n *Network) step() {
	var e event
	if qe := n.q.peek(); len(n.aq) > 0 && (qe == nil || before(&n.aq[0], qe)) {
		e = n.aq.pop()
	} else {
		e = n.q.pop()
	}
	m := &n.main
	m.now = e.at
	if len(n.q.cur) > 0 {
		if nx := &n.q.cur[0]; nx.kind() == evDeliver && nx.aux > 0 {
			// Load the next delivery's first byte now: the cache miss
			// overlaps with this event's work.
			n.prefetched += n.packets.slot(nx.ref)[:1][0]
		}
	}
	if e.kind() != evAction {
		n.dispatch(m, e)
		return
	}
	n.runAction(e)
}

// afterCall runs after every call into node i's endpoint: it drains the
// endpoint's transmits and re-arms its timer.
func (n *Network) afterCall(l *lane, i int32) {
	if !n.nodes[i].alive {
		return
	}
	n.drain(l, i)
	n.rearm(l, i)
}

func (n *Network) drain(l *lane, i int32) {
	ep := n.nodes[i].ep
	for {
		p := l.alloc(&n.packets)
		to, d, ok := ep.PollTransmit(n.packets.slot(p))
		if !ok {
			l.release(p)
			return
		}
		n.packets.store(p, d)
		n.send(l, i, to, p, len(d))
	}
}

// send takes packet p from node i through i's uplink and schedules its
// arrival at the receiver's downlink, or drops it.
func (n *Network) send(l *lane, i int32, to netip.AddrPort, p int32, sizeBytes int) {
	src := &n.nodes[i]
	src.stats.DatagramsSent++
	src.stats.BytesSent += int64(sizeBytes)
	leave, ok := src.up.admit(l.now, sizeBytes+n.overhead(sizeBytes), n.cfg.QueueLimit)
	if !ok {
		src.stats.DropQueue++
		l.release(p)
		return
	}
	// From here on the datagram has left the uplink; NAT, loss and a gone
	// receiver are decided now, which draws the same randomness as deciding
	// on arrival would, without an event.
	j, ok := n.index(to)
	if !ok || !n.nodes[j].alive {
		src.stats.DropGone++
		l.release(p)
		return
	}
	dst := &n.nodes[j]
	if !natCompatible(src.cfg.NAT, dst.cfg.NAT) {
		src.stats.DropNAT++
		l.release(p)
		return
	}
	if n.lossBelow != 0 && n.lost(src.pathPCG, sizeBytes) {
		src.stats.DropLoss++
		l.release(p)
		return
	}
	at := leave + n.cfg.pairLatency(src.pos, dst.pos)
	if n.cfg.Jitter > 0 {
		at += time.Duration(src.pathRand.Int64N(int64(n.cfg.Jitter) + 1))
	}
	n.pushFor(l, j, event{at: at, ref: p, aux: uint32(sizeBytes), from: i, to: j}, evArrive)
}

// arrive queues a datagram in its receiver's downlink.
func (n *Network) arrive(l *lane, e event) {
	src, dst := &n.nodes[e.from], &n.nodes[e.to]
	if !src.alive || !dst.alive {
		n.countDrop(l, e.from, false)
		l.release(e.ref)
		return
	}
	leave, ok := dst.down.admit(l.now, int(e.aux)+n.overhead(int(e.aux)), n.cfg.QueueLimit)
	if !ok {
		n.countDrop(l, e.from, true)
		l.release(e.ref)
		return
	}
	if leave == l.now {
		n.deliver(l, e)
		return
	}
	e.at = leave
	if l.task != nil && e.to == l.cur && leave < l.end && (len(l.lq) == 0 || leave < l.lq[0].at) {
		// The delivery would be the node's next event in the window:
		// run it now, as popping it would, without queueing it.
		l.events++
		l.now = leave
		l.last = max(l.last, leave)
		n.deliver(l, e)
		return
	}
	n.pushFor(l, e.to, e, evDeliver)
}

// deliver hands a datagram to its receiver.
func (n *Network) deliver(l *lane, e event) {
	src, dst := &n.nodes[e.from], &n.nodes[e.to]
	if !src.alive || !dst.alive {
		n.countDrop(l, e.from, false)
		l.release(e.ref)
		return
	}
	size := int(e.aux)
	dst.stats.DatagramsReceived++
	dst.stats.BytesReceived += int64(size)
	dst.ep.HandleDatagram(l.now, src.addr, n.packets.data(e.ref, size))
	l.release(e.ref)
	n.afterCall(l, e.to)
}

// rearm asks node i's endpoint for its deadline. A timer event already queued
// for an earlier time is kept: when it fires it moves itself to the deadline
// then wanted, so a deadline pushed later on every call costs no event.
func (n *Network) rearm(l *lane, i int32) {
	nd := &n.nodes[i]
	d := nd.ep.NextDeadline()
	if d < 0 {
		nd.timerWant = -1
		return
	}
	if d <= l.now {
		d = l.now
		if nd.lastFire == l.now {
			// The endpoint asks again for the instant it was just
			// woken at; wake it a nanosecond later so time moves on.
			d = l.now + 1
		}
	}
	nd.timerWant = d
	if nd.timerQueued >= 0 && nd.timerQueued <= d {
		return
	}
	nd.timerGen++
	nd.timerQueued = d
	n.pushFor(l, i, event{at: d, ref: i, aux: nd.timerGen}, evTimer)
}

func (n *Network) timer(l *lane, i int32, gen uint32) {
	nd := &n.nodes[i]
	if gen != nd.timerGen || !nd.alive {
		return // stale
	}
	l.events++
	nd.timerQueued = -1
	switch {
	case nd.timerWant < 0:
		return
	case nd.timerWant > l.now:
		nd.timerQueued = nd.timerWant
		n.pushFor(l, i, event{at: nd.timerWant, ref: i, aux: gen}, evTimer)
		return
	}
	nd.timerWant = -1
	nd.lastFire = l.now
	nd.ep.HandleTimeout(l.now)
	n.afterCall(l, i)
}

// lost draws a datagram's fate: a datagram larger than the path MTU stands
// for a burst of MTU-sized packets and is lost when any of them is.
func (n *Network) lost(pcg *rand.PCG, size int) bool {
	k := 1
	if m := n.cfg.MTU; m > 0 && size > m {
		k = (size + m - 1) / m
	}
	for i := 0; i < k; i++ {
		if pcg.Uint64() < n.lossBelow {
			return true
		}
	}
	return false
}

// overhead is the header bytes a datagram of size bytes costs on a link:
// one IP and UDP header per MTU-sized packet.
func (n *Network) overhead(size int) int {
	if m := n.cfg.MTU; m > 0 && size > m {
		return n.cfg.OverheadBytes * ((size + m - 1) / m)
	}
	return n.cfg.OverheadBytes
}
