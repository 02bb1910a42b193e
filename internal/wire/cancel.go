package wire

// Cancel withdraws requests for chunks no longer wanted.
//
// Body: range list (uvarint count ≤ MaxRanges, then per range uvarint
// Start and uvarint End-Start).
type Cancel struct {
	Ranges []Range
}

// Type returns TypeCancel.
func (*Cancel) Type() Type { return TypeCancel }

// Len returns the encoded size of the whole frame.
func (m *Cancel) Len() int { return frameLen(rangesLen(m.Ranges)) }

// Append appends the whole frame to b.
func (m *Cancel) Append(b []byte) []byte { return appendRangeFrame(b, TypeCancel, m.Ranges) }

// Parse parses one Cancel frame from the start of b, reusing m.Ranges.
func (m *Cancel) Parse(b []byte) (n int, err error) {
	m.Ranges, n, err = parseRangeFrame(b, TypeCancel, m.Ranges)
	return n, err
}
