package wire

// Close reasons.
const (
	CloseNormal     uint8 = 0 // the sender is leaving or no longer needs the session
	CloseBanned     uint8 = 1 // the receiver misbehaved and is banned from the swarm
	CloseTooMany    uint8 = 2 // the sender has too many peers
	CloseWrongSwarm uint8 = 3 // the sender is not in the receiver's swarm
)

// Close ends a session.
//
// Body: Reason u8. Parse accepts any value.
type Close struct {
	Reason uint8
}

// Type returns TypeClose.
func (*Close) Type() Type { return TypeClose }

// Len returns the encoded size of the whole frame.
func (*Close) Len() int { return 3 }

// Append appends the whole frame to b.
func (m *Close) Append(b []byte) []byte { return append(b, byte(TypeClose), 1, m.Reason) }

// Parse parses one Close frame from the start of b.
func (m *Close) Parse(b []byte) (n int, err error) {
	body, n, err := openFrame(b, TypeClose)
	if err != nil {
		return 0, err
	}
	if len(body) != 1 {
		return 0, frameErr(TypeClose, kMalformed)
	}
	m.Reason = body[0]
	return n, nil
}
