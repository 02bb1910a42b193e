package wire

// Keepalive keeps a session and its NAT bindings open when there is
// nothing else to send. Its body is empty.
type Keepalive struct{}

// Type returns TypeKeepalive.
func (*Keepalive) Type() Type { return TypeKeepalive }

// Len returns the encoded size of the whole frame.
func (*Keepalive) Len() int { return 2 }

// Append appends the whole frame to b.
func (*Keepalive) Append(b []byte) []byte { return append(b, byte(TypeKeepalive), 0) }

// Parse parses one Keepalive frame from the start of b.
func (*Keepalive) Parse(b []byte) (n int, err error) { return parseEmpty(b, TypeKeepalive) }
