package wire

import (
	"encoding/binary"
	"math"
)

// Bitfield describes which of Count chunks starting at Start the sender
// holds, usually right after the handshake.
//
// Body: Start uvarint, Count uvarint (≤ MaxBitfieldBits), then
// ceil(Count/8) bytes. Bit i, most significant bit first within each byte,
// is set when chunk Start+i is present; bits past Count are zero, and
// Start+Count must not exceed 2^64-1.
type Bitfield struct {
	Start uint64
	Count uint32
	Bits  []byte // aliases the parsed buffer
}

// Type returns TypeBitfield.
func (*Bitfield) Type() Type { return TypeBitfield }

func (m *Bitfield) bodyLen() int {
	return uvarintLen(m.Start) + uvarintLen(uint64(m.Count)) + len(m.Bits)
}

// Len returns the encoded size of the whole frame.
func (m *Bitfield) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b. len(m.Bits) must be ceil(Count/8).
func (m *Bitfield) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeBitfield, m.bodyLen())
	b = binary.AppendUvarint(b, m.Start)
	b = binary.AppendUvarint(b, uint64(m.Count))
	return append(b, m.Bits...)
}

// Parse parses one Bitfield frame from the start of b. m.Bits aliases b.
func (m *Bitfield) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeBitfield)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.Start = r.uvarint()
	m.Count = r.u32()
	if r.bad {
		return 0, frameErr(TypeBitfield, kMalformed)
	}
	if m.Count > MaxBitfieldBits {
		return 0, frameErr(TypeBitfield, kTooLarge)
	}
	m.Bits = r.bytes(int(m.Count+7) / 8)
	if k, ok := r.done(); !ok {
		return 0, frameErr(TypeBitfield, k)
	}
	if m.Start > math.MaxUint64-uint64(m.Count) {
		return 0, frameErr(TypeBitfield, kMalformed)
	}
	if rem := m.Count % 8; rem != 0 && m.Bits[len(m.Bits)-1]&(0xff>>rem) != 0 {
		return 0, frameErr(TypeBitfield, kMalformed)
	}
	return n, nil
}

// Has reports whether the bitfield marks chunk as present.
func (m *Bitfield) Has(chunk uint64) bool {
	if chunk < m.Start || chunk-m.Start >= uint64(m.Count) {
		return false
	}
	i := chunk - m.Start
	if i/8 >= uint64(len(m.Bits)) {
		return false
	}
	return m.Bits[i/8]&(0x80>>(i%8)) != 0
}
