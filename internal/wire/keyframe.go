package wire

import "encoding/binary"

// MaxKeyframes bounds the entries of one Keyframe frame.
const MaxKeyframes = 32

// KeyframeEntry names one live chunk that starts a random-access point,
// with the origin's timestamp of it.
type KeyframeEntry struct {
	Chunk       uint64
	TimestampUs int64
}

// Keyframe announces live chunks the sender now holds that start a
// random-access point, as Have does for any chunk, with their timestamps. A
// newcomer learns from it where it can start to play and when each start
// is due, without fetching a chunk to find out. It is a hint: flag and
// timestamp become certain only with the chunk's verified Signed frame.
//
// Body: count uvarint (≤ MaxKeyframes), then per entry Chunk uvarint and
// TimestampUs zigzag varint.
type Keyframe struct {
	Entries []KeyframeEntry
}

// Type returns TypeKeyframe.
func (*Keyframe) Type() Type { return TypeKeyframe }

func (m *Keyframe) bodyLen() int {
	n := uvarintLen(uint64(len(m.Entries)))
	for _, e := range m.Entries {
		n += uvarintLen(e.Chunk) + varintLen(e.TimestampUs)
	}
	return n
}

// Len returns the encoded size of the whole frame.
func (m *Keyframe) Len() int { return frameLen(m.bodyLen()) }

// Append appends the whole frame to b.
func (m *Keyframe) Append(b []byte) []byte {
	b = appendFrameHeader(b, TypeKeyframe, m.bodyLen())
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		b = binary.AppendUvarint(b, e.Chunk)
		b = binary.AppendVarint(b, e.TimestampUs)
	}
	return b
}

// Parse parses one Keyframe frame from the start of b, reusing m.Entries.
func (m *Keyframe) Parse(b []byte) (n int, err error) {
	m.Entries = m.Entries[:0]
	body, n, err := openFrame(b, TypeKeyframe)
	if err != nil {
		return 0, err
	}
	r := reader{b: body}
	count := r.uvarint()
	if r.bad {
		return 0, frameErr(TypeKeyframe, kMalformed)
	}
	if count > MaxKeyframes {
		return 0, frameErr(TypeKeyframe, kTooLarge)
	}
	for range count {
		e := KeyframeEntry{Chunk: r.uvarint(), TimestampUs: r.varint()}
		if r.bad {
			return 0, frameErr(TypeKeyframe, kMalformed)
		}
		m.Entries = append(m.Entries, e)
	}
	if k, ok := r.done(); !ok {
		return 0, frameErr(TypeKeyframe, k)
	}
	return n, nil
}
