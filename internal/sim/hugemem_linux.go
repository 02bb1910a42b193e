package sim

import (
	"bytes"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// hugeRegion reserves size bytes of memory that asks for transparent huge
// pages, or returns nil. Memory is only used as it is touched. The tens of
// megabytes of datagrams in flight are read in no order: with small pages
// nearly every delivery misses the TLB as well as the cache.
func hugeRegion(size int) []byte {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // a hint, refused on some kernels
	return b
}

func freeHugeRegion(b []byte) { _ = unix.Munmap(b) }

// heapAdvice asks for transparent huge pages over the process's large
// anonymous mappings, the Go heap's arenas among them, as they appear. A
// run holds gigabytes of engines and chunks visited in no order; on small
// pages a cache miss is also a TLB miss, and a walk of the page tables
// costs about as much again. The advice changes no result, only speed.
type heapAdvice struct {
	done map[uintptr]uintptr // start → end of mappings advised
}

func newHeapAdvice() *heapAdvice { return &heapAdvice{done: map[uintptr]uintptr{}} }

// reserve grows the heap by about n bytes without touching them, advises
// it, and frees it again, so that the engines' memory is faulted in as huge
// pages from the start rather than in small ones before advice can reach it.
// n is capped at half the machine's memory.
func (h *heapAdvice) reserve(n int) {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return
	}
	n = min(n, int(uint64(si.Totalram)*uint64(si.Unit)/2))
	if n < 64<<20 {
		h.run()
		return
	}
	b := make([]byte, n) // fresh memory: the runtime does not write to it
	h.run()
	runtime.KeepAlive(b)
	b = nil
	runtime.GC() // give the pages back to the heap, still untouched
}

// run advises the mappings not advised yet; it is cheap when none is new.
func (h *heapAdvice) run() {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for len(maps) > 0 {
		line := maps
		if i := bytes.IndexByte(maps, '\n'); i >= 0 {
			line, maps = maps[:i], maps[i+1:]
		} else {
			maps = nil
		}
		// start-end perms offset dev inode [path]
		f := bytes.Fields(line)
		if len(f) != 5 || string(f[1]) != "rw-p" || string(f[4]) != "0" {
			continue // a file, a named region, or not plain writable memory
		}
		dash := bytes.IndexByte(f[0], '-')
		if dash < 0 {
			continue
		}
		start, err1 := strconv.ParseUint(string(f[0][:dash]), 16, 64)
		end, err2 := strconv.ParseUint(string(f[0][dash+1:]), 16, 64)
		if err1 != nil || err2 != nil || end-start < 4<<20 {
			continue
		}
		if h.done[uintptr(start)] == uintptr(end) {
			continue
		}
		// a hint: refused by kernels without transparent huge pages
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_HUGEPAGE)
		h.done[uintptr(start)] = uintptr(end)
	}
}
