package sim

import (
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time: on a shared machine it
// tells more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNetwork runs 1,000 stub endpoints, each sending five 1,100-byte
// datagrams every 5 ms (8.8 Mb/s) to random neighbours, on 20/50 Mb/s
// links with the default latency, loss and queues. One op is one delivered
// datagram; ns/event counts every event the network processed (arrivals,
// deliveries, timers). The stubs write and read the first bytes of each
// datagram, as any engine would: with some 60,000 datagrams in flight that is
// a cache miss per datagram, a good part of the cost.
func BenchmarkNetwork(b *testing.B) { benchmarkNetwork(b, 1000, false) }

func benchmarkNetwork(b *testing.B, nodes int, noPayload bool) {
	n := mustNew(b, DefaultConfig(), 1)
	var peers []netip.AddrPort
	for i := range nodes {
		ep := newStubEP(&peers, uint64(i), 5*time.Millisecond, 5, 1100, false)
		ep.noPayload = noPayload
		peers = append(peers, n.AddNode(NodeConfig{UpBps: 20_000_000, DownBps: 50_000_000}, ep))
	}
	n.Run(500 * time.Millisecond) // fill the pools and the queue
	b.ReportAllocs()
	start := n.Totals().DatagramsReceived
	startEvents := n.Events()
	b.ResetTimer()
	cpu0 := cpuTime()
	for n.Totals().DatagramsReceived-start < int64(b.N) {
		n.Run(n.Now() + 10*time.Millisecond)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	events := n.Events() - startEvents
	delivered := n.Totals().DatagramsReceived - start
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(events)/float64(delivered), "events/datagram")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(delivered), "cpu-ns/datagram")
	b.ReportMetric(float64(n.Pending()), "queued-events")
}

// BenchmarkEventQueue measures a push and a pop on a queue holding 100,000
// events.
func BenchmarkEventQueue(b *testing.B) {
	var q eventQueue
	var x uint64 = 1
	next := func() time.Duration {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return time.Duration(x % uint64(200*time.Millisecond))
	}
	for range 100_000 {
		q.push(next(), evArrive, 0, 0)
	}
	b.ReportAllocs()
	for b.Loop() {
		e := q.pop()
		q.push(e.at+next(), evArrive, 0, 0)
	}
}
