package wire

// Have announces chunks the sender now holds.
//
// Body: range list (uvarint count ≤ MaxRanges, then per range uvarint
// Start and uvarint End-Start).
type Have struct {
	Ranges []Range
}

// Type returns TypeHave.
func (*Have) Type() Type { return TypeHave }

// Len returns the encoded size of the whole frame.
func (m *Have) Len() int { return frameLen(rangesLen(m.Ranges)) }

// Append appends the whole frame to b.
func (m *Have) Append(b []byte) []byte { return appendRangeFrame(b, TypeHave, m.Ranges) }

// Parse parses one Have frame from the start of b, reusing m.Ranges.
func (m *Have) Parse(b []byte) (n int, err error) {
	m.Ranges, n, err = parseRangeFrame(b, TypeHave, m.Ranges)
	return n, err
}
