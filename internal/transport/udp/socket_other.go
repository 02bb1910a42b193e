//go:build !linux

package udp

import "net"

// newBatchRW returns nil elsewhere: without recvmmsg and sendmmsg a batch
// is no cheaper than a loop, and the loop works everywhere.
func newBatchRW(conn *net.UDPConn, v6 bool) batchRW { return nil }

// Segmentation offload is Linux's; elsewhere every datagram goes alone.
const (
	gsoControlLen = 0
	groControlLen = 0
)

func enableOffload(*net.UDPConn) (gso, gro bool) { return false, false }

func putGSOControl(b []byte, size int) []byte { return nil }

func groSegmentSize([]byte) int { return 0 }
