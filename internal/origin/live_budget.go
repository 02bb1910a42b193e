package origin

import (
	"context"
	"sync"
	"time"
)

// Budget is the origin's one upload budget, shared by the swarm seed and the
// booster: the seed reports what it sent with Spend, the booster waits for
// room with Wait. A nil Budget, or one with a zero rate, is unlimited.
type Budget struct {
	rateBps float64
	burst   float64 // bytes

	mu     sync.Mutex
	tokens float64 // bytes; negative after the seed overspent
	last   time.Time
}

// NewBudget returns a token bucket filling at rateBps bits per second that
// holds at most a quarter second of it (at least 64 KiB).
func NewBudget(rateBps int64) *Budget {
	if rateBps <= 0 {
		return nil
	}
	burst := max(float64(rateBps)/8/4, 64<<10)
	return &Budget{rateBps: float64(rateBps), burst: burst, tokens: burst, last: time.Now()}
}

// RateBps returns the budget's rate in bits per second (0: unlimited).
func (b *Budget) RateBps() int64 {
	if b == nil {
		return 0
	}
	return int64(b.rateBps)
}

func (b *Budget) refill(now time.Time) {
	b.tokens += now.Sub(b.last).Seconds() * b.rateBps / 8
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.last = now
}

// Spend takes n bytes from the budget without waiting.
func (b *Budget) Spend(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.refill(time.Now())
	// a seed that overspends delays the booster by at most one burst
	b.tokens = max(b.tokens-float64(n), -b.burst)
	b.mu.Unlock()
}

// Wait takes n bytes from the budget, waiting until it has room or ctx ends.
func (b *Budget) Wait(ctx context.Context, n int) error {
	if b == nil {
		return nil
	}
	for {
		b.mu.Lock()
		b.refill(time.Now())
		if b.tokens >= 0 {
			b.tokens -= float64(n)
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration(-b.tokens * 8 / b.rateBps * float64(time.Second))
		b.mu.Unlock()
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
