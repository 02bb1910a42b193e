package wire

import "encoding/binary"

// frameLen returns the size of a whole frame whose body is bodyLen bytes.
func frameLen(bodyLen int) int {
	return 1 + uvarintLen(uint64(bodyLen)) + bodyLen
}

// appendFrameHeader appends a frame's type and body length.
func appendFrameHeader(b []byte, t Type, bodyLen int) []byte {
	return binary.AppendUvarint(append(b, byte(t)), uint64(bodyLen))
}

// splitFrame reads the type and length of the frame at the start of b and
// returns its body and whole size. It does not look at the body.
func splitFrame(b []byte) (t Type, body []byte, n int, k errKind, ok bool) {
	if len(b) < 2 {
		if len(b) == 1 {
			t = Type(b[0])
		}
		return t, nil, 0, kShort, false
	}
	t = Type(b[0])
	l, m := uvarint(b[1:])
	switch {
	case m == 0:
		return t, nil, 0, kShort, false
	case m < 0:
		return t, nil, 0, kMalformed, false
	}
	hdr := 1 + m
	if l > uint64(len(b)-hdr) {
		return t, nil, 0, kShort, false
	}
	n = hdr + int(l)
	return t, b[hdr:n:n], n, 0, true
}

// openFrame checks that b starts with a whole frame of type want and
// returns its body and whole size.
func openFrame(b []byte, want Type) (body []byte, n int, err error) {
	if len(b) > 0 && Type(b[0]) != want {
		return nil, 0, frameErr(want, kType)
	}
	_, body, n, k, ok := splitFrame(b)
	if !ok {
		return nil, 0, frameErr(want, k)
	}
	return body, n, nil
}

// PeekType returns the type of the frame at the start of b.
func PeekType(b []byte) (Type, error) {
	if len(b) == 0 {
		return 0, frameErr(0, kShort)
	}
	return Type(b[0]), nil
}

// SkipFrame returns the size of the whole frame at the start of b, of any
// type, known or not, without parsing its body.
func SkipFrame(b []byte) (n int, err error) {
	t, _, n, k, ok := splitFrame(b)
	if !ok {
		return 0, frameErr(t, k)
	}
	return n, nil
}
