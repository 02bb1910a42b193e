//go:build !linux

package sim

func packetRegion() []byte { return nil }

func freePacketRegion([]byte) {}
