package sim

import "syscall"

// packetRegionBytes is the address space reserved for packet chunks; memory
// is only used as chunks are cut from it, and chunks past it come from the
// Go heap.
const packetRegionBytes = 4 << 30

// packetRegion reserves memory for packet chunks and asks for huge pages: in
// flight, datagrams span tens of megabytes read in no order, and with small
// pages nearly every delivery misses the TLB as well as the cache.
func packetRegion() []byte {
	b, err := syscall.Mmap(-1, 0, packetRegionBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(b, 14) // MADV_HUGEPAGE; a hint, refused on some kernels
	return b
}

func freePacketRegion(b []byte) { _ = syscall.Munmap(b) }
