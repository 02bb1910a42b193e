package udp

// Sliding replay window over packet counters, after RFC 6479 as WireGuard
// uses it: a ring of 64-bit blocks, cleared a block at a time as the window
// moves, so a check costs O(1) however far the counter jumps.
const (
	replayBlockBits  = 64
	replayRingBlocks = 2048 / replayBlockBits
	// replayWindow is how far behind the newest counter a packet may arrive
	// (1984); one block of the ring is always the one being reused.
	replayWindow = (replayRingBlocks - 1) * replayBlockBits
)

// replayFilter remembers which counters were accepted. The zero value has
// accepted nothing. It is not safe for concurrent use.
type replayFilter struct {
	newest uint64 // highest accepted counter; meaningful once any is accepted
	any    bool
	ring   [replayRingBlocks]uint64
}

// fresh reports whether counter has not been accepted and is inside the
// window. It changes nothing, so a packet can be checked before it is
// authenticated and marked only after.
func (f *replayFilter) fresh(counter uint64) bool {
	if !f.any || counter > f.newest {
		return true
	}
	if f.newest-counter >= replayWindow {
		return false
	}
	block := (counter / replayBlockBits) % replayRingBlocks
	return f.ring[block]&(1<<(counter%replayBlockBits)) == 0
}

// accept marks counter as seen; it must have passed fresh. It reports
// whether counter is now the newest one.
func (f *replayFilter) accept(counter uint64) (newest bool) {
	if !f.any || counter > f.newest {
		cur := f.newest / replayBlockBits
		next := counter / replayBlockBits
		if !f.any {
			f.ring = [replayRingBlocks]uint64{}
		} else {
			clear := next - cur
			if clear > replayRingBlocks {
				clear = replayRingBlocks
			}
			for i := uint64(1); i <= clear; i++ {
				f.ring[(cur+i)%replayRingBlocks] = 0
			}
		}
		f.newest = counter
		f.any = true
		newest = true
	}
	block := (counter / replayBlockBits) % replayRingBlocks
	f.ring[block] |= 1 << (counter % replayBlockBits)
	return newest
}
