package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/shoalstream/shoal/internal/integrity"
)

// vodStore keeps a viewer's verified on-demand chunks, in memory or in a
// file, and lets readers on other goroutines wait for them. The engine calls
// ReadChunk, WriteChunk and DeleteChunk from its goroutine; it writes only
// chunks it has verified, so whatever read finds here is verified.
type vodStore struct {
	size int64
	n    int

	mu        sync.Mutex
	have      []bool
	haveBytes int64
	mem       map[int][]byte // nil when backed by f
	f         *os.File
	fresh     bool          // f was empty: nothing to check
	changed   chan struct{} // closed and replaced on every write
}

var errStoreClosed = errors.New("node: chunk store closed")

func newMemStore(size int64) *vodStore {
	n := integrity.NumLeaves(size)
	return &vodStore{size: size, n: n, have: make([]bool, n), mem: make(map[int][]byte), changed: make(chan struct{})}
}

// openFileStore opens path as the store of a file of size bytes, creating
// it or cutting it to size.
func openFileStore(path string, size int64) (*vodStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != size {
		err = f.Truncate(size)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("node: size %s to %d bytes: %w", path, size, err)
	}
	n := integrity.NumLeaves(size)
	return &vodStore{size: size, n: n, have: make([]bool, n), f: f, fresh: fi.Size() == 0, changed: make(chan struct{})}, nil
}

func (s *vodStore) chunkLen(i int) int {
	return int(min(integrity.LeafSize, s.size-int64(i)*integrity.LeafSize))
}

// check marks the chunks already in the file that match their leaves, and
// returns their indices; progress, when set, sees the bytes checked so far.
func (s *vodStore) check(leaves []integrity.Hash, progress func(done int64)) ([]int, error) {
	if s.f == nil || s.fresh {
		return nil, nil
	}
	var found []int
	buf := make([]byte, integrity.LeafSize)
	for i := 0; i < s.n; i++ {
		b := buf[:s.chunkLen(i)]
		if _, err := s.f.ReadAt(b, int64(i)*integrity.LeafSize); err != nil && err != io.EOF {
			return found, fmt.Errorf("node: read %s: %w", s.f.Name(), err)
		}
		if integrity.LeafHash(b) == leaves[i] {
			s.mu.Lock()
			s.have[i] = true
			s.haveBytes += int64(len(b))
			s.mu.Unlock()
			found = append(found, i)
		}
		if progress != nil && (i%64 == 63 || i == s.n-1) {
			progress(min(int64(i+1)*integrity.LeafSize, s.size))
		}
	}
	return found, nil
}

// ReadChunk appends chunk i to dst (core.Store).
func (s *vodStore) ReadChunk(dst []byte, i int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= s.n || !s.have[i] {
		return dst, fmt.Errorf("node: chunk %d not stored", i)
	}
	if s.mem != nil {
		return append(dst, s.mem[i]...), nil
	}
	if s.f == nil {
		return dst, errStoreClosed
	}
	start := len(dst)
	dst = append(dst, make([]byte, s.chunkLen(i))...)
	if _, err := s.f.ReadAt(dst[start:], int64(i)*integrity.LeafSize); err != nil && err != io.EOF {
		return dst[:start], err
	}
	return dst, nil
}

// WriteChunk stores verified chunk i and wakes the readers (core.Store).
func (s *vodStore) WriteChunk(i int, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= s.n || len(data) != s.chunkLen(i) {
		return fmt.Errorf("node: chunk %d of %d bytes does not fit", i, len(data))
	}
	if s.have[i] {
		return nil // found in the file at start: the same bytes
	}
	if s.mem != nil {
		s.mem[i] = append([]byte(nil), data...)
	} else if s.f == nil {
		return errStoreClosed
	} else if _, err := s.f.WriteAt(data, int64(i)*integrity.LeafSize); err != nil {
		return err
	}
	s.have[i] = true
	s.haveBytes += int64(len(data))
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// DeleteChunk forgets chunk i (the engine's cache eviction; core.Store).
func (s *vodStore) DeleteChunk(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= s.n || !s.have[i] {
		return
	}
	s.have[i] = false
	s.haveBytes -= int64(s.chunkLen(i))
	delete(s.mem, i)
}

// readAt copies the verified bytes from off into p, as many as are there
// without a gap, and returns their count with a channel that is closed at
// the next write.
func (s *vodStore) readAt(p []byte, off int64) (int, <-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(p) && off < s.size {
		i := int(off / integrity.LeafSize)
		if !s.have[i] {
			break
		}
		in := off - int64(i)*integrity.LeafSize
		k := min(len(p)-n, s.chunkLen(i)-int(in))
		if s.mem != nil {
			copy(p[n:n+k], s.mem[i][in:])
		} else if s.f == nil {
			return n, s.changed, errStoreClosed
		} else if _, err := s.f.ReadAt(p[n:n+k], off); err != nil && err != io.EOF {
			return n, s.changed, err
		}
		n += k
		off += int64(k)
	}
	return n, s.changed, nil
}

// firstMissing returns the first chunk at or after i not held, or -1.
func (s *vodStore) firstMissing(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ; i < s.n; i++ {
		if !s.have[i] {
			return i
		}
	}
	return -1
}

// held returns the verified bytes held and a channel closed at the next write.
func (s *vodStore) held() (int64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.haveBytes, s.changed
}

// sync flushes a file store to disk.
func (s *vodStore) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	return s.f.Sync()
}

func (s *vodStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
