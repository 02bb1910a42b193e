// Package sim runs many real Shoal engines in one process, in virtual time,
// over a modelled network. Same seed, same run, byte for byte.
//
// The network model (net*.go, queue*.go, service*.go) owns virtual time, the
// event queue, links, latency, loss, NAT and HTTP-like services; it drives
// endpoints through the Endpoint interface and never does real I/O. It may
// run the nodes of a window on several goroutines; the run does not depend
// on how many (net_lane.go).
package sim
