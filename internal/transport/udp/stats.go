package udp

import "sync/atomic"

// Stats is a snapshot of a Conn's counters since Listen.
type Stats struct {
	DatagramsIn  uint64 // application datagrams delivered to Recv's queue
	DatagramsOut uint64 // application datagrams sealed and written
	BytesIn      uint64 // their payload bytes
	BytesOut     uint64
	PacketsIn    uint64 // UDP datagrams read, of any kind
	PacketsOut   uint64 // UDP datagrams written, of any kind
	WireBytesIn  uint64 // UDP payload bytes read, overhead and handshakes included
	WireBytesOut uint64

	HandshakesStarted   uint64 // as initiator or responder
	HandshakesCompleted uint64
	HandshakesTimedOut  uint64
	ResetsSent          uint64
	ResetsReceived      uint64

	Peers    int // addresses with a session or a handshake
	Sessions int // addresses with an established session

	Drops Drops
}

// Drops counts what was thrown away, by reason.
type Drops struct {
	Malformed    uint64 // unknown type, wrong length, oversized, no address
	UnknownIndex uint64 // names no session or handshake here
	Auth         uint64 // failed authentication: wrong key, forged or corrupted
	Replay       uint64 // counter already accepted or behind the window
	Handshake    uint64 // handshake message that did not verify or came out of turn
	PeerLimit    uint64 // a new address while MaxPeers were in use
	Queue        uint64 // held for a handshake: pushed out by newer ones, over MaxQueuedBytes, or the handshake failed
	RecvQueue    uint64 // decrypted but Recv did not keep up
	WriteErrors  uint64 // the socket refused a write
}

type counters struct {
	datagramsIn, datagramsOut, bytesIn, bytesOut     atomic.Uint64
	packetsIn, packetsOut, wireBytesIn, wireBytesOut atomic.Uint64
	hsStarted, hsCompleted, hsTimedOut               atomic.Uint64
	resetsSent, resetsReceived                       atomic.Uint64
	dropMalformed, dropUnknownIndex, dropAuth        atomic.Uint64
	dropReplay, dropHandshake, dropPeerLimit         atomic.Uint64
	dropQueue, dropRecvQueue, dropWrite              atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		DatagramsIn:         c.datagramsIn.Load(),
		DatagramsOut:        c.datagramsOut.Load(),
		BytesIn:             c.bytesIn.Load(),
		BytesOut:            c.bytesOut.Load(),
		PacketsIn:           c.packetsIn.Load(),
		PacketsOut:          c.packetsOut.Load(),
		WireBytesIn:         c.wireBytesIn.Load(),
		WireBytesOut:        c.wireBytesOut.Load(),
		HandshakesStarted:   c.hsStarted.Load(),
		HandshakesCompleted: c.hsCompleted.Load(),
		HandshakesTimedOut:  c.hsTimedOut.Load(),
		ResetsSent:          c.resetsSent.Load(),
		ResetsReceived:      c.resetsReceived.Load(),
		Drops: Drops{
			Malformed:    c.dropMalformed.Load(),
			UnknownIndex: c.dropUnknownIndex.Load(),
			Auth:         c.dropAuth.Load(),
			Replay:       c.dropReplay.Load(),
			Handshake:    c.dropHandshake.Load(),
			PeerLimit:    c.dropPeerLimit.Load(),
			Queue:        c.dropQueue.Load(),
			RecvQueue:    c.dropRecvQueue.Load(),
			WriteErrors:  c.dropWrite.Load(),
		},
	}
}
