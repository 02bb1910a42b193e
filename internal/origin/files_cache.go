package origin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/shoalstream/shoal/internal/integrity"
)

// The tree cache keeps one file per published version of a source in
// DataDir/trees, named by the SHA-256 of its key: the source (absolute path
// or URL), its size and its version (modification time, or ETag and
// Last-Modified). A file holds
//
//	"shoal-tree-v1\n" || meta as one line of JSON || "\n" || Tree.MarshalBinary
//
// and is used only when its key, size and root agree with what it claims,
// so a damaged or foreign file costs one hash, never a wrong ID.

const treeCacheMagic = "shoal-tree-v1\n"

// errTreeCache reports a cache file that cannot be used.
var errTreeCache = errors.New("unusable tree cache file")

type treeCacheMeta struct {
	Key     string         `json:"key"`
	Root    integrity.Hash `json:"root"`
	Size    int64          `json:"size"`
	RateBps int64          `json:"rate_bps"`
}

func localCacheKey(abs string, st fileStamp) string {
	return "file\x00" + abs + "\x00" + strconv.FormatInt(st.size, 10) + "\x00" + strconv.FormatInt(st.modTime.UnixNano(), 10)
}

func remoteCacheKey(raw string, info remoteInfo) string {
	return "url\x00" + raw + "\x00" + strconv.FormatInt(info.size, 10) + "\x00" + info.etag + "\x00" + info.lastModified
}

func cacheFileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:20]) + ".tree"
}

func encodeTreeCache(m treeCacheMeta, t *integrity.Tree) ([]byte, error) {
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	tree, err := t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(treeCacheMagic)+len(meta)+1+len(tree))
	b = append(b, treeCacheMagic...)
	b = append(b, meta...)
	b = append(b, '\n')
	return append(b, tree...), nil
}

// decodeTreeCache parses a cache file and checks that its tree has the size
// and root its meta claims.
func decodeTreeCache(b []byte) (treeCacheMeta, *integrity.Tree, error) {
	var m treeCacheMeta
	rest, ok := bytes.CutPrefix(b, []byte(treeCacheMagic))
	if !ok {
		return m, nil, fmt.Errorf("%w: no %q header", errTreeCache, treeCacheMagic[:len(treeCacheMagic)-1])
	}
	meta, tree, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return m, nil, fmt.Errorf("%w: no meta line", errTreeCache)
	}
	if err := json.Unmarshal(meta, &m); err != nil {
		return m, nil, fmt.Errorf("%w: meta: %w", errTreeCache, err)
	}
	t := new(integrity.Tree)
	if err := t.UnmarshalBinary(tree); err != nil {
		return m, nil, fmt.Errorf("%w: %w", errTreeCache, err)
	}
	if t.Size() != m.Size || t.Root() != m.Root || m.RateBps < 0 {
		return m, nil, fmt.Errorf("%w: tree of %d bytes with root %v, meta says %d bytes, root %v",
			errTreeCache, t.Size(), t.Root(), m.Size, m.Root)
	}
	return m, t, nil
}

// fromCache fills e's ID, tree and rate from the cache and reports whether
// it could.
func (f *Files) fromCache(e *fileEntry) bool {
	if f.cacheDir == "" || e.cacheKey == "" {
		return false
	}
	name := cacheFileName(e.cacheKey)
	b, err := os.ReadFile(filepath.Join(f.cacheDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err == nil {
		var m treeCacheMeta
		var t *integrity.Tree
		m, t, err = decodeTreeCache(b)
		switch {
		case err != nil:
		case m.Key != e.cacheKey || m.Size != e.pf.Size:
			err = fmt.Errorf("%w: written for another file", errTreeCache)
		default:
			e.pf.ID, e.pf.Tree, e.pf.RateBps, e.cacheFile = t.Root(), t, m.RateBps, name
			return true
		}
	}
	f.log.Warn("origin: files: tree cache not used, hashing again", "file", name, "err", err)
	return false
}

// toCache writes e's tree to the cache, atomically, and records the file in
// e. A failure is logged: the cache only saves time.
func (f *Files) toCache(e *fileEntry) {
	if f.cacheDir == "" || e.cacheKey == "" {
		return
	}
	name := cacheFileName(e.cacheKey)
	err := func() error {
		b, err := encodeTreeCache(treeCacheMeta{Key: e.cacheKey, Root: e.pf.ID, Size: e.pf.Size, RateBps: e.pf.RateBps}, e.pf.Tree)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(f.cacheDir, 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(f.cacheDir, ".tmp-*")
		if err != nil {
			return err
		}
		_, err = tmp.Write(b)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(f.cacheDir, name))
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
		return err
	}()
	if err != nil {
		f.log.Warn("origin: files: tree not cached", "name", e.pf.Name, "err", err)
		return
	}
	e.cacheFile = name
}

func (f *Files) removeCache(name string) {
	if err := os.Remove(filepath.Join(f.cacheDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		f.log.Warn("origin: files: stale tree cache file not removed", "file", name, "err", err)
	}
}
