package sim

import (
	"runtime"
	"sync/atomic"
)

// Datagrams in flight live in a pool of fixed slots cut from large chunks,
// so a datagram costs no allocation and its bytes are found from its index
// alone: an event carries the index, size, sender and receiver, and only
// delivery touches the bytes.
//
// The chunks are shared by every lane (see lane); each lane keeps its own
// list of free slots, so lanes running at once never share one. A chunk is
// never moved or freed, and a slot is only read after the window in which
// it was written, so reads need no lock.
const (
	minSlotBytes    = 1500
	maxSlotBytes    = 1 << 16
	chunkShift      = 10
	packetsPerChunk = 1 << chunkShift
	maxPacketChunks = 1 << 15 // 32 Mi slots: more than any run holds
	// The first chunks come from a region of huge pages, the rest from
	// the Go heap.
	packetRegionBytes = 4 << 30
)

type packetChunk struct {
	data     []byte                  // packetsPerChunk slots
	oversize [packetsPerChunk][]byte // for datagrams larger than a slot
}

type packetPool struct {
	chunks    *[maxPacketChunks]*packetChunk
	nChunks   atomic.Int32
	slotBytes int    // Config.SlotBytes rounded up to whole cache lines
	region    []byte // where chunks are cut from first (see hugeRegion)
}

// init makes the pool empty, with slots of at least slotBytes and its
// region, given back when the pool is no longer reachable.
func (pp *packetPool) init(slotBytes int) {
	pp.slotBytes = (slotBytes + 63) &^ 63
	pp.chunks, pp.region = new([maxPacketChunks]*packetChunk), hugeRegion(packetRegionBytes)
	if pp.region != nil {
		runtime.AddCleanup(pp.chunks, freeHugeRegion, pp.region)
	}
}

// grow adds a chunk and appends its slots to free.
func (pp *packetPool) grow(free []int32) []int32 {
	c := pp.nChunks.Add(1) - 1
	if c >= maxPacketChunks {
		panic("sim: packet pool exhausted")
	}
	pc := new(packetChunk)
	size := packetsPerChunk * pp.slotBytes
	if off := int(c) * size; off+size <= len(pp.region) {
		pc.data = pp.region[off : off+size : off+size]
	} else {
		pc.data = make([]byte, size)
	}
	pp.chunks[c] = pc
	base := c << chunkShift
	for j := int32(packetsPerChunk - 1); j >= 0; j-- {
		free = append(free, base+j)
	}
	return free
}

// slot returns slot p as an empty buffer with room for pp.slotBytes.
func (pp *packetPool) slot(p int32) []byte {
	off := int(p&(packetsPerChunk-1)) * pp.slotBytes
	return pp.chunks[p>>chunkShift].data[off : off : off+pp.slotBytes]
}

// store makes d, returned by an endpoint given slot(p), the content of p.
func (pp *packetPool) store(p int32, d []byte) {
	if len(d) == 0 {
		return
	}
	s := pp.slot(p)[:1]
	if &d[0] == &s[0] {
		return // written in place
	}
	if len(d) <= pp.slotBytes {
		copy(s[:len(d)], d)
		return
	}
	o := &pp.chunks[p>>chunkShift].oversize[p&(packetsPerChunk-1)]
	*o = append((*o)[:0], d...)
}

// data returns the sizeBytes of slot p.
func (pp *packetPool) data(p int32, sizeBytes int) []byte {
	if sizeBytes > pp.slotBytes {
		return pp.chunks[p>>chunkShift].oversize[p&(packetsPerChunk-1)][:sizeBytes]
	}
	return pp.slot(p)[:sizeBytes]
}
