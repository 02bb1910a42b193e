package sim

import (
	"net/netip"
	"time"
)

// Service is an HTTP-like server outside the swarm: the origin's booster, a
// web seed or a CDN. It serves requests one at a time, in the order they
// arrive, at a fixed rate; responses are reliable (TCP) and share the
// client's downlink with the datagrams arriving there.
type Service struct {
	net       *Network
	name      string
	rateBps   int64
	latency   time.Duration
	busyUntil time.Duration

	requests    int64
	refused     int64
	bytesServed int64
}

// NewService adds a service to the network. rateBps <= 0 means unlimited.
// latency is the service's one-way latency to a client at the centre of the
// plane; each client adds its own distance to the centre (see Fetch).
func (n *Network) NewService(name string, rateBps int64, latency time.Duration) *Service {
	return &Service{net: n, name: name, rateBps: max(rateBps, 0), latency: max(latency, 0)}
}

// Name returns the name the service was created with.
func (s *Service) Name() string { return s.name }

// Requests returns how many requests reached the service.
func (s *Service) Requests() int64 { return s.requests }

// Refused returns how many requests the service turned away because their
// response could not have arrived by its deadline (see FetchBy).
func (s *Service) Refused() int64 { return s.refused }

// BytesServed returns the response bytes the service has sent or queued.
func (s *Service) BytesServed() int64 { return s.bytesServed }

// OneWay returns the one-way latency between the service and client: the
// service's latency plus the client's own access latency, which depends on
// the client alone. It returns -1 for an unknown client.
func (s *Service) OneWay(client netip.AddrPort) time.Duration {
	i, ok := s.net.index(client)
	if !ok {
		return -1
	}
	return s.latency + s.net.cfg.accessLatency(s.net.nodes[i].pos)
}

// fetch is one request in progress.
type fetch struct {
	svc       *Service
	client    int32
	sizeBytes int64
	sentBytes int64         // bytes already admitted to the client's downlink
	start     time.Duration // when the service began sending the response
	oneWay    time.Duration
	deadline  time.Duration // 0: none
	done      func(now time.Duration)
}

// Fetch requests sizeBytes from the service for client. The request reaches
// the service one one-way latency (OneWay) after now and waits in the
// service's FIFO; the response leaves at the service's rate, travels back,
// and crosses the client's downlink in segments of Config.SegmentBytes, behind
// and among the datagrams queued there. done is called when the last byte
// has crossed, after which the client's endpoint is drained and its timer
// re-armed (so done may call into it). If the client is unknown or removed
// meanwhile, done is never called.
func (s *Service) Fetch(now time.Duration, client netip.AddrPort, sizeBytes int, done func(now time.Duration)) {
	s.FetchBy(now, client, sizeBytes, 0, done)
}

// FetchBy is Fetch for a response that is useless after deadline, as a
// live booster's is: when the request reaches the service and the
// response, queued behind the others, could not arrive by then, the service
// refuses it at once and spends nothing on it (the origin's booster answers
// 503 so), and done is never called. A deadline of 0 is none.
func (s *Service) FetchBy(now time.Duration, client netip.AddrPort, sizeBytes int, deadline time.Duration, done func(now time.Duration)) {
	n := s.net
	i, ok := n.index(client)
	if !ok || !n.nodes[i].alive {
		return
	}
	l := n.laneOf(i)
	now = max(now, l.now)
	f := fetch{
		svc:       s,
		client:    i,
		sizeBytes: int64(max(sizeBytes, 0)),
		oneWay:    s.OneWay(client),
		deadline:  deadline,
		done:      done,
	}
	var k int32
	if l.task != nil {
		// A worker's lane: the fetch is made after the window (see lane).
		k = int32(len(l.task.fetches))
		l.task.fetches = append(l.task.fetches, f)
	} else {
		k = n.newFetch(f)
	}
	n.pushFor(l, i, event{at: now + f.oneWay, ref: k}, evFetchRequest)
}

func (n *Network) newFetch(f fetch) int32 {
	if m := len(n.freeFetches); m > 0 {
		k := n.freeFetches[m-1]
		n.freeFetches = n.freeFetches[:m-1]
		n.fetches[k] = f
		return k
	}
	n.fetches = append(n.fetches, f)
	return int32(len(n.fetches) - 1)
}

func (n *Network) freeFetch(l *lane, k int32) {
	n.fetches[k] = fetch{}
	if l.task != nil {
		l.task.freed = append(l.task.freed, k)
		return
	}
	n.freeFetches = append(n.freeFetches, k)
}

// fetchRequest: the request is at the service; queue the response.
func (n *Network) fetchRequest(l *lane, k int32) {
	f := &n.fetches[k]
	if !n.nodes[f.client].alive {
		n.freeFetch(l, k)
		return
	}
	s := f.svc
	s.requests++
	start := max(l.now, s.busyUntil)
	if f.deadline > 0 && start+transmitTime(f.sizeBytes, s.rateBps)+f.oneWay > f.deadline {
		s.refused++
		n.freeFetch(l, k)
		return
	}
	s.bytesServed += f.sizeBytes
	f.start = start
	s.busyUntil = f.start + transmitTime(f.sizeBytes, s.rateBps)
	n.pushFor(l, f.client, event{at: n.segmentArrival(f), ref: k}, evFetchSegment)
}

// segmentBytes is the size of the next segment of f to cross the downlink.
func (n *Network) segmentBytes(f *fetch) int64 {
	return min(f.sizeBytes-f.sentBytes, int64(n.cfg.SegmentBytes))
}

// segmentArrival is when the next segment of f reaches the client's downlink
// if nothing holds it back: its last byte has left the service and crossed
// the path.
func (n *Network) segmentArrival(f *fetch) time.Duration {
	end := f.sentBytes + n.segmentBytes(f)
	return f.start + transmitTime(end, f.svc.rateBps) + f.oneWay
}

// fetchSegment admits the next segment of a response to the client's
// downlink. A response is never dropped: like TCP backing off, a segment that
// would overfill the queue waits until there is room.
func (n *Network) fetchSegment(l *lane, k int32) {
	f := &n.fetches[k]
	nd := &n.nodes[f.client]
	if !nd.alive {
		n.freeFetch(l, k)
		return
	}
	if wait := nd.down.queueDelay(l.now) - n.cfg.QueueLimit; wait > 0 {
		n.pushFor(l, f.client, event{at: l.now + wait, ref: k}, evFetchSegment)
		return
	}
	seg := n.segmentBytes(f)
	leave, _ := nd.down.admit(l.now, int(seg)+n.overhead(int(seg)), n.cfg.QueueLimit)
	f.sentBytes += seg
	nd.stats.BytesFetched += seg
	if f.sentBytes < f.sizeBytes {
		n.pushFor(l, f.client, event{at: max(n.segmentArrival(f), l.now), ref: k}, evFetchSegment)
		return
	}
	n.pushFor(l, f.client, event{at: leave, ref: k}, evFetchDone)
}

func (n *Network) fetchDone(l *lane, k int32) {
	f := n.fetches[k]
	n.freeFetch(l, k)
	if !n.nodes[f.client].alive {
		return
	}
	if f.done != nil {
		f.done(l.now)
	}
	n.afterCall(l, f.client)
}
