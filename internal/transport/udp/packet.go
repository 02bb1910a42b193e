package udp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Packet types, the first byte of every UDP payload.
const (
	typeInit     byte = 1
	typeResponse byte = 2
	typeFinish   byte = 3
	typeData     byte = 4
	typeReset    byte = 5
)

const (
	keyLen        = 32
	tagLen        = 16
	indexLen      = 4
	counterLen    = 8
	dataHeaderLen = 1 + indexLen + counterLen

	// initPadLen pads the init up to the response's size (see package doc).
	initPadLen        = 68
	initNoiseLen      = keyLen + initPadLen
	responseNoiseLen  = keyLen + keyLen + tagLen + tagLen
	finishNoiseLen    = keyLen + tagLen + tagLen
	initPacketLen     = 1 + indexLen + initNoiseLen
	responsePacketLen = 1 + indexLen + indexLen + responseNoiseLen
	finishPacketLen   = 1 + indexLen + finishNoiseLen
	resetPacketLen    = 1 + indexLen
)

// Overhead is the number of bytes the transport adds to every application
// datagram: type, receiver index, counter and authentication tag.
const Overhead = dataHeaderLen + tagLen

// MaxPayload is the largest application datagram Send accepts.
const MaxPayload = 1160

// MaxPacketSize is the largest UDP payload the transport sends or accepts.
const MaxPacketSize = MaxPayload + Overhead

// errMalformed is wrapped by every parse error; such packets are dropped and
// counted as malformed.
var errMalformed = errors.New("udp: malformed packet")

// initMsg is the first handshake message.
type initMsg struct {
	senderIndex uint32
	noise       []byte // ephemeral key and padding; aliases the parsed buffer
}

func (m *initMsg) Append(b []byte) []byte {
	b = append(b, typeInit)
	b = binary.LittleEndian.AppendUint32(b, m.senderIndex)
	return append(b, m.noise...)
}

func (m *initMsg) Parse(b []byte) (int, error) {
	if len(b) != initPacketLen || b[0] != typeInit {
		return 0, fmt.Errorf("init of %d bytes: %w", len(b), errMalformed)
	}
	m.senderIndex = binary.LittleEndian.Uint32(b[1:])
	m.noise = b[1+indexLen:]
	return len(b), nil
}

// ephemeral returns the initiator's ephemeral public key.
func (m *initMsg) ephemeral() (e [keyLen]byte) {
	copy(e[:], m.noise)
	return e
}

// responseMsg is the second handshake message.
type responseMsg struct {
	senderIndex   uint32
	receiverIndex uint32
	noise         []byte
}

func (m *responseMsg) Append(b []byte) []byte {
	b = append(b, typeResponse)
	b = binary.LittleEndian.AppendUint32(b, m.senderIndex)
	b = binary.LittleEndian.AppendUint32(b, m.receiverIndex)
	return append(b, m.noise...)
}

func (m *responseMsg) Parse(b []byte) (int, error) {
	if len(b) != responsePacketLen || b[0] != typeResponse {
		return 0, fmt.Errorf("response of %d bytes: %w", len(b), errMalformed)
	}
	m.senderIndex = binary.LittleEndian.Uint32(b[1:])
	m.receiverIndex = binary.LittleEndian.Uint32(b[1+indexLen:])
	m.noise = b[1+2*indexLen:]
	return len(b), nil
}

// finishMsg is the third handshake message.
type finishMsg struct {
	receiverIndex uint32
	noise         []byte
}

func (m *finishMsg) Append(b []byte) []byte {
	b = append(b, typeFinish)
	b = binary.LittleEndian.AppendUint32(b, m.receiverIndex)
	return append(b, m.noise...)
}

func (m *finishMsg) Parse(b []byte) (int, error) {
	if len(b) != finishPacketLen || b[0] != typeFinish {
		return 0, fmt.Errorf("finish of %d bytes: %w", len(b), errMalformed)
	}
	m.receiverIndex = binary.LittleEndian.Uint32(b[1:])
	m.noise = b[1+indexLen:]
	return len(b), nil
}

// dataMsg is a transport packet: header, then ciphertext and tag.
type dataMsg struct {
	receiverIndex uint32
	counter       uint64
	sealed        []byte // ciphertext followed by the tag
}

// appendDataHeader appends the 13 bytes that are also the AEAD's associated data.
func appendDataHeader(b []byte, receiverIndex uint32, counter uint64) []byte {
	b = append(b, typeData)
	b = binary.LittleEndian.AppendUint32(b, receiverIndex)
	return binary.LittleEndian.AppendUint64(b, counter)
}

func (m *dataMsg) Append(b []byte) []byte {
	b = appendDataHeader(b, m.receiverIndex, m.counter)
	return append(b, m.sealed...)
}

func (m *dataMsg) Parse(b []byte) (int, error) {
	if len(b) < Overhead || len(b) > MaxPacketSize || b[0] != typeData {
		return 0, fmt.Errorf("data of %d bytes: %w", len(b), errMalformed)
	}
	m.receiverIndex = binary.LittleEndian.Uint32(b[1:])
	m.counter = binary.LittleEndian.Uint64(b[1+indexLen:])
	m.sealed = b[dataHeaderLen:]
	return len(b), nil
}

// resetMsg tells a peer that its receiver index is unknown here.
type resetMsg struct {
	receiverIndex uint32
}

func (m *resetMsg) Append(b []byte) []byte {
	b = append(b, typeReset)
	return binary.LittleEndian.AppendUint32(b, m.receiverIndex)
}

func (m *resetMsg) Parse(b []byte) (int, error) {
	if len(b) != resetPacketLen || b[0] != typeReset {
		return 0, fmt.Errorf("reset of %d bytes: %w", len(b), errMalformed)
	}
	m.receiverIndex = binary.LittleEndian.Uint32(b[1:])
	return len(b), nil
}
