package integrity

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
)

// batchLeaves is how many blocks BuildTree reads before it hands them to the
// hashing goroutines: 4 MiB, enough to amortise a goroutine per worker and
// small enough to keep two batches in memory.
const batchLeaves = 256

// BuildTree reads exactly size bytes from r and returns their tree. It
// returns ErrSize when r ends before size bytes or still has bytes after
// them, and the read error, wrapped, when reading fails.
//
// Blocks are read in order on the calling goroutine; while one batch is read
// the previous one is hashed on GOMAXPROCS goroutines, all of which have
// ended when BuildTree returns. The result does not depend on the schedule.
// If progress is not nil it is called on the calling goroutine after each
// batch is hashed with the number of bytes hashed so far, the last time with
// size (once with 0 for an empty file).
func BuildTree(r io.Reader, size int64, progress func(doneBytes int64)) (*Tree, error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	n := NumLeaves(size)
	workers := runtime.GOMAXPROCS(0)
	batchBytes := int64(batchLeaves * LeafSize)
	bufLen := min(size, batchBytes)
	// leaves grows as bytes arrive, so a size that the stream does not
	// back cannot make BuildTree allocate for it up front.
	leaves := make([]Hash, 0, min(n, 64*batchLeaves))
	var bufs [2][]byte
	var wg sync.WaitGroup
	hashedBytes, pendingBytes := int64(0), int64(0)
	report := func() {
		hashedBytes += pendingBytes
		pendingBytes = 0
		if progress != nil {
			progress(hashedBytes)
		}
	}
	for off, k := int64(0), 0; off < size; off, k = off+batchBytes, k^1 {
		chunk := min(size-off, batchBytes)
		if bufs[k] == nil {
			bufs[k] = make([]byte, bufLen)
		}
		buf := bufs[k][:chunk]
		// The other buffer may still be hashing while this one is read.
		if _, err := io.ReadFull(r, buf); err != nil {
			wg.Wait()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: stream ended before %d bytes", ErrSize, size)
			}
			return nil, fmt.Errorf("integrity: read at byte %d: %w", off, err)
		}
		wg.Wait()
		if pendingBytes > 0 {
			report()
		}
		start := len(leaves)
		count := int((chunk-1)/LeafSize + 1)
		leaves = slices.Grow(leaves, count)[:start+count]
		hashBlocks(&wg, workers, leaves[start:start+count], buf)
		pendingBytes = chunk
	}
	wg.Wait()
	if pendingBytes > 0 || size == 0 {
		report()
	}
	var extra [1]byte
	switch m, err := io.ReadFull(r, extra[:]); {
	case m > 0:
		return nil, fmt.Errorf("%w: stream is longer than %d bytes", ErrSize, size)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("integrity: read after byte %d: %w", size, err)
	}
	t := &Tree{size: size}
	t.build(leaves)
	return t, nil
}

// hashBlocks hashes the consecutive blocks of buf into dst, split into
// contiguous runs over up to workers goroutines tracked by wg; with one
// worker it hashes inline.
func hashBlocks(wg *sync.WaitGroup, workers int, dst []Hash, buf []byte) {
	if workers <= 1 || len(dst) == 1 {
		hashRun(dst, buf, 0)
		return
	}
	per := (len(dst) + workers - 1) / workers
	for first := 0; first < len(dst); first += per {
		last := min(first+per, len(dst))
		wg.Go(func() { hashRun(dst[first:last], buf, first) })
	}
}

// hashRun hashes blocks first, first+1, ... of buf into dst.
func hashRun(dst []Hash, buf []byte, first int) {
	for j := range dst {
		lo := (first + j) * LeafSize
		hi := min(lo+LeafSize, len(buf))
		dst[j] = LeafHash(buf[lo:hi])
	}
}
