package wire

import "encoding/binary"

// Ack acknowledges received packet numbers (Data.PacketNum).
//
// Body: DelayUs zigzag varint, then a range list of packet numbers. The
// receiver sends its newest ranges that fit the datagram.
type Ack struct {
	// DelayUs is the receiver's clock when it received the largest
	// acknowledged packet minus that packet's SendTimeUs. The clocks differ,
	// so only changes in DelayUs are meaningful; it may be negative.
	DelayUs int64
	Ranges  []Range
}

// Type returns TypeAck.
func (*Ack) Type() Type { return TypeAck }

func (m *Ack) bodyLen() int { return varintLen(m.DelayUs) + rangesLen(m.Ranges) }

// Len returns the encoded size of the whole frame.
func (m *Ack) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *Ack) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeAck, m.bodyLen())
	b = binary.AppendVarint(b, m.DelayUs)
	return appendRanges(b, m.Ranges)
}

// Parse parses one Ack frame from the start of b, reusing m.Ranges.
func (m *Ack) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeAck)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.DelayUs = r.varint()
	var k errKind
	var ok bool
	if m.Ranges, k, ok = readRanges(&r, m.Ranges); ok {
		k, ok = r.done()
	}
	if !ok {
		return 0, frameErr(TypeAck, k)
	}
	return n, nil
}
