package wire

// Unknown is a frame kept raw: ParseAny returns it for a type this version
// does not define, so a relay or a test can carry it unchanged.
type Unknown struct {
	Code Type
	Body []byte // aliases the parsed buffer
}

// Type returns the frame's type code.
func (m *Unknown) Type() Type { return m.Code }

// Len returns the encoded size of the whole frame.
func (m *Unknown) Len() int { return frameLen(len(m.Body)) }

// Append appends the whole frame to b.
func (m *Unknown) Append(b []byte) []byte {
	return append(appendFrameHeader(b, m.Code, len(m.Body)), m.Body...)
}

// Parse parses one frame of any type from the start of b without looking
// at its body. m.Body aliases b.
func (m *Unknown) Parse(b []byte) (n int, err error) {
	t, body, n, k, ok := splitFrame(b)
	if !ok {
		return 0, frameErr(t, k)
	}
	m.Code, m.Body = t, body
	return n, nil
}
