package wire

import (
	"errors"
	"fmt"
)

// newMessage returns a new zero message for t, or an *Unknown.
func newMessage(t Type) interface {
	Message
	Parse([]byte) (int, error)
} {
	switch t {
	case TypeHandshake:
		return new(Handshake)
	case TypeHave:
		return new(Have)
	case TypeBitfield:
		return new(Bitfield)
	case TypeRequest:
		return new(Request)
	case TypeRequestFragments:
		return new(RequestFragments)
	case TypeCancel:
		return new(Cancel)
	case TypeData:
		return new(Data)
	case TypeAck:
		return new(Ack)
	case TypeChoke:
		return new(Choke)
	case TypeUnchoke:
		return new(Unchoke)
	case TypePex:
		return new(Pex)
	case TypeKeepalive:
		return new(Keepalive)
	case TypeReject:
		return new(Reject)
	case TypeClose:
		return new(Close)
	case TypeSigned:
		return new(Signed)
	case TypeProof:
		return new(Proof)
	case TypeTree:
		return new(Tree)
	case TypeKeyframe:
		return new(Keyframe)
	}
	return new(Unknown)
}

// ParseAny parses the frame at the start of b into a newly allocated
// message: the struct for a known type, *Unknown otherwise. It is meant for
// tests and slow paths; a hot path switches on PeekType and parses into
// reused structs.
func ParseAny(b []byte) (Message, int, error) {
	t, err := PeekType(b)
	if err != nil {
		return nil, 0, err
	}
	m := newMessage(t)
	n, err := m.Parse(b)
	if err != nil {
		return nil, 0, err
	}
	return m, n, nil
}

var errNoFrames = errors.New("datagram has no frames")

// ParseDatagram parses a whole datagram: the header, then frames until the
// end. A datagram must hold at least one frame. Like ParseAny it allocates.
func ParseDatagram(b []byte) (Tag, []Message, error) {
	tag, off, err := ParseHeader(b)
	if err != nil {
		return Tag{}, nil, err
	}
	if off == len(b) {
		return Tag{}, nil, fmt.Errorf("wire: %w: %w", errNoFrames, ErrMalformed)
	}
	var msgs []Message
	for off < len(b) {
		m, n, err := ParseAny(b[off:])
		if err != nil {
			return Tag{}, nil, fmt.Errorf("wire: datagram frame %d at byte %d: %w", len(msgs), off, err)
		}
		msgs = append(msgs, m)
		off += n
	}
	return tag, msgs, nil
}

// AppendDatagram appends a header and the frames in msgs.
func AppendDatagram(b []byte, tag Tag, msgs ...Message) []byte {
	b = AppendHeader(b, tag)
	for _, m := range msgs {
		b = m.Append(b)
	}
	return b
}
