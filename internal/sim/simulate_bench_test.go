package sim

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSimulate runs live-steady with real engines and reports the
// simulator's speed: events per second of CPU time, virtual seconds per
// CPU second, and the CPU time a default run (5 minutes of virtual time)
// would take at that speed. One op is one whole run; use -benchtime 1x.
// The last case is the default run itself (1,000 peers, 5 minutes):
//
//	go test -run '^$' -bench 'Simulate/peers=1000/virtual=5m' -benchtime 1x -timeout 1h ./internal/sim/
func BenchmarkSimulate(b *testing.B) {
	for _, c := range []struct {
		peers int
		dur   time.Duration
	}{{100, 30 * time.Second}, {1000, 30 * time.Second}, {1000, 5 * time.Minute}} {
		b.Run(fmt.Sprintf("peers=%d/virtual=%v", c.peers, c.dur), func(b *testing.B) {
			var events uint64
			cpu0 := cpuTime()
			for range b.N {
				o := DefaultOptions("live-steady")
				o.Peers, o.Duration = c.peers, c.dur
				res, err := Simulate(o)
				if err != nil {
					b.Fatal(err)
				}
				events += res.Events
			}
			cpu := (cpuTime() - cpu0).Seconds()
			virtual := float64(b.N) * c.dur.Seconds()
			b.ReportMetric(float64(events)/cpu, "events/cpu-s")
			b.ReportMetric(virtual/cpu, "virtual-s/cpu-s")
			b.ReportMetric(300/(virtual/cpu), "cpu-s/5min-run")
		})
	}
}
