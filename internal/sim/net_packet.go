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
	packetBytes      = 1500 // slot size; larger datagrams use a side buffer
	chunkShift       = 10
	packetsPerChunk  = 1 << chunkShift
	packetChunkBytes = packetsPerChunk * packetBytes
	maxPacketChunks  = 1 << 15 // 32 Mi slots, 48 GiB: more than any run holds
	// The first chunks come from a region of huge pages, the rest from
	// the Go heap.
	packetRegionBytes = 4 << 30
)

type packetChunk struct {
	data     []byte                  // packetChunkBytes
	oversize [packetsPerChunk][]byte // for datagrams larger than packetBytes
}

type packetPool struct {
	chunks  *[maxPacketChunks]*packetChunk
	nChunks atomic.Int32
	region  []byte // where chunks are cut from first (see hugeRegion)
}

// init makes the pool empty, with its region, given back when the pool is
// no longer reachable.
func (pp *packetPool) init() {
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
	if off := int(c) * packetChunkBytes; off+packetChunkBytes <= len(pp.region) {
		pc.data = pp.region[off : off+packetChunkBytes : off+packetChunkBytes]
	} else {
		pc.data = make([]byte, packetChunkBytes)
	}
	pp.chunks[c] = pc
	base := c << chunkShift
	for j := int32(packetsPerChunk - 1); j >= 0; j-- {
		free = append(free, base+j)
	}
	return free
}

// slot returns slot p as an empty buffer with room for packetBytes.
func (pp *packetPool) slot(p int32) []byte {
	off := int(p&(packetsPerChunk-1)) * packetBytes
	return pp.chunks[p>>chunkShift].data[off : off : off+packetBytes]
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
	if len(d) <= packetBytes {
		copy(s[:len(d)], d)
		return
	}
	o := &pp.chunks[p>>chunkShift].oversize[p&(packetsPerChunk-1)]
	*o = append((*o)[:0], d...)
}

// data returns the sizeBytes of slot p.
func (pp *packetPool) data(p int32, sizeBytes int) []byte {
	if sizeBytes > packetBytes {
		return pp.chunks[p>>chunkShift].oversize[p&(packetsPerChunk-1)][:sizeBytes]
	}
	return pp.slot(p)[:sizeBytes]
}
