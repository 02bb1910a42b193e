package sim

import "syscall"

// hugeRegion reserves size bytes of memory that asks for transparent huge
// pages, or returns nil. Memory is only used as it is touched. The tens of
// megabytes of datagrams in flight are read in no order: with small pages
// nearly every delivery misses the TLB as well as the cache.
func hugeRegion(size int) []byte {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(b, 14) // MADV_HUGEPAGE; a hint, refused on some kernels
	return b
}

func freeHugeRegion(b []byte) { _ = syscall.Munmap(b) }
