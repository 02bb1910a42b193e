package integrity

import (
	"encoding/binary"
	"fmt"
)

// The encoded tree is compact: the interior layers are recomputed on load.
//
//	magic "SHMT" | version u8 | size u64 BE | NumLeaves(size) leaf hashes
const (
	treeMagic     = "SHMT"
	treeVersion   = 1
	treeHeaderLen = len(treeMagic) + 1 + 8
)

// MarshalBinary encodes the tree as its size and leaf hashes.
func (t *Tree) MarshalBinary() ([]byte, error) {
	leaves := t.Leaves()
	b := make([]byte, 0, treeHeaderLen+len(leaves)*HashSize)
	b = append(b, treeMagic...)
	b = append(b, treeVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(t.size))
	for i := range leaves {
		b = append(b, leaves[i][:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary encodes and rebuilds the
// interior layers. It returns ErrMalformed for anything else and leaves t
// unchanged then. The root it recomputes is only as trustworthy as the
// bytes: compare it with the expected content ID.
func (t *Tree) UnmarshalBinary(b []byte) error {
	if len(b) < treeHeaderLen {
		return fmt.Errorf("%w: tree: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), treeHeaderLen)
	}
	if string(b[:len(treeMagic)]) != treeMagic {
		return fmt.Errorf("%w: tree: bad magic %q", ErrMalformed, b[:len(treeMagic)])
	}
	if v := b[len(treeMagic)]; v != treeVersion {
		return fmt.Errorf("%w: tree: version %d, want %d", ErrMalformed, v, treeVersion)
	}
	size := binary.BigEndian.Uint64(b[len(treeMagic)+1:])
	if size > uint64(MaxSize) {
		return fmt.Errorf("%w: tree: size %d exceeds %d", ErrMalformed, size, MaxSize)
	}
	n := NumLeaves(int64(size))
	body := b[treeHeaderLen:]
	// Checked before allocating, so the input bounds the allocation.
	if uint64(len(body)) != uint64(n)*HashSize {
		return fmt.Errorf("%w: tree: %d bytes of leaves for %d bytes of file, want %d", ErrMalformed, len(body), size, uint64(n)*HashSize)
	}
	leaves := make([]Hash, n)
	for i := range leaves {
		copy(leaves[i][:], body[i*HashSize:])
	}
	t.size = int64(size)
	t.build(leaves)
	return nil
}
