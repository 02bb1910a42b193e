package integrity

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// HashSize is the size of a Hash in bytes.
const HashSize = sha256.Size

// Hash is a SHA-256 digest: a leaf, an interior node, a content ID or a
// swarm ID.
type Hash [HashSize]byte

// String returns the hash as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler with the String form.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(HashSize))
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParseHash accepts.
func (h *Hash) UnmarshalText(text []byte) error {
	p, err := parseHash(text)
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses 64 hex digits (either case) into a Hash.
func ParseHash(s string) (Hash, error) { return parseHash([]byte(s)) }

func parseHash(s []byte) (Hash, error) {
	var h Hash
	if len(s) != hex.EncodedLen(HashSize) {
		return h, fmt.Errorf("%w: hash is %d characters, want %d hex digits", ErrMalformed, len(s), hex.EncodedLen(HashSize))
	}
	if _, err := hex.Decode(h[:], s); err != nil {
		return Hash{}, fmt.Errorf("%w: hash: %v", ErrMalformed, err)
	}
	return h, nil
}

// LeafHash returns the leaf hash of one block: SHA-256 of its bytes.
func LeafHash(block []byte) Hash { return sha256.Sum256(block) }

// hashPair returns the interior node SHA-256(left || right).
func hashPair(left, right *Hash) Hash {
	var buf [2 * HashSize]byte
	copy(buf[:HashSize], left[:])
	copy(buf[HashSize:], right[:])
	return sha256.Sum256(buf[:])
}
