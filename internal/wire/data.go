package wire

import "encoding/binary"

// Data carries one fragment of a chunk: bytes [Offset, Offset+len(Payload))
// of a chunk of Total bytes.
//
// Body: Chunk uvarint, Offset uvarint, Total uvarint (≤ MaxChunkSize),
// PacketNum uvarint, SendTimeUs uvarint, then the payload, which runs to
// the end of the body. Offset+len(Payload) must not exceed Total.
type Data struct {
	Chunk  uint64
	Offset uint32 // byte offset of the payload within the chunk
	Total  uint32 // byte length of the whole chunk
	// PacketNum numbers the sender's congestion-controlled datagrams to
	// this peer; Ack frames refer to it.
	PacketNum uint64
	// SendTimeUs is the sender's clock, in microseconds, when the datagram
	// left; the receiver echoes a delay against it for LEDBAT.
	SendTimeUs uint64
	Payload    []byte // aliases the parsed buffer
}

// Type returns TypeData.
func (*Data) Type() Type { return TypeData }

func (m *Data) bodyLen() int {
	return uvarintLen(m.Chunk) + uvarintLen(uint64(m.Offset)) + uvarintLen(uint64(m.Total)) +
		uvarintLen(m.PacketNum) + uvarintLen(m.SendTimeUs) + len(m.Payload)
}

// Len returns the encoded size of the whole frame.
func (m *Data) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *Data) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeData, m.bodyLen())
	b = binary.AppendUvarint(b, m.Chunk)
	b = binary.AppendUvarint(b, uint64(m.Offset))
	b = binary.AppendUvarint(b, uint64(m.Total))
	b = binary.AppendUvarint(b, m.PacketNum)
	b = binary.AppendUvarint(b, m.SendTimeUs)
	return append(b, m.Payload...)
}

// Parse parses one Data frame from the start of b. m.Payload aliases b.
func (m *Data) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeData)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.Chunk = r.uvarint()
	m.Offset = r.u32()
	m.Total = r.u32()
	m.PacketNum = r.uvarint()
	m.SendTimeUs = r.uvarint()
	if r.bad {
		return 0, frameErr(TypeData, kMalformed)
	}
	if m.Total > MaxChunkSize {
		return 0, frameErr(TypeData, kTooLarge)
	}
	if uint64(m.Offset)+uint64(len(r.b)) > uint64(m.Total) {
		return 0, frameErr(TypeData, kMalformed)
	}
	m.Payload = r.b
	return n, nil
}
