package sim

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"testing"
	"unsafe"
)

// TestHeapAdvice: after reserve, the heap's arena and every large anonymous
// mapping the advice reached ask the kernel for huge pages. Mappings made
// later (a thread stack of a test running beside this one) are not its
// business: the simulator advises again as the heap grows.
func TestHeapAdvice(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(mode, []byte("[never]")) {
		t.Skip("no transparent huge pages here")
	}
	heap := make([]byte, 8<<20) // a large object, in an arena of the heap
	heap[0] = 1
	h := newHeapAdvice()
	h.reserve(256 << 20)
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	reached := func(lo, hi uint64) bool {
		for s, e := range h.done {
			if uint64(s) < hi && lo < uint64(e) {
				return true
			}
		}
		return false
	}
	at := uint64(uintptr(unsafe.Pointer(&heap[0])))
	var head []byte // the first line of a mapping the advice reached
	checked, heapAdvised := 0, false
	var lo, hi uint64
	for _, l := range bytes.Split(smaps, []byte("\n")) {
		f := bytes.Fields(l)
		switch {
		case len(f) >= 5 && bytes.IndexByte(f[0], '-') > 0 && !bytes.HasSuffix(f[0], []byte(":")):
			head = nil
			a, b, _ := bytes.Cut(f[0], []byte("-"))
			lo, _ = strconv.ParseUint(string(a), 16, 64)
			hi, _ = strconv.ParseUint(string(b), 16, 64)
			if reached(lo, hi) {
				head = l
			}
		case head != nil && len(f) > 0 && string(f[0]) == "VmFlags:":
			checked++
			if !bytes.Contains(append(l, ' '), []byte(" hg ")) {
				t.Errorf("advised but without huge pages: %s", head)
			} else if lo <= at && at < hi {
				heapAdvised = true
			}
			head = nil
		}
	}
	runtime.KeepAlive(heap)
	if checked == 0 || !heapAdvised {
		t.Fatalf("the heap arena at %#x does not ask for huge pages (%d mappings advised)", at, checked)
	}
}
