package core

import (
	"math/rand/v2"
	"testing"
	"time"
)

// emptyBucketEngine returns an engine capped at bps whose bucket is empty
// at 10 s.
func emptyBucketEngine(t *testing.T, bps int64) (*Engine, Config) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MaxUploadBps = bps
	cfg.Rand = rand.New(rand.NewPCG(1, 1))
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.tokens, e.tokensAt = 0, 10*time.Second
	return e, cfg
}

// TestCappedEngineWakesForFour: an engine held to its upload cap, with its
// bucket empty, asks to be woken when four full datagrams may go, not one:
// a quarter of the wake-ups of pacing datagram by datagram.
func TestCappedEngineWakesForFour(t *testing.T) {
	e, cfg := emptyBucketEngine(t, 3_000_000)
	now, size := e.tokensAt, cfg.MaxDatagramBytes
	if e.uploadAllowed(now, size) {
		t.Fatal("an empty bucket let a datagram go")
	}
	want := now + time.Duration(float64(4*size)*8/float64(cfg.MaxUploadBps)*float64(time.Second)) + time.Microsecond
	if d := e.wakeAt - want; d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("wakes at %v, want %v (four datagrams of the cap later)", e.wakeAt, want)
	}
	// woken then, four go back to back and the fifth waits
	for i := range 4 {
		if !e.uploadAllowed(e.wakeAt, size) {
			t.Fatalf("datagram %d of four refused at the wake-up", i+1)
		}
		e.spend(size)
	}
	if e.uploadAllowed(e.tokensAt, size) {
		t.Fatal("a fifth datagram went without waiting")
	}
}

// TestBucketShortAgreesWithUploadAllowed: the side-effect-free check that
// lets PollTransmit skip choosing a datagram must say "short" exactly when
// uploadAllowed would refuse, and must change nothing itself.
func TestBucketShortAgreesWithUploadAllowed(t *testing.T) {
	e, cfg := emptyBucketEngine(t, 2_850_000)
	now, size := e.tokensAt, cfg.MaxDatagramBytes
	checked, short := 0, 0
	for step := range 4000 {
		now += time.Duration(137+step%29) * time.Microsecond
		tokens, at, wake := e.tokens, e.tokensAt, e.wakeAt
		s := e.bucketShort(now, size)
		if e.tokens != tokens || e.tokensAt != at || e.wakeAt != wake {
			t.Fatalf("step %d: bucketShort changed the bucket", step)
		}
		allowed := e.uploadAllowed(now, size)
		if s == allowed {
			t.Fatalf("step %d at %v: bucketShort %v but uploadAllowed %v", step, now, s, allowed)
		}
		if allowed {
			e.spend(size)
		} else {
			short++
		}
		checked++
	}
	if short == 0 || short == checked {
		t.Fatalf("%d of %d steps short: the test does not cover both answers", short, checked)
	}
}
