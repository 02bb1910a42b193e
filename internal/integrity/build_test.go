package integrity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestBuildTreeMatchesNewTree(t *testing.T) {
	sizes := []int64{
		0, 1, LeafSize, 3*LeafSize + 2,
		batchLeaves * LeafSize,         // exactly one batch
		batchLeaves*LeafSize + 1,       // one byte into a second batch
		(2*batchLeaves+3)*LeafSize + 7, // three batches, short last block
	}
	for _, workers := range []int{1, 3, 8} {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("workers=%d/size=%d", workers, size), func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
				data := randomBytes(uint64(size)+3, size)
				var leaves []Hash
				for _, b := range blocks(data) {
					leaves = append(leaves, sha(b))
				}
				want, err := NewTree(leaves, size)
				if err != nil {
					t.Fatal(err)
				}
				var calls []int64
				got, err := BuildTree(iotest.HalfReader(bytes.NewReader(data)), size, func(done int64) {
					calls = append(calls, done)
				})
				if err != nil {
					t.Fatal(err)
				}
				if got.Root() != want.Root() || got.Size() != size || !slices.Equal(got.Leaves(), want.Leaves()) {
					t.Errorf("BuildTree root %s, NewTree root %s", got.Root(), want.Root())
				}
				if len(calls) == 0 || calls[len(calls)-1] != size {
					t.Fatalf("progress calls %v, want the last to be %d", calls, size)
				}
				for k := 1; k < len(calls); k++ {
					if calls[k] <= calls[k-1] {
						t.Fatalf("progress calls %v are not strictly increasing", calls)
					}
				}
				if wantCalls := max(1, int((size+batchLeaves*LeafSize-1)/(batchLeaves*LeafSize))); len(calls) != wantCalls {
					t.Errorf("%d progress calls, want one per batch: %d", len(calls), wantCalls)
				}
			})
		}
	}
}

func TestBuildTreeErrors(t *testing.T) {
	errRead := errors.New("disk on fire")
	tests := []struct {
		name string
		r    io.Reader
		size int64
		want error
	}{
		{"negative size", strings.NewReader(""), -1, ErrSize},
		{"size too large", strings.NewReader(""), MaxSize + 1, ErrSize},
		{"empty stream, one byte wanted", strings.NewReader(""), 1, ErrSize},
		{"stream a byte short", strings.NewReader("abc"), 4, ErrSize},
		{"stream a byte long", strings.NewReader("abcde"), 4, ErrSize},
		{"stream a batch long", bytes.NewReader(make([]byte, (batchLeaves+1)*LeafSize)), batchLeaves * LeafSize, ErrSize},
		{"empty file, stream not empty", strings.NewReader("x"), 0, ErrSize},
		// A huge claimed size must fail on the short stream, not on
		// allocating for the claim.
		{"huge size, short stream", strings.NewReader("abc"), MaxSize, ErrSize},
		{"read error", iotest.ErrReader(errRead), 10, errRead},
		{"read error in second batch", io.MultiReader(bytes.NewReader(make([]byte, batchLeaves*LeafSize+5)), iotest.ErrReader(errRead)), 2 * batchLeaves * LeafSize, errRead},
		{"read error after the end", io.MultiReader(strings.NewReader("abcd"), iotest.ErrReader(errRead)), 4, errRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := BuildTree(tt.r, tt.size, nil)
			if !errors.Is(err, tt.want) || tree != nil {
				t.Errorf("BuildTree = %v, %v; want nil, %v", tree, err, tt.want)
			}
			if tt.want == errRead && errors.Is(err, ErrSize) {
				t.Errorf("read error reported as ErrSize: %v", err)
			}
		})
	}
}
