package wire

import "encoding/binary"

// RequestFragments flags.
const (
	// FlagWantIntegrity asks the sender to send the chunk's Signed or Proof
	// frame again along with the fragments.
	FlagWantIntegrity uint8 = 1
)

// RequestFragments asks for specific fragments of one chunk, typically to
// repair losses. Fragment i covers the chunk's bytes from i*FragmentSize.
//
// Body: Chunk uvarint, Flags u8, then a range list of fragment indexes.
type RequestFragments struct {
	Chunk     uint64
	Flags     uint8
	Fragments []Range
}

// Type returns TypeRequestFragments.
func (*RequestFragments) Type() Type { return TypeRequestFragments }

func (m *RequestFragments) bodyLen() int {
	return uvarintLen(m.Chunk) + 1 + rangesLen(m.Fragments)
}

// Len returns the encoded size of the whole frame.
func (m *RequestFragments) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *RequestFragments) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeRequestFragments, m.bodyLen())
	b = binary.AppendUvarint(b, m.Chunk)
	b = append(b, m.Flags)
	return appendRanges(b, m.Fragments)
}

// Parse parses one RequestFragments frame from the start of b, reusing
// m.Fragments.
func (m *RequestFragments) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeRequestFragments)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.Chunk = r.uvarint()
	m.Flags = r.u8()
	var k errKind
	var ok bool
	if m.Fragments, k, ok = readRanges(&r, m.Fragments); ok {
		k, ok = r.done()
	}
	if !ok {
		return 0, frameErr(TypeRequestFragments, k)
	}
	return n, nil
}
