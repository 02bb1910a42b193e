package tracker

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAnnounce measures one update announce, with its pick of peers,
// in swarms of growing size: the cost must not grow with the swarm.
func BenchmarkAnnounce(b *testing.B) {
	for _, peers := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("peers=%d", peers), func(b *testing.B) {
			tr, _ := newTestTracker(b, Config{})
			sw := swarmID(0)
			tr.AddSwarm(sw)
			for i := range peers {
				if _, err := tr.Announce(loopback, announceFor(sw, i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				a := announceFor(sw, i%peers)
				a.Event = EventUpdate
				if _, err := tr.Announce(loopback, a); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkParseAnnounce(b *testing.B) {
	a := announceFor(swarmID(0), 1)
	a.UploadBps, a.NumWant = 5_000_000, 30
	q := a.Values().Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAnnounce(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnnounceHTTP is one announce through the Client and the HTTP
// server on loopback, in a swarm of 10,000.
func BenchmarkAnnounceHTTP(b *testing.B) {
	tr, _ := newTestTracker(b, Config{})
	sw := swarmID(0)
	tr.AddSwarm(sw)
	const peers = 10_000
	for i := range peers {
		if _, err := tr.Announce(loopback, announceFor(sw, i)); err != nil {
			b.Fatal(err)
		}
	}
	c := serve(b, tr)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Announce(ctx, announceFor(sw, i%peers)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
