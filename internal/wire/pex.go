package wire

import (
	"encoding/binary"
	"net/netip"
)

// PexPeer is one peer address offered by peer exchange.
type PexPeer struct {
	// Addr is the peer's address. A zone is not sent; an IPv4-mapped IPv6
	// address stays IPv6.
	Addr  netip.AddrPort
	Flags uint8 // the peer's Handshake flags as the sender knows them
}

// Pex offers addresses of other peers in the swarm.
//
// Body: count uvarint (≤ MaxPexPeers), then per peer: Flags u8, family u8
// (4 or 6), 4 or 16 address bytes, port u16 big-endian.
type Pex struct {
	Peers []PexPeer
}

// Type returns TypePex.
func (*Pex) Type() Type { return TypePex }

func addrLen(a netip.Addr) int {
	switch {
	case a.Is4():
		return 4
	case a.Is6():
		return 16
	}
	return 0
}

func (m *Pex) bodyLen() int {
	n := uvarintLen(uint64(len(m.Peers)))
	for _, p := range m.Peers {
		n += 1 + 1 + addrLen(p.Addr.Addr()) + 2
	}
	return n
}

// Len returns the encoded size of the whole frame.
func (m *Pex) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b. A peer with an invalid address is
// encoded with family 0, which Parse rejects.
func (m *Pex) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypePex, m.bodyLen())
	b = binary.AppendUvarint(b, uint64(len(m.Peers)))
	for _, p := range m.Peers {
		a := p.Addr.Addr()
		b = append(b, p.Flags)
		switch {
		case a.Is4():
			a4 := a.As4()
			b = append(append(b, 4), a4[:]...)
		case a.Is6():
			a16 := a.As16()
			b = append(append(b, 6), a16[:]...)
		default:
			b = append(b, 0)
		}
		b = binary.BigEndian.AppendUint16(b, p.Addr.Port())
	}
	return b
}

// Parse parses one Pex frame from the start of b, reusing m.Peers.
func (m *Pex) Parse(b []byte) (n int, err error) {
	m.Peers = m.Peers[:0]
	body, n, err := openFrame(b, TypePex)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	count := r.uvarint()
	if r.bad {
		return 0, frameErr(TypePex, kMalformed)
	}
	if count > MaxPexPeers {
		return 0, frameErr(TypePex, kTooLarge)
	}
	for range count {
		flags := r.u8()
		var a netip.Addr
		switch r.u8() {
		case 4:
			if p := r.bytes(4); p != nil {
				a = netip.AddrFrom4([4]byte(p))
			}
		case 6:
			if p := r.bytes(16); p != nil {
				a = netip.AddrFrom16([16]byte(p))
			}
		default:
			r.bad = true
		}
		port := r.bytes(2)
		if r.bad {
			return 0, frameErr(TypePex, kMalformed)
		}
		m.Peers = append(m.Peers, PexPeer{
			Addr:  netip.AddrPortFrom(a, binary.BigEndian.Uint16(port)),
			Flags: flags,
		})
	}
	if k, ok := r.done(); !ok {
		return 0, frameErr(TypePex, k)
	}
	return n, nil
}
