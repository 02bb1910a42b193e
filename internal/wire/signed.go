package wire

import "encoding/binary"

// Signed chunk flags.
const (
	ChunkRAP           uint8 = 1 // the chunk starts a random-access point
	ChunkDiscontinuity uint8 = 2 // the stream's timeline breaks before this chunk
)

// SignatureSize is the size in bytes of an Ed25519 signature.
const SignatureSize = 64

// Signed carries a live chunk's metadata and the origin's signature over
// it. It travels with (usually just before) the chunk's Data frames.
//
// Body: Chunk uvarint, TimestampUs zigzag varint, Flags u8, Length uvarint
// (≤ MaxChunkSize), Signature 64 bytes.
type Signed struct {
	Chunk       uint64 // sequence number of the chunk in the stream
	TimestampUs int64  // origin's timestamp of the chunk, microseconds
	Flags       uint8  // ChunkRAP, ChunkDiscontinuity
	Length      uint32 // byte length of the chunk
	Signature   [SignatureSize]byte
}

// Type returns TypeSigned.
func (*Signed) Type() Type { return TypeSigned }

func (m *Signed) bodyLen() int {
	return uvarintLen(m.Chunk) + varintLen(m.TimestampUs) + 1 + uvarintLen(uint64(m.Length)) + SignatureSize
}

// Len returns the encoded size of the whole frame.
func (m *Signed) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *Signed) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeSigned, m.bodyLen())
	b = binary.AppendUvarint(b, m.Chunk)
	b = binary.AppendVarint(b, m.TimestampUs)
	b = append(b, m.Flags)
	b = binary.AppendUvarint(b, uint64(m.Length))
	return append(b, m.Signature[:]...)
}

// Parse parses one Signed frame from the start of b.
func (m *Signed) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeSigned)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.Chunk = r.uvarint()
	m.TimestampUs = r.varint()
	m.Flags = r.u8()
	m.Length = r.u32()
	if p := r.bytes(SignatureSize); p != nil {
		m.Signature = [SignatureSize]byte(p)
	}
	if k, ok := r.done(); !ok {
		return 0, frameErr(TypeSigned, k)
	}
	if m.Length > MaxChunkSize {
		return 0, frameErr(TypeSigned, kTooLarge)
	}
	return n, nil
}
