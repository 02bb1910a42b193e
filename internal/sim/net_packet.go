package sim

// Datagrams in flight live in a pool of fixed slots cut from large chunks,
// so a datagram costs no allocation and its bytes are found from its index
// alone: an event carries the index, size, sender and receiver, and only
// delivery touches the bytes.
const (
	packetBytes      = 1500 // slot size; larger datagrams use a side buffer
	chunkShift       = 10
	packetsPerChunk  = 1 << chunkShift
	packetChunkBytes = packetsPerChunk * packetBytes
)

type packetPool struct {
	chunks   [][]byte
	free     []int32
	n        int32    // slots handed out so far
	oversize [][]byte // by slot, for datagrams larger than packetBytes
}

func (pp *packetPool) alloc() int32 {
	if k := len(pp.free); k > 0 {
		p := pp.free[k-1]
		pp.free = pp.free[:k-1]
		return p
	}
	if int(pp.n)>>chunkShift == len(pp.chunks) {
		pp.chunks = append(pp.chunks, make([]byte, packetChunkBytes))
	}
	pp.n++
	return pp.n - 1
}

func (pp *packetPool) release(p int32) { pp.free = append(pp.free, p) }

// slot returns slot p as an empty buffer with room for packetBytes.
func (pp *packetPool) slot(p int32) []byte {
	off := int(p&(packetsPerChunk-1)) * packetBytes
	return pp.chunks[p>>chunkShift][off : off : off+packetBytes]
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
	for int(p) >= len(pp.oversize) {
		pp.oversize = append(pp.oversize, nil)
	}
	pp.oversize[p] = append(pp.oversize[p][:0], d...)
}

// data returns the sizeBytes of slot p.
func (pp *packetPool) data(p int32, sizeBytes int) []byte {
	if sizeBytes > packetBytes {
		return pp.oversize[p][:sizeBytes]
	}
	return pp.slot(p)[:sizeBytes]
}
