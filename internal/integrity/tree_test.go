package integrity

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomBytes returns n bytes from a generator seeded with seed.
func randomBytes(seed uint64, n int64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	rand.NewChaCha8(s).Read(b)
	return b
}

// sha returns SHA-256 over the concatenation of parts.
func sha(parts ...[]byte) Hash {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return Hash(h.Sum(nil))
}

// node returns SHA-256(left || right) written out in the test.
func node(left, right Hash) Hash { return sha(left[:], right[:]) }

// blocks splits data into LeafSize blocks.
func blocks(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(len(data), LeafSize)
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func TestKnownRoots(t *testing.T) {
	var z Hash
	tests := []struct {
		name string
		size int64
		// root computes the expected root from the leaf hashes by hand.
		root func(l []Hash) Hash
	}{
		{"empty", 0, func([]Hash) Hash {
			h, _ := ParseHash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
			return h
		}},
		{"1 short leaf", 100, func(l []Hash) Hash { return l[0] }},
		{"1 full leaf", LeafSize, func(l []Hash) Hash { return l[0] }},
		{"2 leaves", LeafSize + 5, func(l []Hash) Hash { return node(l[0], l[1]) }},
		{"3 leaves", 2*LeafSize + 1, func(l []Hash) Hash {
			return node(node(l[0], l[1]), node(l[2], z))
		}},
		{"4 leaves", 4 * LeafSize, func(l []Hash) Hash {
			return node(node(l[0], l[1]), node(l[2], l[3]))
		}},
		{"5 leaves", 4*LeafSize + 7, func(l []Hash) Hash {
			return node(
				node(node(l[0], l[1]), node(l[2], l[3])),
				node(node(l[4], z), node(z, z)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(uint64(tt.size), tt.size)
			var leaves []Hash
			for _, b := range blocks(data) {
				leaves = append(leaves, sha(b))
			}
			want := tt.root(leaves)

			nt, err := NewTree(leaves, tt.size)
			if err != nil {
				t.Fatalf("NewTree: %v", err)
			}
			bt, err := BuildTree(bytes.NewReader(data), tt.size, nil)
			if err != nil {
				t.Fatalf("BuildTree: %v", err)
			}
			for name, got := range map[string]Hash{"NewTree": nt.Root(), "BuildTree": bt.Root()} {
				if got != want {
					t.Errorf("%s root = %s, want %s", name, got, want)
				}
			}
			if err := VerifyLeaves(want, tt.size, leaves); err != nil {
				t.Errorf("VerifyLeaves: %v", err)
			}
			if !slices.Equal(bt.Leaves(), leaves) || bt.Size() != tt.size {
				t.Errorf("BuildTree leaves or size differ: size %d", bt.Size())
			}
		})
	}
}

func TestNumLeavesAndProofLen(t *testing.T) {
	tests := []struct {
		size     int64
		leaves   int
		proofLen int
	}{
		{-1, 0, 0},
		{0, 0, 0},
		{1, 1, 0},
		{LeafSize, 1, 0},
		{LeafSize + 1, 2, 1},
		{3 * LeafSize, 3, 2},
		{4 * LeafSize, 4, 2},
		{4*LeafSize + 1, 5, 3},
		{1000 * LeafSize, 1000, 10},
		{1024*LeafSize + 1, 1025, 11},
		{MaxSize, MaxLeaves, maxDepth},
		{MaxSize + 1, 0, 0},
	}
	for _, tt := range tests {
		if got := NumLeaves(tt.size); got != tt.leaves {
			t.Errorf("NumLeaves(%d) = %d, want %d", tt.size, got, tt.leaves)
		}
		if got := ProofLen(tt.size); got != tt.proofLen {
			t.Errorf("ProofLen(%d) = %d, want %d", tt.size, got, tt.proofLen)
		}
	}
}

// proofSizes are the file sizes every proof test runs over.
var proofSizes = []int64{0, 1, LeafSize - 1, LeafSize, LeafSize + 1, 5*LeafSize + 1, 1000 * LeafSize}

func TestProofs(t *testing.T) {
	for _, size := range proofSizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randomBytes(uint64(size)+1, size)
			tree, err := BuildTree(bytes.NewReader(data), size, nil)
			if err != nil {
				t.Fatal(err)
			}
			root, n := tree.Root(), NumLeaves(size)
			for _, i := range []int{-1, n, n + 1} {
				if p := tree.Proof(i); p != nil {
					t.Errorf("Proof(%d) = %v, want nil", i, p)
				}
				if err := VerifyProof(root, size, i, nil, nil); !errors.Is(err, ErrRange) {
					t.Errorf("VerifyProof(index %d) = %v, want ErrRange", i, err)
				}
			}
			bs := blocks(data)
			for i := range n {
				checkLeafProof(t, tree, i, bs)
			}
		})
	}
}

// checkLeafProof checks that leaf i verifies with its proof and fails once
// any byte of data, any uncle, the index or the root changes.
func checkLeafProof(t *testing.T, tree *Tree, i int, bs [][]byte) {
	t.Helper()
	root, size, block := tree.Root(), tree.Size(), bs[i]
	proof := tree.Proof(i)
	if len(proof) != ProofLen(size) {
		t.Fatalf("leaf %d: proof has %d uncles, want %d", i, len(proof), ProofLen(size))
	}
	if got := tree.AppendProof([]Hash{{1}}, i); !slices.Equal(got[1:], proof) || got[0] != (Hash{1}) {
		t.Fatalf("leaf %d: AppendProof differs from Proof", i)
	}
	if err := VerifyProof(root, size, i, block, proof); err != nil {
		t.Fatalf("leaf %d: %v", i, err)
	}
	fail := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("leaf %d, %s: err = %v, want %v", i, what, err, want)
		}
	}
	for _, pos := range []int{0, len(block) / 2, len(block) - 1} {
		bad := bytes.Clone(block)
		bad[pos] ^= 0x80
		fail(fmt.Sprintf("byte %d flipped", pos), VerifyProof(root, size, i, bad, proof), ErrMismatch)
	}
	for u := range proof {
		bad := slices.Clone(proof)
		bad[u][u%HashSize] ^= 1
		fail(fmt.Sprintf("uncle %d flipped", u), VerifyProof(root, size, i, block, bad), ErrMismatch)
	}
	badRoot := root
	badRoot[31] ^= 1
	fail("root flipped", VerifyProof(badRoot, size, i, block, proof), ErrMismatch)
	for _, j := range []int{i - 1, i + 1, i ^ 1} {
		if j == i {
			continue
		}
		if err := VerifyProof(root, size, j, block, proof); err == nil {
			t.Errorf("leaf %d verified as leaf %d", i, j)
		}
	}
	fail("one uncle more", VerifyProof(root, size, i, block, append(slices.Clone(proof), Hash{})), ErrProof)
	if len(proof) > 0 {
		fail("one uncle less", VerifyProof(root, size, i, block, proof[1:]), ErrProof)
	}
	fail("one byte more", VerifyProof(root, size, i, append(bytes.Clone(block), 0), proof), ErrLength)
	fail("one byte less", VerifyProof(root, size, i, block[1:], proof), ErrLength)
}

func TestVerifyProofBadSize(t *testing.T) {
	for _, size := range []int64{-1, MaxSize + 1} {
		if err := VerifyProof(Hash{}, size, 0, nil, nil); !errors.Is(err, ErrSize) {
			t.Errorf("VerifyProof(size %d) = %v, want ErrSize", size, err)
		}
	}
}

func TestNewTreeErrors(t *testing.T) {
	tests := []struct {
		name   string
		leaves int
		size   int64
	}{
		{"negative size", 0, -1},
		{"size too large", 1, MaxSize + 1},
		{"leaves for empty file", 1, 0},
		{"too few leaves", 1, LeafSize + 1},
		{"too many leaves", 3, 2 * LeafSize},
	}
	for _, tt := range tests {
		if _, err := NewTree(make([]Hash, tt.leaves), tt.size); !errors.Is(err, ErrSize) {
			t.Errorf("%s: err = %v, want ErrSize", tt.name, err)
		}
	}
}

func TestNewTreeCopiesLeaves(t *testing.T) {
	leaves := []Hash{{1}, {2}, {3}}
	tree, err := NewTree(leaves, 3*LeafSize)
	if err != nil {
		t.Fatal(err)
	}
	root := tree.Root()
	leaves[0] = Hash{9}
	if tree.Leaves()[0] != (Hash{1}) || tree.Root() != root {
		t.Error("tree changed with the caller's slice")
	}
}

func TestVerifyLeaves(t *testing.T) {
	const size = 4 * LeafSize
	data := randomBytes(7, size)
	tree, err := BuildTree(bytes.NewReader(data), size, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, leaves := tree.Root(), tree.Leaves()
	if err := VerifyLeaves(root, size, leaves); err != nil {
		t.Fatalf("VerifyLeaves: %v", err)
	}
	for i := range leaves {
		bad := slices.Clone(leaves)
		bad[i][0] ^= 1
		if err := VerifyLeaves(root, size, bad); !errors.Is(err, ErrMismatch) {
			t.Errorf("leaf %d changed: err = %v, want ErrMismatch", i, err)
		}
	}
	if err := VerifyLeaves(root, size, leaves[:3]); !errors.Is(err, ErrSize) {
		t.Errorf("a leaf short: err = %v, want ErrSize", err)
	}
	// A shorter claimed size with the matching prefix of leaves must not
	// pass: padding replaces the dropped leaf.
	if err := VerifyLeaves(root, 3*LeafSize, leaves[:3]); !errors.Is(err, ErrMismatch) {
		t.Errorf("truncated file: err = %v, want ErrMismatch", err)
	}
	if err := VerifyLeaves(emptyRoot, 0, nil); err != nil {
		t.Errorf("empty file: %v", err)
	}
	if err := VerifyLeaves(root, 0, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("empty file, other root: err = %v, want ErrMismatch", err)
	}
}

func TestHashText(t *testing.T) {
	h := sha([]byte("shoal"))
	s := h.String()
	if len(s) != 64 || s != fmt.Sprintf("%x", h[:]) {
		t.Fatalf("String() = %q", s)
	}
	for _, in := range []string{s, string(bytes.ToUpper([]byte(s)))} {
		got, err := ParseHash(in)
		if err != nil || got != h {
			t.Errorf("ParseHash(%q) = %s, %v; want %s", in, got, err, h)
		}
	}
	text, _ := h.MarshalText()
	var back Hash
	if err := back.UnmarshalText(text); err != nil || back != h {
		t.Errorf("text round trip = %s, %v; want %s", back, err, h)
	}
	for _, in := range []string{"", s[:63], s + "0", "g" + s[1:], " " + s[1:]} {
		if _, err := ParseHash(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHash(%q): err = %v, want ErrMalformed", in, err)
		}
	}
}

// FuzzVerifyProof feeds arbitrary sizes, indices, data and uncles to
// VerifyProof. Against a real tree it also checks that nothing but the real
// block verifies.
func FuzzVerifyProof(f *testing.F) {
	const size = 5*LeafSize + 1
	data := randomBytes(11, size)
	tree, err := BuildTree(bytes.NewReader(data), size, nil)
	if err != nil {
		f.Fatal(err)
	}
	bs := blocks(data)
	flatten := func(hs []Hash) []byte {
		var b []byte
		for _, h := range hs {
			b = append(b, h[:]...)
		}
		return b
	}
	f.Add(int64(size), 5, bs[5], flatten(tree.Proof(5)), true)
	f.Add(int64(size), 0, bs[0][:100], flatten(tree.Proof(0)), true)
	f.Add(int64(1), 0, []byte{0}, []byte{}, false)
	f.Add(int64(-1), -1, []byte{}, []byte{1, 2, 3}, false)
	f.Fuzz(func(t *testing.T, fsize int64, i int, block, uncleBytes []byte, realTree bool) {
		uncles := make([]Hash, len(uncleBytes)/HashSize)
		for k := range uncles {
			copy(uncles[k][:], uncleBytes[k*HashSize:])
		}
		root := Hash(sha(uncleBytes))
		if realTree {
			fsize, root = size, tree.Root()
		}
		err := VerifyProof(root, fsize, i, block, uncles)
		if err == nil && realTree && (i < 0 || i >= len(bs) || !bytes.Equal(block, bs[i])) {
			t.Fatalf("forged block verified as leaf %d", i)
		}
		for _, sentinel := range []error{ErrSize, ErrRange, ErrLength, ErrProof, ErrMismatch} {
			if errors.Is(err, sentinel) {
				return
			}
		}
		if err != nil {
			t.Fatalf("error %v wraps no sentinel", err)
		}
	})
}

// TestProofPinsBlockCount checks that a proof from a larger file does not
// pass for the last block under a smaller claimed size of the same depth.
func TestProofPinsBlockCount(t *testing.T) {
	const size = 4 * LeafSize
	data := randomBytes(13, size)
	tree, err := BuildTree(bytes.NewReader(data), size, nil)
	if err != nil {
		t.Fatal(err)
	}
	bs, root := blocks(data), tree.Root()
	// Claimed: 3 blocks. Leaf 2's sibling, leaf 3, is padding there.
	if err := VerifyProof(root, 3*LeafSize, 2, bs[2], tree.Proof(2)); !errors.Is(err, ErrMismatch) {
		t.Errorf("last block of a truncated claim: err = %v, want ErrMismatch", err)
	}
	// Claimed: 5 blocks, depth 3, with padding as the top uncle: the
	// 4-block root cannot be reached either.
	proof := append(tree.Proof(0), zeroHashes[2])
	if err := VerifyProof(root, 4*LeafSize+1, 0, bs[0], proof); !errors.Is(err, ErrMismatch) {
		t.Errorf("grown claim: err = %v, want ErrMismatch", err)
	}
}
