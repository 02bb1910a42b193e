package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUnknownScenarioListsValidOnes(t *testing.T) {
	code, _, stderr := runCLI("sim", "--scenario", "nope", "--json")
	if code == 0 || !strings.Contains(stderr, "live-steady") || !strings.Contains(stderr, "vod-seek") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestBadFlagIsAUsageError(t *testing.T) {
	if code, _, stderr := runCLI("sim", "--peers", "many"); code != 2 || !strings.Contains(stderr, "peers") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if code, _, _ := runCLI("frobnicate"); code != 2 {
		t.Fatalf("unknown command: code %d", code)
	}
}

func TestSimJSONHasTheContractFields(t *testing.T) {
	code, stdout, stderr := runCLI("sim", "--scenario", "live-steady", "--peers", "5", "--duration", "15s", "--json")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range strings.Fields("scenario seed peers duration_s stream_rate_bps p2p_share origin_egress_bytes origin_bound_bytes booster_bytes delay_p50_s delay_p95_s delay_p99_s delay_bound_s continuity join_p50_s join_p95_s start_p95_s seek_p95_s stalls unverified_bytes_played bad_peers_banned events digest") {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing", k)
		}
	}
}

func TestSimWritesACPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.out")
	if code, _, stderr := runCLI("sim", "--peers", "5", "--duration", "10s", "--json", "--cpuprofile", path); code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof profiles are gzipped protobuf
		t.Fatalf("%s is not a gzipped profile: % x", path, b[:min(len(b), 8)])
	}
	code, _, stderr := runCLI("sim", "--peers", "5", "--duration", "10s", "--json", "--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.out"))
	if code == 0 || !strings.Contains(stderr, "--cpuprofile") {
		t.Fatalf("unwritable profile path: code %d, stderr %q", code, stderr)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"500kbit": 500_000, "3mbit": 3_000_000, "1.5Mbit": 1_500_000, "2000": 2000} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-1mbit", "3 furlongs"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}
