//go:build !linux

package sim

func hugeRegion(int) []byte { return nil }

func freeHugeRegion([]byte) {}
