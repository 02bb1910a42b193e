package wire

import "encoding/binary"

// Handshake flags.
const (
	FlagOrigin     uint8 = 1 // the sender is the swarm's origin
	FlagSeed       uint8 = 2 // the sender holds the whole content
	FlagBrowser    uint8 = 4 // the sender runs in a browser
	FlagNeedProofs uint8 = 8 // the sender wants Proof frames with on-demand chunks
)

// Handshake opens a session between two peers in one swarm.
//
// Body: Version u8, Flags u8, SwarmID 32 bytes, PeerID 32 bytes, UploadBps
// uvarint. Parse accepts any Version and Flags; the receiver decides.
type Handshake struct {
	Version   uint8
	Flags     uint8
	SwarmID   [32]byte
	PeerID    [32]byte
	UploadBps uint64 // upload capacity the sender offers the swarm, bits per second
}

const handshakeFixedLen = 1 + 1 + 32 + 32

// Type returns TypeHandshake.
func (*Handshake) Type() Type { return TypeHandshake }

func (m *Handshake) bodyLen() int { return handshakeFixedLen + uvarintLen(m.UploadBps) }

// Len returns the encoded size of the whole frame.
func (m *Handshake) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *Handshake) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeHandshake, m.bodyLen())
	b = append(b, m.Version, m.Flags)
	b = append(b, m.SwarmID[:]...)
	b = append(b, m.PeerID[:]...)
	return binary.AppendUvarint(b, m.UploadBps)
}

// Parse parses one Handshake frame from the start of b.
func (m *Handshake) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeHandshake)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.Version = r.u8()
	m.Flags = r.u8()
	if p := r.bytes(32); p != nil {
		m.SwarmID = [32]byte(p)
	}
	if p := r.bytes(32); p != nil {
		m.PeerID = [32]byte(p)
	}
	m.UploadBps = r.uvarint()
	if k, ok := r.done(); !ok {
		return 0, frameErr(TypeHandshake, k)
	}
	return n, nil
}
