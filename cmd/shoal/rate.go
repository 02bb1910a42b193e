package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseRate reads a rate such as 500kbit, 3mbit, 1.5gbit or 2000000 (bits
// per second) and returns bits per second.
func parseRate(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}, {"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bps", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1e12 {
		return 0, fmt.Errorf("rate %q: want a number with an optional unit, like 500kbit, 3mbit or 1gbit", s)
	}
	return int64(v * mult), nil
}
