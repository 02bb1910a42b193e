//go:build !linux

package udp

import "net"

// newBatchRW returns nil elsewhere: without recvmmsg and sendmmsg a batch
// is no cheaper than a loop, and the loop works everywhere.
func newBatchRW(conn *net.UDPConn, v6 bool) batchRW { return nil }
