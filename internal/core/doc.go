// Package core is Shoal's protocol engine: swarms, peers, the scheduler,
// congestion control, choking and peer exchange, as a sans-IO state machine.
//
// It does no I/O, starts no goroutines, reads no clock and no global random
// source. A driver (UDP, WebRTC, WebAssembly, the simulator) feeds it
// datagrams, timeouts and the player's demand, and drains datagrams to send,
// events and the next deadline. Time is a time.Duration since an origin the
// driver chooses; every method that needs time takes it as its first argument.
package core
