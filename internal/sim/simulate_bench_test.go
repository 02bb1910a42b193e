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

// BenchmarkSimulateSteady measures only the steady part of a 1,000-viewer
// run (virtual 30 s to 60 s), where a default run spends most of its time:
// the first seconds, while viewers fill their windows with fresh memory,
// run slower.
//
//	go test -run '^$' -bench 'SimulateSteady' -benchtime 1x ./internal/sim/
func BenchmarkSimulateSteady(b *testing.B) {
	for _, workers := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var events uint64
			var cpu, wall time.Duration
			for range b.N {
				o := DefaultOptions("live-steady")
				o.Duration, o.Workers = 60*time.Second, workers
				var r *Run
				hook = func(x *Run) { r = x }
				var cpu0 time.Duration
				var wall0 time.Time
				var ev0 uint64
				o.Progress = func(done, total time.Duration) {
					if cpu0 == 0 && done >= 30*time.Second {
						cpu0, wall0, ev0 = cpuTime(), time.Now(), r.net.Events()
					}
				}
				res, err := Simulate(o)
				hook = nil
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - cpu0
				wall += time.Since(wall0)
				events += res.Events - ev0
			}
			b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(events)/wall.Seconds(), "events/wall-s")
		})
	}
}
