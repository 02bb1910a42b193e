package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/shoalstream/shoal/internal/core"
)

// Scenario is a named, seeded experiment. Adding one is adding an entry to
// scenarios: say what it is and schedule its joins, departures and seeks.
type Scenario struct {
	Name         string
	Doc          string
	Kind         core.Kind
	DefaultPeers int
	// Setup schedules the scenario's actions on a run whose origin exists.
	Setup func(r *Run)
}

var scenarios = []Scenario{
	{
		Name: "live-steady", Kind: core.Live, DefaultPeers: 1000,
		Doc: "viewers join over the first 20 s and stay",
		Setup: func(r *Run) {
			r.joinSpread(0, 20*time.Second, r.opt.Peers, 0)
		},
	},
	{
		Name: "live-churn", Kind: core.Live, DefaultPeers: 500,
		Doc: "as live-steady, then 10% of viewers leave per minute (Poisson) and are replaced",
		Setup: func(r *Run) {
			r.joinSpread(0, 20*time.Second, r.opt.Peers, 0)
			r.churn(30*time.Second, 0.10)
		},
	},
	{
		Name: "live-flash-crowd", Kind: core.Live, DefaultPeers: 1000,
		Doc: "every viewer joins within 10 s, 10 s after the stream starts",
		Setup: func(r *Run) {
			r.joinSpread(10*time.Second, 20*time.Second, r.opt.Peers, 0)
		},
	},
	{
		Name: "live-poison", Kind: core.Live, DefaultPeers: 300,
		Doc: "as live-steady, with 20% of viewers corrupting every chunk they relay",
		Setup: func(r *Run) {
			r.joinSpread(0, 20*time.Second, r.opt.Peers, 0.2)
		},
	},
	{
		Name: "vod-seek", Kind: core.OnDemand, DefaultPeers: 150,
		Doc: "viewers join over 60 s, watch a file from its start and seek at random (every 30 s on average)",
		Setup: func(r *Run) {
			r.joinSpread(0, 60*time.Second, r.opt.Peers, 0)
		},
	},
}

func lookup(name string) (*Scenario, bool) {
	for i := range scenarios {
		if scenarios[i].Name == name {
			return &scenarios[i], true
		}
	}
	return nil, false
}

// ScenarioNames lists the scenarios in order.
func ScenarioNames() []string {
	var s []string
	for _, sc := range scenarios {
		s = append(s, sc.Name)
	}
	return s
}

// ScenarioDoc describes a scenario in one line.
func ScenarioDoc(name string) string {
	if sc, ok := lookup(name); ok {
		return sc.Doc
	}
	return ""
}

// joinSpread has n viewers join at uniform random times in [from, to);
// a fraction bad of them lie.
func (r *Run) joinSpread(from, to time.Duration, n int, bad float64) {
	times := make([]time.Duration, n)
	for i := range times {
		times[i] = from + time.Duration(r.rng.Int64N(int64(to-from)))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	nbad := int(math.Round(bad * float64(n)))
	liars := r.rng.Perm(n)[:nbad]
	isBad := make([]bool, n)
	for _, i := range liars {
		isBad[i] = true
	}
	for i, t := range times {
		b := isBad[i]
		r.net.At(t, func(now time.Duration) { r.join(now, b) })
	}
}

// churn makes viewers leave as a Poisson process of rate perMinute×N per
// minute from start on, each replaced at once by a newcomer.
func (r *Run) churn(start time.Duration, perMinute float64) {
	rate := perMinute * float64(r.opt.Peers) / 60 // per second
	var next func(now time.Duration)
	next = func(now time.Duration) {
		if len(r.alive) > 0 {
			v := r.alive[r.rng.IntN(len(r.alive))]
			r.leave(now, v)
			r.join(now, v.bad)
		}
		gap := time.Duration(r.rng.ExpFloat64() / rate * float64(time.Second))
		if now+gap < r.opt.Duration {
			r.net.At(now+gap, next)
		}
	}
	gap := time.Duration(r.rng.ExpFloat64() / rate * float64(time.Second))
	r.net.At(start+gap, next)
}

// Simulate runs one scenario to the end and returns its report.
func Simulate(opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	sc, _ := lookup(opt.Scenario)
	ncfg := opt.Net
	// every datagram in flight gets a slot its size (see Config.SlotBytes)
	ncfg.SlotBytes = max(ncfg.SlotBytes, opt.datagramBytes())
	net, err := New(ncfg, opt.Seed)
	if err != nil {
		return nil, err
	}
	net.SetWindow(opt.Net.MinLatency)
	workers := opt.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if watch != nil || wrap != nil {
		workers = 1 // tests' hooks keep their own state
	}
	net.SetWorkers(workers)
	r := &Run{
		opt: opt, sc: sc, net: net,
		rng:   rand.New(rand.NewPCG(opt.Seed, 0x5eed)),
		lanes: make([]tally, workers+1),
	}
	r.fast = fastIntegrity{key: r.rng.Uint64()}
	switch sc.Kind {
	case core.Live:
		r.setupLive()
	case core.OnDemand:
		r.setupFile()
	}
	if hook != nil {
		hook(r)
	}
	r.series.init(r)
	sc.Setup(r)
	adv := newHeapAdvice()
	adv.reserve(opt.heapEstimate())
	net.SetProgress(opt.Duration/200, func(now time.Duration) {
		adv.run() // the heap grows most in the first seconds
		if opt.Progress != nil {
			opt.Progress(now, opt.Duration)
		}
	})
	net.Run(opt.Duration)
	r.accrueUpload(opt.Duration)
	return r.result(), nil
}

// String names a run in messages.
func (o Options) String() string {
	return fmt.Sprintf("%s peers=%d seed=%d duration=%v", o.Scenario, o.Peers, o.Seed, o.Duration)
}

// hook lets tests see a run before it starts.
var hook func(*Run)
