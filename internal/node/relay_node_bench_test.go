package node

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
)

// relayHelperEnv makes the test binary run TestHelperRelayProcess as the
// relaying viewer of BenchmarkRelayNode.
const relayHelperEnv = "SHOAL_RELAY_HELPER"

// relayProfileEnv names a file for the CPU profile of the relaying viewer:
// SHOAL_RELAY_CPUPROFILE=/tmp/a.prof go test -bench RelayNode …
const relayProfileEnv = "SHOAL_RELAY_CPUPROFILE"

// BenchmarkRelayNode is BenchmarkRelay with viewer A in a child process (this
// test binary again, running TestHelperRelayProcess), so that A's CPU time
// is measured apart from the origin's and the last viewers'. A receives
// every chunk from the origin over Noise/UDP, verifies it against the
// origin's Ed25519 signature and forwards it over Noise/UDP, as `shoal
// play` does, to one, two or four last viewers (down=1, 2, 4), as a relay
// with upload to spare feeds several. An op is one chunk delivered to a
// last viewer; MB/s is what they receive together, all of it through A;
// relay-cpu-s/GiB is A's CPU time (user and system, from getrusage in A)
// per GiB relayed, and relay-MB/s/core is MB relayed per CPU-second of A;
// cpu-s/GiB is the CPU of both processes per GiB.
func BenchmarkRelayNode(b *testing.B) {
	for _, down := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("down=%d", down), func(b *testing.B) { benchRelayNode(b, down) })
	}
}

func benchRelayNode(b *testing.B, down int) {
	desc, signer := relayKeys(b)
	start := time.Now()
	nodes := newRelayNodes(b, desc, start)
	defer nodes.close()
	org, orgConn := nodes.add(true, nil, nil)
	r := newRelayRun(b, nodes, org, signer)
	r.sinks = down
	child := startRelayChild(b, desc.OriginKey, start, orgConn.LocalAddr())
	defer child.close()
	id := desc.ID
	for range down {
		sink, _ := nodes.add(false, func(c *core.Config) { c.MinPeers, c.MaxPeers = 1, 1 }, r.onSink)
		if err := sink.Post(nodes.ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, id, child.addr) }); err != nil {
			b.Fatal(err)
		}
	}
	waitConnected(b, func() bool {
		return nodes.peers(org) >= 1 && child.sample().peers >= 1+down
	})
	r.stuck = func() { b.Logf("A: %+v", child.sample()) }

	r.run(1024 * int64(down)) // warm up: handshakes, slow start, buffers in use
	a0 := child.sample()
	cpu0, cpuOK := processCPU()
	base := r.atB.Load()
	b.SetBytes(int64(relayChunkBytes))
	b.ResetTimer()
	r.run(base + int64(b.N))
	b.StopTimer()
	a1 := child.sample()
	relayed := float64(b.N) * float64(relayChunkBytes)
	gib := relayed / (1 << 30)
	relayCPU := (a1.cpu - a0.cpu).Seconds()
	b.ReportMetric(relayCPU/gib, "relay-cpu-s/GiB")
	b.ReportMetric(relayed/1e6/relayCPU, "relay-MB/s/core")
	if cpu1, ok := processCPU(); ok && cpuOK {
		b.ReportMetric(((cpu1-cpu0).Seconds()+relayCPU)/gib, "cpu-s/GiB")
	}
}

// relayChild is the relaying viewer running in a child process.
type relayChild struct {
	b    *testing.B
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr netip.AddrPort
}

type relaySample struct {
	cpu   time.Duration // user and system time of the whole child
	peers int
	sent  int64 // chunk bytes the relay uploaded
}

func startRelayChild(b *testing.B, pub ed25519.PublicKey, start time.Time, origin netip.AddrPort) *relayChild {
	args := []string{"-test.run=^TestHelperRelayProcess$", "-test.count=1"}
	if f := os.Getenv(relayProfileEnv); f != "" {
		args = append(args, "-test.cpuprofile="+f)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), relayHelperEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &relayChild{b: b, cmd: cmd, in: in, out: bufio.NewScanner(out)}
	fmt.Fprintf(in, "%s %d %s\n", hex.EncodeToString(pub), start.UnixNano(), origin)
	f := c.reply("relay-addr")
	if c.addr, err = netip.ParseAddrPort(f[0]); err != nil {
		b.Fatal(err)
	}
	return c
}

// reply returns the fields after tag of the child's next line that starts
// with it (the test framework may print lines of its own).
func (c *relayChild) reply(tag string) []string {
	for c.out.Scan() {
		f := strings.Fields(c.out.Text())
		if len(f) > 0 && f[0] == tag {
			return f[1:]
		}
	}
	c.b.Fatalf("relay child: no %s: %v", tag, c.out.Err())
	return nil
}

func (c *relayChild) sample() relaySample {
	fmt.Fprintln(c.in, "sample")
	f := c.reply("relay-sample")
	if len(f) != 3 {
		c.b.Fatalf("relay child: sample %q", f)
	}
	var s relaySample
	ns, err1 := strconv.ParseInt(f[0], 10, 64)
	peers, err2 := strconv.Atoi(f[1])
	sent, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		c.b.Fatalf("relay child: sample %q", f)
	}
	s.cpu, s.peers, s.sent = time.Duration(ns), peers, sent
	return s
}

func (c *relayChild) close() {
	c.in.Close() // the child stops at the end of its input
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.b.Errorf("relay child: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
		c.b.Error("relay child did not stop")
	}
}

// TestHelperRelayProcess is the relaying viewer of BenchmarkRelayNode. It
// reads the origin's public key, the start time and the origin's address
// from stdin, prints its own address, then answers each "sample" line with
// its CPU time, peer count and bytes uploaded, until stdin ends.
func TestHelperRelayProcess(t *testing.T) {
	if os.Getenv(relayHelperEnv) != "1" {
		t.Skip("run by BenchmarkRelayNode in a child process")
	}
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		t.Fatal("no parameters on stdin")
	}
	var pubHex, originAddr string
	var startNs int64
	if _, err := fmt.Sscan(in.Text(), &pubHex, &startNs, &originAddr); err != nil {
		t.Fatal(err)
	}
	pub, err := hex.DecodeString(pubHex)
	if err != nil {
		t.Fatal(err)
	}
	origin, err := netip.ParseAddrPort(originAddr)
	if err != nil {
		t.Fatal(err)
	}
	desc := relayDesc(ed25519.PublicKey(pub))
	nodes := newRelayNodes(t, desc, time.Unix(0, startNs))
	defer nodes.close()
	relay, conn := nodes.add(false, nil, nil)
	if err := relay.Post(nodes.ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, desc.ID, origin) }); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "relay-addr %s\n", conn.LocalAddr())
	out.Flush()
	for in.Scan() {
		if in.Text() != "sample" {
			continue
		}
		var st core.SwarmStats
		_ = relay.Call(nodes.ctx, func(_ time.Duration, e *core.Engine) { st, _ = e.SwarmStats(desc.ID) })
		cpu, _ := processCPU()
		fmt.Fprintf(out, "relay-sample %d %d %d\n", cpu.Nanoseconds(), st.Peers, st.BytesUploaded)
		out.Flush()
	}
}
