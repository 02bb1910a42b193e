package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/shoalstream/shoal/internal/sim"
)

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shoal sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := sim.DefaultOptions("live-steady")
	scenario := fs.String("scenario", "live-steady", "scenario to run: "+strings.Join(sim.ScenarioNames(), ", "))
	peers := fs.Int("peers", 0, "number of viewers (0 = the scenario's default)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same run")
	duration := fs.Duration("duration", def.Duration, "virtual time to simulate")
	rate := fs.String("rate", "2mbit", "stream rate, e.g. 500kbit, 2mbit")
	delay := fs.Duration("delay", def.PlayDelay, "how far behind live viewers play")
	originUp := fs.Float64("origin-up", def.OriginUpFactor, "origin upload as a multiple of the stream rate")
	viewerUp := fs.Float64("viewer-up", def.ViewerUpFactor, "mean viewer upload as a multiple of the stream rate")
	booster := fs.Float64("booster", def.BoosterFactor, "booster / web seed capacity as a multiple of the stream rate (0 = none)")
	loss := fs.Float64("loss", def.Net.LossRate, "random datagram loss rate")
	fragment := fs.Int("fragment-bytes", def.FragmentBytes, "payload of one Data datagram, which crosses the network as a burst of MTU-sized packets when larger; 4480 cuts the CPU of a run by about a quarter with a coarser network, 0 sends whole chunks")
	realCrypto := fs.Bool("real-crypto", false, "check chunks with SHA-256 and Ed25519 as real peers do (slower); otherwise a 64-bit hash stands in")
	workers := fs.Int("workers", 0, "goroutines running the nodes (0 = one per CPU); the run does not depend on it")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	plot := fs.String("plot", "", "also draw the run over time to this .svg or .png file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (read it with go tool pprof)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: shoal sim [flags]

Runs many real Shoal engines in one process, in virtual time, over a modelled
network (bandwidth, latency, loss, queues, NAT, churn), and reports how close
the swarm came to the theoretical limits. The same flags give the same run.

Scenarios:
`)
		for _, n := range sim.ScenarioNames() {
			fmt.Fprintf(stderr, "  %-17s %s\n", n, sim.ScenarioDoc(n))
		}
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExample:\n  shoal sim --scenario live-churn --peers 500 --seed 7 --plot churn.svg\n")
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "shoal sim: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	opt := sim.DefaultOptions(*scenario)
	if *peers != 0 {
		opt.Peers = *peers
	}
	bps, err := parseRate(*rate)
	if err != nil {
		return fmt.Errorf("--rate: %w", err)
	}
	opt.Seed, opt.Duration, opt.StreamRateBps, opt.PlayDelay = *seed, *duration, bps, *delay
	opt.OriginUpFactor, opt.ViewerUpFactor, opt.BoosterFactor = *originUp, *viewerUp, *booster
	opt.Net.LossRate = *loss
	opt.FragmentBytes, opt.RealCrypto = *fragment, *realCrypto
	opt.Workers = *workers
	if err := opt.Validate(); err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if !*asJSON {
		bar = progressbar.NewOptions64(int64(opt.Duration/time.Second),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("simulating %s", opt.Scenario)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("virtual s"),
			progressbar.OptionShowIts(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
		opt.Progress = func(done, total time.Duration) { _ = bar.Set64(int64(done / time.Second)) }
	}
	var prof *os.File
	if *cpuProfile != "" {
		if prof, err = os.Create(*cpuProfile); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			prof.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	start := time.Now()
	res, err := sim.Simulate(opt)
	if prof != nil {
		pprof.StopCPUProfile()
		if cerr := prof.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--cpuprofile: %w", cerr)
		}
	}
	if err != nil {
		return err
	}
	wall := time.Since(start)
	if bar != nil {
		_ = bar.Finish()
	}
	if *plot != "" {
		if err := res.Plot(*plot); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	res.WriteTable(stdout, wall)
	if *plot != "" {
		fmt.Fprintf(stdout, "plot\t%s\n", *plot)
	}
	return nil
}
