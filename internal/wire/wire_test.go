package wire

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range validCases() {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{0xde, 0xad}
			b := tc.m.Append(bytes.Clone(prefix))
			if !bytes.Equal(b[:2], prefix) {
				t.Fatalf("Append overwrote the buffer's prefix")
			}
			enc := b[2:]
			if got := tc.m.Len(); got != len(enc) {
				t.Fatalf("Len() = %d, encoded %d bytes", got, len(enc))
			}
			if typ, err := PeekType(enc); err != nil || typ != tc.m.Type() {
				t.Fatalf("PeekType = %v, %v; want %v", typ, err, tc.m.Type())
			}
			if n, err := SkipFrame(enc); err != nil || n != len(enc) {
				t.Fatalf("SkipFrame = %d, %v; want %d", n, err, len(enc))
			}

			fresh := newMessage(tc.m.Type())
			if _, ok := tc.m.(*Unknown); ok {
				fresh = new(Unknown)
			}
			// Trailing bytes belong to the next frame and must be left alone.
			withNext := append(bytes.Clone(enc), byte(TypeKeepalive), 0)
			n, err := fresh.Parse(withNext)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(enc) {
				t.Fatalf("Parse consumed %d bytes, want %d", n, len(enc))
			}
			if !equalMsg(fresh, tc.m) {
				t.Fatalf("Parse = %+v, want %+v", fresh, tc.m)
			}
			if again := fresh.Append(nil); !bytes.Equal(again, enc) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, enc)
			}

			any, n, err := ParseAny(enc)
			if err != nil || n != len(enc) || !equalMsg(any, tc.m) {
				t.Fatalf("ParseAny = %+v, %d, %v", any, n, err)
			}
		})
	}
}

// TestParseReusesDirtyStruct parses every valid case into a struct that
// already holds another message of the same type: nothing may leak through.
func TestParseReusesDirtyStruct(t *testing.T) {
	cases := validCases()
	byType := map[Type][]parser{}
	for _, tc := range cases {
		byType[tc.m.Type()] = append(byType[tc.m.Type()], tc.m)
	}
	for _, tc := range cases {
		for _, other := range byType[tc.m.Type()] {
			dirty := newMessage(tc.m.Type())
			if _, ok := tc.m.(*Unknown); ok {
				dirty = new(Unknown)
			}
			if _, err := dirty.Parse(other.Append(nil)); err != nil {
				t.Fatalf("%s: priming parse: %v", tc.name, err)
			}
			if _, err := dirty.Parse(tc.m.Append(nil)); err != nil {
				t.Fatalf("%s: Parse: %v", tc.name, err)
			}
			if !equalMsg(dirty, tc.m) {
				t.Fatalf("%s: parse into a used struct = %+v, want %+v", tc.name, dirty, tc.m)
			}
		}
	}
}

func TestEveryTypeHasCases(t *testing.T) {
	seen := map[Type]bool{}
	for _, tc := range validCases() {
		seen[tc.m.Type()] = true
	}
	for ty := Type(1); ty < numTypes; ty++ {
		if !seen[ty] {
			t.Errorf("no round-trip case for %v", ty)
		}
		if _, ok := newMessage(ty).(*Unknown); ok {
			t.Errorf("newMessage(%v) is Unknown", ty)
		}
	}
}

func TestMalformed(t *testing.T) {
	const max64 = math.MaxUint64
	sig := filled(64, 1)
	hash := filled(32, 2)
	tests := []struct {
		name string
		typ  Type // the parser to use
		in   []byte
		want error
	}{
		// Frame level.
		{"empty", TypeHave, nil, ErrShort},
		{"type only", TypeHave, []byte{byte(TypeHave)}, ErrShort},
		{"length truncated", TypeData, []byte{byte(TypeData), 0x80}, ErrShort},
		{"body truncated", TypeHave, []byte{byte(TypeHave), 3, 1, 0}, ErrShort},
		{"other type", TypeHave, frame(TypeCancel, 0), ErrType},
		{"other type, one byte", TypeHave, []byte{byte(TypeCancel)}, ErrType},
		{"length not shortest", TypeHave, []byte{byte(TypeHave), 0x81, 0x00, 0}, ErrMalformed},
		{"length overflows", TypeHave, append([]byte{byte(TypeHave)}, bytes.Repeat([]byte{0xff}, 10)...), ErrMalformed},

		// Range lists.
		{"have too many", TypeHave, frame(TypeHave, uv(MaxRanges+1)...), ErrTooLarge},
		{"have count past body", TypeHave, frame(TypeHave, uv(2, 1, 1)...), ErrMalformed},
		{"have empty range", TypeHave, frame(TypeHave, uv(1, 5, 0)...), ErrMalformed},
		{"have descending", TypeHave, frame(TypeHave, uv(2, 10, 1, 5, 1)...), ErrMalformed},
		{"have overlapping", TypeHave, frame(TypeHave, uv(2, 10, 5, 14, 1)...), ErrMalformed},
		{"have end overflows", TypeHave, frame(TypeHave, uv(1, max64, 1)...), ErrMalformed},
		{"have trailing byte", TypeHave, frame(TypeHave, uv(1, 1, 1, 0)...), ErrMalformed},
		{"have varint not shortest", TypeHave, frame(TypeHave, 1, 0x85, 0x00, 1), ErrMalformed},
		{"have count not shortest", TypeHave, frame(TypeHave, 0x80, 0x00), ErrMalformed},
		{"cancel descending", TypeCancel, frame(TypeCancel, uv(2, 3, 1, 2, 1)...), ErrMalformed},
		{"reject too many", TypeReject, frame(TypeReject, uv(1000)...), ErrTooLarge},
		{"keyframe too many", TypeKeyframe, frame(TypeKeyframe, uv(MaxKeyframes+1)...), ErrTooLarge},
		{"keyframe truncated entry", TypeKeyframe, frame(TypeKeyframe, uv(1, 5)...), ErrMalformed},

		// Bitfield.
		{"bitfield too many bits", TypeBitfield, frame(TypeBitfield, cat(uv(0, MaxBitfieldBits+1), make([]byte, MaxBitfieldBits/8+1))...), ErrTooLarge},
		{"bitfield count over u32", TypeBitfield, frame(TypeBitfield, uv(0, 1<<32)...), ErrMalformed},
		{"bitfield bits short", TypeBitfield, frame(TypeBitfield, cat(uv(0, 9), []byte{0xff})...), ErrMalformed},
		{"bitfield bits long", TypeBitfield, frame(TypeBitfield, cat(uv(0, 8), []byte{0xff, 0})...), ErrMalformed},
		{"bitfield trailing bits set", TypeBitfield, frame(TypeBitfield, cat(uv(0, 3), []byte{0xf0})...), ErrMalformed},
		{"bitfield past last chunk", TypeBitfield, frame(TypeBitfield, cat(uv(max64, 1), []byte{0x80})...), ErrMalformed},
		{"bitfield no count", TypeBitfield, frame(TypeBitfield, uv(5)...), ErrMalformed},

		// Request, RequestFragments.
		{"request deadline over u32", TypeRequest, frame(TypeRequest, uv(1<<32, 0)...), ErrMalformed},
		{"request no list", TypeRequest, frame(TypeRequest, uv(100)...), ErrMalformed},
		{"request too many", TypeRequest, frame(TypeRequest, uv(0, MaxRanges+1)...), ErrTooLarge},
		{"fragments no flags", TypeRequestFragments, frame(TypeRequestFragments, uv(1)...), ErrMalformed},
		{"fragments empty range", TypeRequestFragments, frame(TypeRequestFragments, cat(uv(1), []byte{0}, uv(1, 3, 0))...), ErrMalformed},

		// Data.
		{"data total too large", TypeData, frame(TypeData, uv(1, 0, MaxChunkSize+1, 1, 1)...), ErrTooLarge},
		{"data past total", TypeData, frame(TypeData, cat(uv(1, 10, 12, 1, 1), []byte{1, 2, 3})...), ErrMalformed},
		{"data offset past total", TypeData, frame(TypeData, uv(1, 13, 12, 1, 1)...), ErrMalformed},
		{"data offset over u32", TypeData, frame(TypeData, uv(1, 1<<32, 12, 1, 1)...), ErrMalformed},
		{"data missing send time", TypeData, frame(TypeData, uv(1, 0, 12, 1)...), ErrMalformed},
		{"data packet number overflows", TypeData, frame(TypeData, cat(uv(1, 0, 12), bytes.Repeat([]byte{0xff}, 10), []byte{1})...), ErrMalformed},

		// Ack.
		{"ack no list", TypeAck, frame(TypeAck, uv(4)...), ErrMalformed},
		{"ack delay truncated", TypeAck, frame(TypeAck, 0x80), ErrMalformed},
		{"ack too many", TypeAck, frame(TypeAck, uv(0, MaxRanges+1)...), ErrTooLarge},
		{"ack overlapping", TypeAck, frame(TypeAck, uv(0, 2, 1, 5, 1, 4)...), ErrMalformed},

		// Empty bodies.
		{"choke with body", TypeChoke, frame(TypeChoke, 0), ErrMalformed},
		{"unchoke with body", TypeUnchoke, frame(TypeUnchoke, 1, 2), ErrMalformed},
		{"keepalive with body", TypeKeepalive, frame(TypeKeepalive, 0), ErrMalformed},
		{"unchoke as choke", TypeChoke, frame(TypeUnchoke), ErrType},

		// Pex.
		{"pex too many", TypePex, frame(TypePex, uv(MaxPexPeers+1)...), ErrTooLarge},
		{"pex bad family", TypePex, frame(TypePex, 1, 0, 5, 1, 2, 3, 4, 0, 80), ErrMalformed},
		{"pex family 0", TypePex, frame(TypePex, 1, 0, 0, 0, 80), ErrMalformed},
		{"pex short v6", TypePex, frame(TypePex, 1, 0, 6, 1, 2, 3, 4, 0, 80), ErrMalformed},
		{"pex no port", TypePex, frame(TypePex, 1, 0, 4, 1, 2, 3, 4, 0), ErrMalformed},
		{"pex trailing", TypePex, frame(TypePex, 1, 0, 4, 1, 2, 3, 4, 0, 80, 9), ErrMalformed},
		{"pex count past body", TypePex, frame(TypePex, 2, 0, 4, 1, 2, 3, 4, 0, 80), ErrMalformed},

		// Close.
		{"close empty", TypeClose, frame(TypeClose), ErrMalformed},
		{"close long", TypeClose, frame(TypeClose, 1, 2), ErrMalformed},

		// Signed.
		{"signed length too large", TypeSigned, frame(TypeSigned, cat(uv(1, 0), []byte{0}, uv(MaxChunkSize+1), sig)...), ErrTooLarge},
		{"signed length over u32", TypeSigned, frame(TypeSigned, cat(uv(1, 0), []byte{0}, uv(1<<32), sig)...), ErrMalformed},
		{"signed short signature", TypeSigned, frame(TypeSigned, cat(uv(1, 0), []byte{0}, uv(100), sig[:63])...), ErrMalformed},
		{"signed trailing", TypeSigned, frame(TypeSigned, cat(uv(1, 0), []byte{0}, uv(100), sig, []byte{0})...), ErrMalformed},

		// Proof.
		{"proof too many", TypeProof, frame(TypeProof, cat(uv(1), []byte{MaxUncles + 1}, bytes.Repeat(hash, MaxUncles+1))...), ErrTooLarge},
		{"proof missing hash", TypeProof, frame(TypeProof, cat(uv(1), []byte{2}, hash)...), ErrMalformed},
		{"proof extra bytes", TypeProof, frame(TypeProof, cat(uv(1), []byte{1}, hash, []byte{0})...), ErrMalformed},
		{"proof no count", TypeProof, frame(TypeProof, uv(1)...), ErrMalformed},

		// Handshake.
		{"handshake short", TypeHandshake, frame(TypeHandshake, make([]byte, 60)...), ErrMalformed},
		{"handshake trailing", TypeHandshake, frame(TypeHandshake, make([]byte, 68)...), ErrMalformed},
		{"handshake no upload", TypeHandshake, frame(TypeHandshake, make([]byte, 66)...), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMessage(tc.typ)
			n, err := m.Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%x) = %d, %v; want %v", tc.in, n, err, tc.want)
			}
			if n != 0 {
				t.Fatalf("Parse consumed %d bytes on error", n)
			}
			if !strings.HasPrefix(err.Error(), "wire: ") {
				t.Fatalf("error %q lacks context", err)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	var swarm [32]byte
	for i := range swarm {
		swarm[i] = byte(i + 1)
	}
	tag := TagOf(swarm)
	if want := (Tag{1, 2, 3, 4, 5, 6, 7, 8}); tag != want {
		t.Fatalf("TagOf = %x, want %x", tag, want)
	}
	b := AppendHeader([]byte{0xaa}, tag)
	if len(b) != 1+HeaderLen || b[1] != Version {
		t.Fatalf("AppendHeader = %x", b)
	}
	got, n, err := ParseHeader(append(b[1:], 0xff))
	if err != nil || n != HeaderLen || got != tag {
		t.Fatalf("ParseHeader = %x, %d, %v", got, n, err)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short", b[1:HeaderLen], ErrShort},
		{"version 0", append([]byte{0}, tag[:]...), ErrVersion},
		{"version 2", append([]byte{2}, tag[:]...), ErrVersion},
	}
	for _, tc := range tests {
		if _, n, err := ParseHeader(tc.in); !errors.Is(err, tc.want) || n != 0 {
			t.Errorf("%s: ParseHeader = %d, %v; want %v", tc.name, n, err, tc.want)
		}
	}
}

func TestSkipUnknownFrames(t *testing.T) {
	tag := Tag{9, 8, 7, 6, 5, 4, 3, 2}
	have := &Have{Ranges: []Range{{Start: 1, End: 3}}}
	b := AppendHeader(nil, tag)
	b = append(b, frame(0x42, filled(200, 0)...)...) // a frame from a later version
	b = have.Append(b)
	b = append(b, frame(0xee)...)

	// The engine's loop: peek, parse what it knows, skip the rest.
	_, off, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	var types []Type
	var got Have
	for off < len(b) {
		typ, err := PeekType(b[off:])
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
		var n int
		if typ == TypeHave {
			n, err = got.Parse(b[off:])
		} else {
			n, err = SkipFrame(b[off:])
		}
		if err != nil {
			t.Fatalf("frame at %d: %v", off, err)
		}
		off += n
	}
	if want := []Type{0x42, TypeHave, 0xee}; !equalMsg(types, want) {
		t.Fatalf("types = %v, want %v", types, want)
	}
	if !equalMsg(&got, have) {
		t.Fatalf("have = %+v", got)
	}

	gotTag, msgs, err := ParseDatagram(b)
	if err != nil || gotTag != tag || len(msgs) != 3 {
		t.Fatalf("ParseDatagram = %x, %d msgs, %v", gotTag, len(msgs), err)
	}
	if u, ok := msgs[0].(*Unknown); !ok || u.Code != 0x42 || len(u.Body) != 200 {
		t.Fatalf("first frame = %+v", msgs[0])
	}
	if !bytes.Equal(AppendDatagram(nil, tag, msgs...), b) {
		t.Fatal("AppendDatagram does not reproduce the datagram")
	}
}

func TestSkipFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"type only", []byte{0x50}, ErrShort},
		{"body truncated", []byte{0x50, 5, 1, 2}, ErrShort},
		{"length not shortest", []byte{0x50, 0x80, 0x80, 0x00}, ErrMalformed},
	}
	for _, tc := range tests {
		if n, err := SkipFrame(tc.in); !errors.Is(err, tc.want) || n != 0 {
			t.Errorf("%s: SkipFrame = %d, %v; want %v", tc.name, n, err, tc.want)
		}
	}
	if _, err := PeekType(nil); !errors.Is(err, ErrShort) {
		t.Errorf("PeekType(nil) = %v", err)
	}
}

func TestParseDatagramErrors(t *testing.T) {
	tag := Tag{1}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"no frames", AppendHeader(nil, tag), ErrMalformed},
		{"bad version", append([]byte{7}, tag[:]...), ErrVersion},
		{"bad second frame", append((&Keepalive{}).Append(AppendHeader(nil, tag)), byte(TypeClose), 0), ErrMalformed},
		{"truncated frame", append(AppendHeader(nil, tag), byte(TypeData), 10, 1), ErrShort},
	}
	for _, tc := range tests {
		if _, _, err := ParseDatagram(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: ParseDatagram = %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestTypeString(t *testing.T) {
	tests := []struct {
		t    Type
		want string
	}{
		{TypeHandshake, "handshake"},
		{TypeRequestFragments, "request-fragments"},
		{TypeProof, "proof"},
		{0, "type(0x00)"},
		{TypeTree, "tree"},
		{TypeKeyframe, "keyframe"},
		{0x13, "type(0x13)"},
		{0xfe, "type(0xfe)"},
	}
	for _, tc := range tests {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("Type(%d).String() = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestBitfieldHas(t *testing.T) {
	m := Bitfield{Start: 100, Count: 11, Bits: []byte{0b1000_0001, 0b0010_0000}}
	want := map[uint64]bool{100: true, 107: true, 110: true}
	for c := uint64(95); c < 120; c++ {
		if got := m.Has(c); got != want[c] {
			t.Errorf("Has(%d) = %v, want %v", c, got, want[c])
		}
	}
}

func TestCheckRanges(t *testing.T) {
	tests := []struct {
		name string
		rs   []Range
		want error
	}{
		{"nil", nil, nil},
		{"adjacent", []Range{{0, 1}, {1, 2}}, nil},
		{"max", manyRanges(MaxRanges), nil},
		{"too many", manyRanges(MaxRanges + 1), ErrTooLarge},
		{"empty range", []Range{{3, 3}}, ErrMalformed},
		{"reversed", []Range{{4, 3}}, ErrMalformed},
		{"overlap", []Range{{0, 5}, {4, 6}}, ErrMalformed},
	}
	for _, tc := range tests {
		err := CheckRanges(tc.rs)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: CheckRanges = %v, want %v", tc.name, err, tc.want)
			continue
		}
		// CheckRanges and Parse must agree.
		var h Have
		_, perr := h.Parse((&Have{Ranges: tc.rs}).Append(nil))
		if (err == nil) != (perr == nil) {
			t.Errorf("%s: CheckRanges = %v but Parse = %v", tc.name, err, perr)
		}
	}
}

// TestDataFitsDatagram checks that a full fragment with the header leaves
// the transport its allowance, for field values an engine reaches in
// practice (below 2^42: 50 days of microseconds), and fits the datagram
// even with every field at its maximum.
func TestDataFitsDatagram(t *testing.T) {
	payload := make([]byte, FragmentSize)
	tests := []struct {
		name     string
		m        Data
		maxBytes int
	}{
		{"first packet", Data{Chunk: 0, Offset: 0, Total: 16384, PacketNum: 0, SendTimeUs: 0, Payload: payload}, MaxDatagramSize - TransportOverheadBytes},
		{"practical bound", Data{Chunk: 1<<42 - 1, Offset: MaxChunkSize - FragmentSize, Total: MaxChunkSize, PacketNum: 1<<42 - 1, SendTimeUs: 1<<42 - 1, Payload: payload}, MaxDatagramSize - TransportOverheadBytes},
		{"every field max", Data{Chunk: math.MaxUint64, Offset: MaxChunkSize - FragmentSize, Total: MaxChunkSize, PacketNum: math.MaxUint64, SendTimeUs: math.MaxUint64, Payload: payload}, MaxDatagramSize},
	}
	for _, tc := range tests {
		b := tc.m.Append(AppendHeader(nil, Tag{}))
		if len(b) != HeaderLen+tc.m.Len() {
			t.Fatalf("%s: encoded %d bytes, Len says %d", tc.name, len(b), HeaderLen+tc.m.Len())
		}
		if len(b) > tc.maxBytes {
			t.Errorf("%s: datagram is %d bytes, limit %d", tc.name, len(b), tc.maxBytes)
		}
	}
}

func TestUvarint(t *testing.T) {
	tests := []struct {
		in    []byte
		wantV uint64
		wantN int
	}{
		{nil, 0, 0},
		{[]byte{0}, 0, 1},
		{[]byte{0x7f}, 127, 1},
		{[]byte{0x80, 0x01}, 128, 2},
		{[]byte{0x80}, 0, 0},
		{[]byte{0x80, 0x00}, 0, -1},
		{[]byte{0xff, 0x80, 0x00}, 0, -1},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, math.MaxUint64, 10},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, -1},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, -1},
	}
	for _, tc := range tests {
		v, n := uvarint(tc.in)
		if v != tc.wantV || n != tc.wantN {
			t.Errorf("uvarint(%x) = %d, %d; want %d, %d", tc.in, v, n, tc.wantV, tc.wantN)
		}
	}
	for _, x := range []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		if got, want := uvarintLen(x), len(uv(x)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", x, got, want)
		}
	}
	for _, x := range []int64{0, -1, 1, -64, 64, math.MinInt64, math.MaxInt64} {
		r := reader{b: zigzagBytes(x)}
		if got := r.varint(); got != x || r.bad || len(r.b) != 0 || varintLen(x) != len(zigzagBytes(x)) {
			t.Errorf("varint round trip of %d = %d", x, got)
		}
	}
}

func zigzagBytes(x int64) []byte {
	return uv(zigzag(x))
}
