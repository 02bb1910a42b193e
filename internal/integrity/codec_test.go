package integrity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestMarshalRoundTrip(t *testing.T) {
	for _, size := range proofSizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			tree, err := BuildTree(bytes.NewReader(randomBytes(uint64(size)+5, size)), size, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tree.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if want := treeHeaderLen + NumLeaves(size)*HashSize; len(b) != want {
				t.Errorf("encoded %d bytes, want %d", len(b), want)
			}
			var back Tree
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if back.Root() != tree.Root() || back.Size() != size || !slices.Equal(back.Leaves(), tree.Leaves()) {
				t.Fatalf("round trip: root %s size %d, want %s %d", back.Root(), back.Size(), tree.Root(), size)
			}
			for i := range NumLeaves(size) {
				if !slices.Equal(back.Proof(i), tree.Proof(i)) {
					t.Fatalf("leaf %d: proofs differ after round trip", i)
				}
			}
		})
	}
}

func TestUnmarshalBinaryErrors(t *testing.T) {
	tree, err := NewTree([]Hash{{1}, {2}, {3}}, 2*LeafSize+9)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := tree.MarshalBinary()
	withSize := func(size uint64) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint64(b[5:], size)
		return b
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"header cut", good[:treeHeaderLen-1]},
		{"leaf cut", good[:len(good)-1]},
		{"a leaf missing", good[:len(good)-HashSize]},
		{"a byte extra", append(bytes.Clone(good), 0)},
		{"a leaf extra", append(bytes.Clone(good), make([]byte, HashSize)...)},
		{"bad magic", append([]byte("SHMX"), good[4:]...)},
		{"version 0", append(append([]byte("SHMT"), 0), good[5:]...)},
		{"version 2", append(append([]byte("SHMT"), 2), good[5:]...)},
		{"size for fewer leaves", withSize(2 * LeafSize)},
		{"size for more leaves", withSize(3*LeafSize + 1)},
		{"size above MaxSize", withSize(uint64(MaxSize) + 1)},
		{"negative size", withSize(1 << 63)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := *tree
			if err := back.UnmarshalBinary(tt.b); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
			if back.Root() != tree.Root() || back.Size() != tree.Size() {
				t.Error("a failed UnmarshalBinary changed the tree")
			}
		})
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, leaves := range []int{0, 1, 2, 5} {
		tree, err := NewTree(make([]Hash, leaves), int64(leaves)*LeafSize)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := tree.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("SHMT"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tree Tree
		if err := tree.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		again, err := tree.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded input does not encode back: %v", err)
		}
		if err := VerifyLeaves(tree.Root(), tree.Size(), tree.Leaves()); err != nil {
			t.Fatalf("decoded tree fails its own leaves: %v", err)
		}
	})
}
