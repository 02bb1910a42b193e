package wire

import (
	"errors"
	"fmt"
	"strconv"
)

// Version is the protocol version carried in every datagram header.
const Version = 1

// Sizes of datagrams and fragments.
const (
	// HeaderLen is the size in bytes of the datagram header.
	HeaderLen = 9
	// MaxDatagramSize is the default path-MTU-safe size in bytes of a whole
	// datagram as the transport receives it, before its own overhead.
	MaxDatagramSize = 1200
	// FragmentSize is the default number of payload bytes in one Data frame.
	// A Data frame of that size, with the header, leaves at least
	// TransportOverheadBytes of MaxDatagramSize for the transport when
	// Chunk, PacketNum and SendTimeUs are below 2^42.
	FragmentSize = 1120
	// TransportOverheadBytes is the room a full Data datagram leaves in
	// MaxDatagramSize for the transport's own framing and tag.
	TransportOverheadBytes = 40
)

// Limits on counts and sizes; Parse rejects frames beyond them with
// ErrTooLarge.
const (
	MaxRanges       = 256     // ranges in one Have, Request, RequestFragments, Cancel, Ack or Reject
	MaxBitfieldBits = 8192    // chunks described by one Bitfield
	MaxPexPeers     = 64      // peers in one Pex
	MaxUncles       = 40      // hashes in one Proof
	MaxChunkSize    = 1 << 24 // bytes in one chunk (Data.Total, Signed.Length)
)

// Errors returned, wrapped with context, by the Parse functions.
var (
	ErrShort     = errors.New("truncated")
	ErrType      = errors.New("unexpected frame type")
	ErrMalformed = errors.New("malformed")
	ErrTooLarge  = errors.New("over limit")
	ErrVersion   = errors.New("unknown protocol version")
)

// Type is a frame's type code, its first byte.
type Type uint8

// Frame type codes.
const (
	TypeHandshake        Type = 0x01
	TypeHave             Type = 0x02
	TypeBitfield         Type = 0x03
	TypeRequest          Type = 0x04
	TypeRequestFragments Type = 0x05
	TypeCancel           Type = 0x06
	TypeData             Type = 0x07
	TypeAck              Type = 0x08
	TypeChoke            Type = 0x09
	TypeUnchoke          Type = 0x0a
	TypePex              Type = 0x0b
	TypeKeepalive        Type = 0x0c
	TypeReject           Type = 0x0d
	TypeClose            Type = 0x0e
	TypeSigned           Type = 0x0f
	TypeProof            Type = 0x10
	TypeTree             Type = 0x11
	TypeKeyframe         Type = 0x12

	numTypes = 0x13 // one past the highest known code
)

var typeNames = [numTypes]string{
	TypeHandshake:        "handshake",
	TypeHave:             "have",
	TypeBitfield:         "bitfield",
	TypeRequest:          "request",
	TypeRequestFragments: "request-fragments",
	TypeCancel:           "cancel",
	TypeData:             "data",
	TypeAck:              "ack",
	TypeChoke:            "choke",
	TypeUnchoke:          "unchoke",
	TypePex:              "pex",
	TypeKeepalive:        "keepalive",
	TypeReject:           "reject",
	TypeClose:            "close",
	TypeSigned:           "signed",
	TypeProof:            "proof",
	TypeTree:             "tree",
	TypeKeyframe:         "keyframe",
}

// Known reports whether t is a frame type this version defines.
func (t Type) Known() bool { return t < numTypes && typeNames[t] != "" }

// String returns the frame's name, or "type(0xNN)" for an unknown code.
func (t Type) String() string {
	if t.Known() {
		return typeNames[t]
	}
	return "type(0x" + strconv.FormatUint(uint64(t)>>4, 16) + strconv.FormatUint(uint64(t)&0xf, 16) + ")"
}

// Message is implemented by a pointer to every frame struct.
type Message interface {
	// Type returns the frame's type code.
	Type() Type
	// Append appends the whole encoded frame (type, length, body) to b.
	Append(b []byte) []byte
	// Len returns the encoded size in bytes of the whole frame.
	Len() int
}

// errKind indexes the sentinel errors so that wrapped errors can be built
// once and returned without allocating.
type errKind uint8

const (
	kShort errKind = iota
	kType
	kMalformed
	kTooLarge
	numKinds
)

var sentinels = [numKinds]error{ErrShort, ErrType, ErrMalformed, ErrTooLarge}

// frameErrs[t][k] is sentinel k wrapped with the name of frame type t; row 0
// serves unknown types and frame-level helpers.
var frameErrs = func() (e [numTypes][numKinds]error) {
	for t := range e {
		name := "frame"
		if Type(t).Known() {
			name = Type(t).String() + " frame"
		}
		for k := range e[t] {
			e[t][k] = fmt.Errorf("wire: %s: %w", name, sentinels[k])
		}
	}
	return e
}()

// frameErr returns sentinel k wrapped with the context of frame type t.
func frameErr(t Type, k errKind) error {
	if t >= numTypes {
		t = 0
	}
	return frameErrs[t][k]
}
