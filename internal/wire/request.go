package wire

import "encoding/binary"

// Request asks for whole chunks.
//
// Body: DeadlineMs uvarint (≤ 2^32-1), then a range list.
type Request struct {
	DeadlineMs uint32 // how soon the requester needs the chunks; 0 = no deadline
	Ranges     []Range
}

// Type returns TypeRequest.
func (*Request) Type() Type { return TypeRequest }

func (m *Request) bodyLen() int { return uvarintLen(uint64(m.DeadlineMs)) + rangesLen(m.Ranges) }

// Len returns the encoded size of the whole frame.
func (m *Request) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *Request) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeRequest, m.bodyLen())
	b = binary.AppendUvarint(b, uint64(m.DeadlineMs))
	return appendRanges(b, m.Ranges)
}

// Parse parses one Request frame from the start of b, reusing m.Ranges.
func (m *Request) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeRequest)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.DeadlineMs = r.u32()
	var k errKind
	var ok bool
	if m.Ranges, k, ok = readRanges(&r, m.Ranges); ok {
		k, ok = r.done()
	}
	if !ok {
		return 0, frameErr(TypeRequest, k)
	}
	return n, nil
}
