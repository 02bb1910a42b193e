package core_test

import (
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
)

// TestTickInterval: a viewer's housekeeping runs every TickInterval, a live
// origin's twice as often.
func TestTickInterval(t *testing.T) {
	f, vs := newLiveFixture(t, 1, 1, nil)
	tick := core.DefaultConfig().TickInterval
	for _, c := range []struct {
		name string
		e    *core.Engine
		want time.Duration
	}{{"origin", f.origin.e, tick / 2}, {"viewer", vs[0].e, tick}} {
		now := 5 * time.Second
		c.e.HandleTimeout(now)
		if got := c.e.NextDeadline() - now; got != c.want {
			t.Errorf("%s: next tick %v after the last, want %v", c.name, got, c.want)
		}
	}
}
