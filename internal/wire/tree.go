package wire

import "encoding/binary"

// MaxSubstreams bounds the substreams a live stream is split into.
const MaxSubstreams = 64

// DepthNone is the depth of a substream the sender does not receive by push.
const DepthNone uint8 = 255

// Tree is the sender's state of the live push trees towards the receiver.
// A live stream is split into len(Depths) substreams (chunk seq modulo the
// count); along each, chunks are pushed from parent to child without being
// requested. The frame is idempotent: it always carries the whole state.
//
// Body: Want uvarint (bit j: push me substream j), Grant uvarint (bit j: I
// push you substream j), count u8 (1..64), Depths count bytes (hops from the
// origin along substream j, DepthNone when not in that tree).
type Tree struct {
	Want   uint64
	Grant  uint64
	Depths []uint8
}

// Type returns TypeTree.
func (*Tree) Type() Type { return TypeTree }

func (m *Tree) bodyLen() int { return uvarintLen(m.Want) + uvarintLen(m.Grant) + 1 + len(m.Depths) }

// Len returns the encoded size of the whole frame.
func (m *Tree) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *Tree) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeTree, m.bodyLen())
	b = binary.AppendUvarint(b, m.Want)
	b = binary.AppendUvarint(b, m.Grant)
	b = append(b, uint8(len(m.Depths)))
	return append(b, m.Depths...)
}

// Parse parses one Tree frame from the start of b. Depths is reused.
func (m *Tree) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeTree)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.Want = r.uvarint()
	m.Grant = r.uvarint()
	k := int(r.u8())
	if k > MaxSubstreams {
		return 0, frameErr(TypeTree, kTooLarge)
	}
	d := r.bytes(k)
	if kind, ok := r.done(); !ok {
		return 0, frameErr(TypeTree, kind)
	}
	if k == 0 || (k < 64 && (m.Want>>k != 0 || m.Grant>>k != 0)) {
		return 0, frameErr(TypeTree, kMalformed)
	}
	m.Depths = append(m.Depths[:0], d...)
	return n, nil
}
