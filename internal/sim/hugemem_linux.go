package sim

import "golang.org/x/sys/unix"

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
