//go:build !unix

package udp

import "time"

// processCPU is not measured here.
func processCPU() (time.Duration, bool) { return 0, false }
