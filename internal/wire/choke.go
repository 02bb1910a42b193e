package wire

// Choke tells the receiver that the sender will serve no more requests
// until it sends Unchoke. Its body is empty.
type Choke struct{}

// Unchoke tells the receiver that the sender will serve its requests. Its
// body is empty.
type Unchoke struct{}

// Type returns TypeChoke.
func (*Choke) Type() Type { return TypeChoke }

// Len returns the encoded size of the whole frame.
func (*Choke) Len() int { return 2 }

// Append appends the whole frame to b.
func (*Choke) Append(b []byte) []byte { return append(b, byte(TypeChoke), 0) }

// Parse parses one Choke frame from the start of b.
func (*Choke) Parse(b []byte) (n int, err error) { return parseEmpty(b, TypeChoke) }

// Type returns TypeUnchoke.
func (*Unchoke) Type() Type { return TypeUnchoke }

// Len returns the encoded size of the whole frame.
func (*Unchoke) Len() int { return 2 }

// Append appends the whole frame to b.
func (*Unchoke) Append(b []byte) []byte { return append(b, byte(TypeUnchoke), 0) }

// Parse parses one Unchoke frame from the start of b.
func (*Unchoke) Parse(b []byte) (n int, err error) { return parseEmpty(b, TypeUnchoke) }

// parseEmpty parses a frame of type t whose body must be empty.
func parseEmpty(b []byte, t Type) (int, error) {
	body, n, err := openFrame(b, t)
	if err != nil {
		return 0, err
	}
	if len(body) != 0 {
		return 0, frameErr(t, kMalformed)
	}
	return n, nil
}
