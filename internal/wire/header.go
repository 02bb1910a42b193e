package wire

import "fmt"

// Tag is the first 8 bytes of a swarm's 32-byte ID. Every datagram carries
// it so that one socket can serve several swarms.
type Tag [8]byte

// TagOf returns the tag of a swarm ID.
func TagOf(swarmID [32]byte) Tag {
	return Tag(swarmID[:8])
}

var (
	errHeaderShort   = fmt.Errorf("wire: header: %w", ErrShort)
	errHeaderVersion = fmt.Errorf("wire: header: %w", ErrVersion)
)

// AppendHeader appends a datagram header for version Version and the tag.
func AppendHeader(b []byte, tag Tag) []byte {
	b = append(b, Version)
	return append(b, tag[:]...)
}

// ParseHeader parses the datagram header at the start of b; n is always
// HeaderLen on success. It returns ErrShort for fewer than HeaderLen bytes
// and ErrVersion for a version other than Version.
func ParseHeader(b []byte) (tag Tag, n int, err error) {
	if len(b) < HeaderLen {
		return Tag{}, 0, errHeaderShort
	}
	if b[0] != Version {
		return Tag{}, 0, errHeaderVersion
	}
	return Tag(b[1:HeaderLen]), HeaderLen, nil
}
