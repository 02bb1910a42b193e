package wire

import (
	"encoding/binary"
	"math"
	"net/netip"
	"reflect"
)

// parser is what every frame struct offers.
type parser interface {
	Message
	Parse([]byte) (int, error)
}

// frame builds a frame of type t around body, with a shortest-form length.
func frame(t Type, body ...byte) []byte {
	return append(binary.AppendUvarint([]byte{byte(t)}, uint64(len(body))), body...)
}

// uv concatenates the uvarint encodings of xs.
func uv(xs ...uint64) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func filled(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v + byte(i)
	}
	return b
}

func id32(v byte) [32]byte { return [32]byte(filled(32, v)) }

func manyRanges(n int) []Range {
	rs := make([]Range, n)
	for i := range rs {
		rs[i] = Range{Start: uint64(i) * 10, End: uint64(i)*10 + 3}
	}
	return rs
}

func manyPeers(n int) []PexPeer {
	ps := make([]PexPeer, n)
	for i := range ps {
		var a netip.Addr
		if i%2 == 0 {
			a = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		} else {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
		}
		ps[i] = PexPeer{Addr: netip.AddrPortFrom(a, uint16(1000+i)), Flags: uint8(i)}
	}
	return ps
}

func manyUncles(n int) [][HashSize]byte {
	us := make([][HashSize]byte, n)
	for i := range us {
		us[i] = id32(byte(i * 7))
	}
	return us
}

// validCases returns valid messages covering edge values of every field.
func validCases() []struct {
	name string
	m    parser
} {
	const max64 = math.MaxUint64
	bits := make([]byte, MaxBitfieldBits/8)
	for i := range bits {
		bits[i] = byte(i*37 + 1)
	}
	return []struct {
		name string
		m    parser
	}{
		{"handshake/zero", &Handshake{}},
		{"handshake/full", &Handshake{Version: Version, Flags: FlagOrigin | FlagSeed | FlagBrowser | FlagNeedProofs, SwarmID: id32(1), PeerID: id32(100), UploadBps: 25_000_000}},
		{"handshake/max", &Handshake{Version: 255, Flags: 255, SwarmID: id32(255), PeerID: id32(0), UploadBps: max64}},

		{"have/empty", &Have{}},
		{"have/one", &Have{Ranges: []Range{{Start: 5, End: 6}}}},
		{"have/adjacent", &Have{Ranges: []Range{{Start: 0, End: 4}, {Start: 4, End: 9}, {Start: 100, End: 1000}}}},
		{"have/max-values", &Have{Ranges: []Range{{Start: 0, End: max64}}}},
		{"have/last-chunk", &Have{Ranges: []Range{{Start: max64 - 1, End: max64}}}},
		{"have/max-list", &Have{Ranges: manyRanges(MaxRanges)}},

		{"bitfield/empty", &Bitfield{}},
		{"bitfield/one-bit", &Bitfield{Start: 7, Count: 1, Bits: []byte{0x80}}},
		{"bitfield/partial-byte", &Bitfield{Start: 1000, Count: 13, Bits: []byte{0xa5, 0xf8}}},
		{"bitfield/max", &Bitfield{Start: max64 - MaxBitfieldBits, Count: MaxBitfieldBits, Bits: bits}},

		{"request/empty", &Request{}},
		{"request/deadline", &Request{DeadlineMs: 1500, Ranges: []Range{{Start: 10, End: 12}, {Start: 20, End: 21}}}},
		{"request/max", &Request{DeadlineMs: math.MaxUint32, Ranges: manyRanges(MaxRanges)}},

		{"request-fragments/empty", &RequestFragments{}},
		{"request-fragments/some", &RequestFragments{Chunk: 99, Flags: FlagWantIntegrity, Fragments: []Range{{Start: 0, End: 1}, {Start: 3, End: 15}}}},
		{"request-fragments/max", &RequestFragments{Chunk: max64, Flags: 255, Fragments: manyRanges(MaxRanges)}},

		{"cancel/empty", &Cancel{}},
		{"cancel/some", &Cancel{Ranges: []Range{{Start: 1, End: 2}, {Start: 1 << 40, End: 1<<40 + 5}}}},
		{"cancel/max", &Cancel{Ranges: manyRanges(MaxRanges)}},

		{"data/zero", &Data{}},
		{"data/fragment", &Data{Chunk: 12345, Offset: FragmentSize, Total: 16384, PacketNum: 77, SendTimeUs: 1_000_000, Payload: filled(FragmentSize, 3)}},
		{"data/tail", &Data{Chunk: 1, Offset: 16000, Total: 16384, PacketNum: 1, SendTimeUs: 1, Payload: filled(384, 9)}},
		{"data/max", &Data{Chunk: max64, Offset: MaxChunkSize - 1, Total: MaxChunkSize, PacketNum: max64, SendTimeUs: max64, Payload: []byte{42}}},

		{"ack/empty", &Ack{}},
		{"ack/negative", &Ack{DelayUs: -12345, Ranges: []Range{{Start: 1, End: 10}, {Start: 12, End: 13}}}},
		{"ack/min", &Ack{DelayUs: math.MinInt64, Ranges: []Range{{Start: max64 - 1, End: max64}}}},
		{"ack/max", &Ack{DelayUs: math.MaxInt64, Ranges: manyRanges(MaxRanges)}},

		{"choke", &Choke{}},
		{"unchoke", &Unchoke{}},
		{"keepalive", &Keepalive{}},

		{"pex/empty", &Pex{}},
		{"pex/mixed", &Pex{Peers: []PexPeer{
			{Addr: netip.MustParseAddrPort("192.0.2.1:8081"), Flags: FlagSeed},
			{Addr: netip.MustParseAddrPort("[2001:db8::1]:65535")},
			{Addr: netip.MustParseAddrPort("[::ffff:198.51.100.7]:0"), Flags: FlagBrowser},
		}}},
		{"pex/max", &Pex{Peers: manyPeers(MaxPexPeers)}},

		{"reject/empty", &Reject{}},
		{"reject/some", &Reject{Ranges: []Range{{Start: 0, End: 100}}}},
		{"reject/max", &Reject{Ranges: manyRanges(MaxRanges)}},

		{"close/normal", &Close{Reason: CloseNormal}},
		{"close/wrong-swarm", &Close{Reason: CloseWrongSwarm}},
		{"close/max", &Close{Reason: 255}},

		{"signed/zero", &Signed{}},
		{"signed/live", &Signed{Chunk: 4711, TimestampUs: 1_700_000_000_000_000, Flags: ChunkRAP, Length: 188 * 100, Signature: [64]byte(filled(64, 5))}},
		{"signed/min", &Signed{Chunk: max64, TimestampUs: math.MinInt64, Flags: ChunkRAP | ChunkDiscontinuity, Length: MaxChunkSize, Signature: [64]byte(filled(64, 200))}},
		{"signed/max-ts", &Signed{TimestampUs: math.MaxInt64}},

		{"proof/empty", &Proof{}},
		{"proof/some", &Proof{Chunk: 3, Uncles: manyUncles(5)}},
		{"proof/max", &Proof{Chunk: max64, Uncles: manyUncles(MaxUncles)}},
		{"tree/one", &Tree{Want: 1, Depths: []uint8{DepthNone}}},
		{"tree/four", &Tree{Want: 5, Grant: 10, Depths: []uint8{0, 1, 2, DepthNone}}},
		{"tree/max", &Tree{Want: max64, Grant: max64, Depths: make([]uint8, MaxSubstreams)}},

		{"keyframe/empty", &Keyframe{}},
		{"keyframe/some", &Keyframe{Entries: []KeyframeEntry{{Chunk: 16, TimestampUs: 1_700_000_000_000_000}, {Chunk: 32, TimestampUs: -5}}}},
		{"keyframe/max", &Keyframe{Entries: manyKeyframes(MaxKeyframes)}},

		{"unknown/empty", &Unknown{Code: 0x7f}},
		{"unknown/body", &Unknown{Code: 0xff, Body: filled(300, 1)}},
	}
}

// equalMsg compares two messages field by field, treating nil and empty
// slices as equal.
func equalMsg(a, b any) bool {
	return equalValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equalValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValue(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[netip.AddrPort]() {
			return a.Interface() == b.Interface()
		}
		for i := range a.NumField() {
			if !equalValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Array:
		for i := range a.Len() {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

func manyKeyframes(n int) []KeyframeEntry {
	es := make([]KeyframeEntry, n)
	for i := range es {
		es[i] = KeyframeEntry{Chunk: math.MaxUint64 - uint64(i), TimestampUs: math.MinInt64 + int64(i)}
	}
	return es
}
