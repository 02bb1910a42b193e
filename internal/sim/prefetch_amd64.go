package sim

// prefetch asks the CPU to load the first two cache lines at p, without
// waiting for them.
//
//go:noescape
func prefetch(p *byte)
