package integrity

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/bits"
)

// LeafSize is the size of a block in bytes: the unit a leaf hash covers.
const LeafSize = 16 << 10

// MaxLeaves is the largest leaf count this package handles: 2^40 leaves
// (16 PiB) where int has 64 bits, fewer where it has 32.
const MaxLeaves = min(1<<40, math.MaxInt)

// MaxSize is the largest file size in bytes this package handles.
const MaxSize int64 = MaxLeaves * LeafSize

// maxDepth is the number of levels above the leaves in a tree of MaxLeaves.
const maxDepth = 40

// emptyRoot is the root of an empty file: SHA-256 of nothing.
var emptyRoot = Hash(sha256.Sum256(nil))

// zeroHashes[l] is the node at level l above the leaves whose subtree holds
// only padding.
var zeroHashes = func() (z [maxDepth + 1]Hash) {
	for l := 1; l <= maxDepth; l++ {
		z[l] = hashPair(&z[l-1], &z[l-1])
	}
	return z
}()

// NumLeaves returns the number of leaves (blocks) of a file of size bytes.
// It returns 0 for an empty file and for sizes outside [0, MaxSize], which
// every function here rejects with ErrSize.
func NumLeaves(size int64) int {
	if size <= 0 || size > MaxSize {
		return 0
	}
	return int((size-1)/LeafSize + 1)
}

// ProofLen returns the number of uncle hashes in a proof for a file of size
// bytes: the number of levels between the leaves and the root. It is 0 for a
// file of at most one block.
func ProofLen(size int64) int { return depth(NumLeaves(size)) }

// depth returns log2 of n leaves padded to a power of two.
func depth(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// blockLen returns the length of block i of a file of size bytes with n
// leaves.
func blockLen(size int64, n, i int) int {
	if i < n-1 {
		return LeafSize
	}
	return int(size - int64(n-1)*LeafSize)
}

func checkSize(size int64) error {
	if size < 0 || size > MaxSize {
		return fmt.Errorf("%w: %d bytes is outside [0, %d]", ErrSize, size, MaxSize)
	}
	return nil
}

func checkLeafCount(size int64, got int) error {
	if err := checkSize(size); err != nil {
		return err
	}
	if want := NumLeaves(size); got != want {
		return fmt.Errorf("%w: %d leaf hashes for %d bytes, want %d", ErrSize, got, size, want)
	}
	return nil
}

// Tree is a whole hash tree held in memory, as the publisher of a file keeps
// it to answer for any block. Padding is not stored: level l keeps only the
// nodes whose subtree holds at least one block, and the rest are known zero
// subtree hashes. A Tree is not modified after it is built, so it may be read
// from many goroutines at once.
type Tree struct {
	size int64
	// layers[0] holds the leaves and layers[len-1] the root; layer l has
	// ceil(n / 2^l) nodes. Empty for an empty file.
	layers [][]Hash
}

// NewTree builds the tree of a file of size bytes from its leaf hashes, which
// it copies. It returns ErrSize when the leaf count does not match the size.
func NewTree(leaves []Hash, size int64) (*Tree, error) {
	if err := checkLeafCount(size, len(leaves)); err != nil {
		return nil, err
	}
	t := &Tree{size: size}
	t.build(append([]Hash(nil), leaves...))
	return t, nil
}

// build computes every layer above leaves, which the tree takes over.
func (t *Tree) build(leaves []Hash) {
	if len(leaves) == 0 {
		t.layers = nil
		return
	}
	layers := make([][]Hash, 0, depth(len(leaves))+1)
	layers = append(layers, leaves)
	for level := 0; len(layers[level]) > 1; level++ {
		src := layers[level]
		layers = append(layers, parentLayer(make([]Hash, 0, (len(src)+1)/2), src, level))
	}
	t.layers = layers
}

// parentLayer appends to dst the parents of the nodes src at level, pairing
// a last odd node with the padding hash of its level.
func parentLayer(dst, src []Hash, level int) []Hash {
	for j := 0; j < len(src); j += 2 {
		right := &zeroHashes[level]
		if j+1 < len(src) {
			right = &src[j+1]
		}
		dst = append(dst, hashPair(&src[j], right))
	}
	return dst
}

// Root returns the root hash: the content ID. For an empty file it is
// SHA-256 of nothing.
func (t *Tree) Root() Hash {
	if len(t.layers) == 0 {
		return emptyRoot
	}
	return t.layers[len(t.layers)-1][0]
}

// Size returns the file size in bytes.
func (t *Tree) Size() int64 { return t.size }

// Leaves returns the leaf hashes without padding, NumLeaves(Size()) of them.
// The slice is shared with the tree and must not be modified.
func (t *Tree) Leaves() []Hash {
	if len(t.layers) == 0 {
		return nil
	}
	l := t.layers[0]
	return l[:len(l):len(l)]
}

// Proof returns the uncle hashes of leaf i, from the leaf level up to just
// below the root: ProofLen(Size()) of them. It returns nil when i is not a
// leaf of the file.
func (t *Tree) Proof(i int) []Hash {
	if i < 0 || i >= len(t.Leaves()) {
		return nil
	}
	return t.AppendProof(make([]Hash, 0, len(t.layers)-1), i)
}

// AppendProof appends the uncle hashes of leaf i to dst, as Proof returns
// them, and returns the extended slice. It returns dst unchanged when i is
// not a leaf of the file.
func (t *Tree) AppendProof(dst []Hash, i int) []Hash {
	if i < 0 || i >= len(t.Leaves()) {
		return dst
	}
	for level := 0; level < len(t.layers)-1; level++ {
		sib := (i >> level) ^ 1
		if layer := t.layers[level]; sib < len(layer) {
			dst = append(dst, layer[sib])
		} else {
			dst = append(dst, zeroHashes[level])
		}
	}
	return dst
}

// VerifyProof checks that data is block i of the file of size bytes whose
// root is root, given the uncle hashes of leaf i as Tree.Proof returns them.
// It returns ErrSize for an impossible size, ErrRange when i is not a block
// of the file (every i for an empty file), ErrLength when data is not as long
// as block i, ErrProof when the number of uncles is not ProofLen(size), and
// ErrMismatch when the hashes do not lead to root or an uncle that stands
// for padding is not the padding hash.
func VerifyProof(root Hash, size int64, i int, data []byte, uncles []Hash) error {
	if err := checkSize(size); err != nil {
		return err
	}
	n := NumLeaves(size)
	if i < 0 || i >= n {
		return fmt.Errorf("%w: leaf %d of a %d-byte file with %d leaves", ErrRange, i, size, n)
	}
	if want := blockLen(size, n, i); len(data) != want {
		return fmt.Errorf("%w: block %d is %d bytes, want %d", ErrLength, i, len(data), want)
	}
	if want := depth(n); len(uncles) != want {
		return fmt.Errorf("%w: %d uncles for leaf %d, want %d", ErrProof, len(uncles), i, want)
	}
	h := LeafHash(data)
	for level := range uncles {
		// An uncle whose subtree lies wholly past the last block stands
		// for padding and must be its hash; this ties the proof to the
		// block count, so a size claimed too small fails on its last block.
		if sib := (i >> level) ^ 1; uint64(sib)<<level >= uint64(n) && uncles[level] != zeroHashes[level] {
			return fmt.Errorf("%w: uncle %d of block %d must be padding", ErrMismatch, level, i)
		}
		if (i>>level)&1 == 0 {
			h = hashPair(&h, &uncles[level])
		} else {
			h = hashPair(&uncles[level], &h)
		}
	}
	if h != root {
		return fmt.Errorf("%w: block %d does not lead to root %s", ErrMismatch, i, root)
	}
	return nil
}

// VerifyLeaves checks a whole leaf layer, without padding, against the root
// of a file of size bytes. It returns ErrSize when the leaf count does not
// match the size and ErrMismatch when the leaves do not lead to root. Unlike
// a single proof, a verified leaf layer also confirms the size down to the
// block count.
func VerifyLeaves(root Hash, size int64, leaves []Hash) error {
	if err := checkLeafCount(size, len(leaves)); err != nil {
		return err
	}
	if got := rootOf(leaves); got != root {
		return fmt.Errorf("%w: %d leaves lead to %s, want %s", ErrMismatch, len(leaves), got, root)
	}
	return nil
}

// rootOf computes the root over leaves without keeping the layers.
func rootOf(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return emptyRoot
	case 1:
		return leaves[0]
	}
	layer := parentLayer(make([]Hash, 0, (len(leaves)+1)/2), leaves, 0)
	for level := 1; len(layer) > 1; level++ {
		// Parent j overwrites node j, which its children 2j and 2j+1 are
		// at or beyond, so the layer can be folded in place.
		layer = parentLayer(layer[:0], layer, level)
	}
	return layer[0]
}
