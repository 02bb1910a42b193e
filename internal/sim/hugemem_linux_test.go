package sim

import (
	"bytes"
	"os"
	"strconv"
	"testing"
)

// TestHeapAdvice: after reserve, every large anonymous writable mapping,
// the heap's arenas among them, asks for huge pages.
func TestHeapAdvice(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(mode, []byte("[never]")) {
		t.Skip("no transparent huge pages here")
	}
	newHeapAdvice().reserve(256 << 20)
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var head []byte // the mapping's first line
	large, advised := 0, 0
	for _, l := range bytes.Split(smaps, []byte("\n")) {
		f := bytes.Fields(l)
		switch {
		case len(f) >= 5 && bytes.IndexByte(f[0], '-') > 0 && !bytes.HasSuffix(f[0], []byte(":")):
			head = nil
			if len(f) == 5 && string(f[1]) == "rw-p" && string(f[4]) == "0" {
				a, b, _ := bytes.Cut(f[0], []byte("-"))
				lo, _ := strconv.ParseUint(string(a), 16, 64)
				hi, _ := strconv.ParseUint(string(b), 16, 64)
				if hi-lo >= 4<<20 {
					head = l
					large++
				}
			}
		case head != nil && len(f) > 0 && string(f[0]) == "VmFlags:":
			if bytes.Contains(append(l, ' '), []byte(" hg ")) {
				advised++
			} else {
				t.Errorf("not advised: %s", head)
			}
			head = nil
		}
	}
	if large == 0 || advised != large {
		t.Fatalf("%d of %d large anonymous mappings ask for huge pages", advised, large)
	}
}
