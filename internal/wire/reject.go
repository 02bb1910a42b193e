package wire

// Reject tells the requester that the sender will not or cannot serve these
// chunks: it does not hold them, has evicted them, or refuses under load.
//
// Body: range list (uvarint count ≤ MaxRanges, then per range uvarint
// Start and uvarint End-Start).
type Reject struct {
	Ranges []Range
}

// Type returns TypeReject.
func (*Reject) Type() Type { return TypeReject }

// Len returns the encoded size of the whole frame.
func (m *Reject) Len() int { return frameLen(rangesLen(m.Ranges)) }

// Append appends the whole frame to b.
func (m *Reject) Append(b []byte) []byte { return appendRangeFrame(b, TypeReject, m.Ranges) }

// Parse parses one Reject frame from the start of b, reusing m.Ranges.
func (m *Reject) Parse(b []byte) (n int, err error) {
	m.Ranges, n, err = parseRangeFrame(b, TypeReject, m.Ranges)
	return n, err
}
