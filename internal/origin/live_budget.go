package origin

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrLate is returned by WaitBy when the budget could not cover the bytes
// before the deadline; nothing was taken from it.
var ErrLate = errors.New("origin: upload budget cannot send it in time")

// Budget is the origin's one upload budget, shared by the swarm seed and the
// booster: the seed reports what it sent with Spend, the booster waits for
// room with Wait or WaitBy. Waiters reserve their bytes in the order they
// come, so the wait a new one faces is known when it asks. A nil Budget, or
// one with a zero rate, is unlimited.
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
	b.tokens = max(b.tokens-float64(n), min(b.tokens, -b.burst))
	b.mu.Unlock()
}

// Wait takes n bytes from the budget, waiting until it has room or ctx ends.
func (b *Budget) Wait(ctx context.Context, n int) error {
	return b.WaitBy(ctx, n, time.Time{})
}

// WaitBy is Wait for bytes that are of no use after deadline: when the
// reservations ahead and the rate would make it later than that, it takes
// nothing and returns ErrLate at once. A zero deadline is none.
func (b *Budget) WaitBy(ctx context.Context, n int, deadline time.Time) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	now := time.Now()
	b.refill(now)
	left := b.tokens - float64(n)
	wait := time.Duration(0)
	if left < 0 {
		wait = time.Duration(-left * 8 / b.rateBps * float64(time.Second))
	}
	if !deadline.IsZero() && now.Add(wait).After(deadline) {
		b.mu.Unlock()
		return ErrLate
	}
	b.tokens = left
	b.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		b.mu.Lock()
		b.tokens += float64(n) // give back what was not sent
		b.mu.Unlock()
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
