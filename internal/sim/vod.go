package sim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

// fileSource is the published file: held once in memory, shared by every
// node's store (stores only record which chunks a node holds, and check
// that what the engine stores is the file's own bytes).
type fileSource struct {
	r       *Run
	data    []byte
	n       int
	web     *Service
	dur     time.Duration // media time of one chunk
	seekGap time.Duration
}

const fileSeconds = 180

func (r *Run) setupFile() {
	size := int(r.opt.StreamRateBps / 8 * fileSeconds)
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(r.rng.Uint64(), 11))
	for i := 0; i+8 <= len(data); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	leaves := make([]integrity.Hash, integrity.NumLeaves(int64(size)))
	for i := range leaves {
		block := data[i*integrity.LeafSize : min((i+1)*integrity.LeafSize, size)]
		if r.opt.RealCrypto {
			leaves[i] = integrity.LeafHash(block)
		} else {
			leaves[i] = r.fast.LeafHash(block)
		}
	}
	tree, err := integrity.NewTree(leaves, int64(size))
	if err != nil {
		panic(err)
	}
	f := &fileSource{r: r, data: data, n: len(leaves), seekGap: 30 * time.Second,
		dur: time.Duration(int64(integrity.LeafSize) * 8 * int64(time.Second) / r.opt.StreamRateBps)}
	r.file = f
	r.desc = core.SwarmDescriptor{Kind: core.OnDemand, ID: tree.Root(), Size: int64(size), Leaves: leaves, RateBps: r.opt.StreamRateBps, FragmentBytes: r.fragmentBytes(integrity.LeafSize)}

	r.addOrigin(64, func(o *node) core.Store { return &fileStore{f: f, node: o} })
	f.web = r.newHTTPService("web seed")
}

func (f *fileSource) chunk(i int) []byte {
	return f.data[i*integrity.LeafSize : min((i+1)*integrity.LeafSize, len(f.data))]
}

// fileStore is one node's view of the shared file.
type fileStore struct {
	f    *fileSource
	node *node
	has  bitset1
}

func (f *fileSource) newStore(n *node) core.Store { return &fileStore{f: f, node: n} }

func (s *fileStore) ReadChunk(dst []byte, i int) ([]byte, error) {
	if !s.node.origin && !s.has.has(i) {
		return dst, fmt.Errorf("sim: chunk %d not stored", i)
	}
	return append(dst, s.f.chunk(i)...), nil
}

func (s *fileStore) WriteChunk(i int, data []byte) error {
	if !bytes.Equal(data, s.f.chunk(i)) {
		s.f.r.tally(s.node).unverified += int64(len(data)) // the engine kept bytes that are not the file's
	}
	s.has.set(i)
	return nil
}

func (s *fileStore) DeleteChunk(i int) {
	if i>>6 < len(s.has) {
		s.has[i>>6] &^= 1 << (uint(i) & 63)
	}
}

// webFetch is the driver's web seed duty: an HTTP range request.
func (r *Run) webFetch(now time.Duration, n *node, start, end uint64) {
	f := r.file
	if f.web == nil {
		n.e.HandleFetchDone(now, r.desc.ID, start, end, true)
		return
	}
	size := 0
	for i := start; i < end; i++ {
		size += len(f.chunk(int(i)))
	}
	f.web.Fetch(now, n.addr, size+300, func(now time.Duration) {
		if n.gone {
			return
		}
		r.tally(n).boosterBytes += int64(size)
		r.call(now, n, func() {
			for i := start; i < end; i++ {
				_ = n.e.HandleFetched(now, r.desc.ID, i, f.chunk(int(i)))
			}
			n.e.HandleFetchDone(now, r.desc.ID, start, end, false)
		})
	})
}

// startPlayer starts a viewer's player at the file's beginning.
func (f *fileSource) startPlayer(now time.Duration, n *node) {
	n.seeking = true
	n.seekAt = now
	n.pos = 0
	f.want(now, n)
	n.nextSeek = now + time.Duration(f.r.rng.ExpFloat64()*float64(f.seekGap))
	f.r.net.At(now+f.dur, func(t time.Duration) { f.step(t, n) })
}

func (f *fileSource) want(now time.Duration, n *node) {
	r := f.r
	off := int64(n.pos) * integrity.LeafSize
	r.call(now, n, func() { _ = n.e.Want(now, r.desc.ID, off, 4*integrity.LeafSize) })
}

func (f *fileSource) onReady(now time.Duration, n *node, seq uint64) {
	if !n.seeking || int(seq) != n.pos {
		return
	}
	n.seeking = false
	n.playing = true
	if !n.ready {
		n.ready = true
		t := f.r.tally(n)
		t.starts = append(t.starts, now-n.seekAt)
	} else {
		t := f.r.tally(n)
		t.seeks = append(t.seeks, now-n.seekAt)
	}
}

// step is the player's clock: one chunk of media per chunk time, a stall
// when the next chunk is not there, a seek now and then.
func (f *fileSource) step(now time.Duration, n *node) {
	r := f.r
	if n.gone {
		return
	}
	defer r.net.At(now+f.dur, func(t time.Duration) { f.step(t, n) })
	if now >= n.nextSeek && !n.seeking {
		n.nextSeek = now + time.Duration(r.rng.ExpFloat64()*float64(f.seekGap))
		n.pos = r.rng.IntN(f.n * 9 / 10)
		n.seeking = true
		n.playing = false
		n.seekAt = now
		f.want(now, n)
		return
	}
	if !n.playing {
		return
	}
	if n.pos >= f.n {
		n.playing = false
		return
	}
	if n.e.HaveChunk(r.desc.ID, uint64(n.pos)) {
		r.tally(n).played++
		n.pos++
		n.waitFrom = 0
		if n.pos < f.n {
			f.want(now, n)
		}
		return
	}
	r.tally(n).missed++
	if n.waitFrom == 0 {
		n.waitFrom = now
		r.tally(n).stalls++
	}
}
