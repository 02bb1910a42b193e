package main

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "64k": 64 << 10, "512MiB": 512 << 20, "1.5GB": 1_500_000_000, "2g": 2 << 30, "10 mb": 10_000_000} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "big", "-1k", "3 furlongs"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestIsVODLink(t *testing.T) {
	for link, want := range map[string]bool{
		"http://o:8080/vod/abc/film.mp4": true,
		"https://o/vod/abc":              true,
		"http://o:8080/live/demo":        false,
		"http://o/video/x":               false,
		"/vod/abc/x":                     false,
	} {
		if got := isVODLink(link); got != want {
			t.Errorf("isVODLink(%q) = %v, want %v", link, got, want)
		}
	}
}

func TestGetAndPublishNeedTheirArguments(t *testing.T) {
	if code, _, stderr := runCLI("get", "http://o/vod/x/y"); code != 2 || !strings.Contains(stderr, "-o") {
		t.Errorf("get without -o: code %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI("get", "http://o/live/demo", "-o", "x"); code != 1 || !strings.Contains(stderr, "not an on-demand link") {
		t.Errorf("get of a live link: code %d, stderr %q", code, stderr)
	}
	if code, _, _ := runCLI("publish"); code != 2 {
		t.Errorf("publish without a file: code %d", code)
	}
	if code, _, stderr := runCLI("publish", "x.mp4", "--origin", "ftp://o"); code != 1 || !strings.Contains(stderr, "--origin") {
		t.Errorf("publish to a bad origin: code %d, stderr %q", code, stderr)
	}
}
