package wire

import "encoding/binary"

// HashSize is the size in bytes of a SHA-256 hash.
const HashSize = 32

// Proof carries the Merkle uncle hashes an on-demand chunk needs to be
// verified against the content ID, leaf level first. A sender includes only
// the hashes the receiver still lacks.
//
// Body: Chunk uvarint, count u8 (≤ MaxUncles), then count × 32 bytes.
type Proof struct {
	Chunk  uint64
	Uncles [][HashSize]byte
}

// Type returns TypeProof.
func (*Proof) Type() Type { return TypeProof }

func (m *Proof) bodyLen() int { return uvarintLen(m.Chunk) + 1 + HashSize*len(m.Uncles) }

// Len returns the encoded size of the whole frame.
func (m *Proof) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b. At most MaxUncles hashes may be
// sent; the count byte holds len(m.Uncles) modulo 256.
func (m *Proof) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeProof, m.bodyLen())
	b = binary.AppendUvarint(b, m.Chunk)
	b = append(b, uint8(len(m.Uncles)))
	for i := range m.Uncles {
		b = append(b, m.Uncles[i][:]...)
	}
	return b
}

// Parse parses one Proof frame from the start of b, reusing m.Uncles. The
// hashes are copied, so m does not alias b.
func (m *Proof) Parse(b []byte) (n int, err error) {
	m.Uncles = m.Uncles[:0]
	body, n, err := openFrame(b, TypeProof)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	m.Chunk = r.uvarint()
	count := r.u8()
	if r.bad {
		return 0, frameErr(TypeProof, kMalformed)
	}
	if count > MaxUncles {
		return 0, frameErr(TypeProof, kTooLarge)
	}
	hashes := r.bytes(int(count) * HashSize)
	if k, ok := r.done(); !ok {
		return 0, frameErr(TypeProof, k)
	}
	for i := 0; i < len(hashes); i += HashSize {
		m.Uncles = append(m.Uncles, [HashSize]byte(hashes[i:i+HashSize]))
	}
	return n, nil
}
