package wire

import (
	"testing"
)

// TestHotPathAllocs checks that the frames the engine handles per datagram
// parse into reused structs and append into a buffer with room without
// allocating.
func TestHotPathAllocs(t *testing.T) {
	hot := []parser{
		&Data{Chunk: 1 << 30, Offset: 2240, Total: 16384, PacketNum: 1 << 33, SendTimeUs: 1 << 40, Payload: filled(FragmentSize, 0)},
		&Ack{DelayUs: -3000, Ranges: manyRanges(40)},
		&Have{Ranges: manyRanges(MaxRanges)},
		&Request{DeadlineMs: 800, Ranges: manyRanges(20)},
	}
	for _, m := range hot {
		enc := m.Append(nil)
		reused := newMessage(m.Type())
		if _, err := reused.Parse(enc); err != nil { // sizes the reused slices
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(100, func() { _, _ = reused.Parse(enc) }); a != 0 {
			t.Errorf("%v: Parse allocates %v times", m.Type(), a)
		}
		buf := make([]byte, 0, 4096)
		if a := testing.AllocsPerRun(100, func() { buf = m.Append(buf[:0]) }); a != 0 {
			t.Errorf("%v: Append allocates %v times", m.Type(), a)
		}
		if a := testing.AllocsPerRun(100, func() { _ = m.Len() }); a != 0 {
			t.Errorf("%v: Len allocates %v times", m.Type(), a)
		}
	}
}

// TestAllParseAllocs extends the check to every frame type once the reused
// struct has seen the largest case, and to rejected input: a flood of
// garbage must not create garbage.
func TestAllParseAllocs(t *testing.T) {
	reused := map[Type]parser{}
	cases := validCases()
	for _, tc := range cases {
		if _, ok := tc.m.(*Unknown); ok {
			continue
		}
		m := reused[tc.m.Type()]
		if m == nil {
			m = newMessage(tc.m.Type())
			reused[tc.m.Type()] = m
		}
		if _, err := m.Parse(tc.m.Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		if _, ok := tc.m.(*Unknown); ok {
			continue
		}
		m := reused[tc.m.Type()]
		enc := tc.m.Append(nil)
		if a := testing.AllocsPerRun(20, func() { _, _ = m.Parse(enc) }); a != 0 {
			t.Errorf("%s: Parse allocates %v times", tc.name, a)
		}
		bad := enc[:len(enc)-1]
		if a := testing.AllocsPerRun(20, func() { _, _ = m.Parse(bad) }); a != 0 {
			t.Errorf("%s: rejecting a truncated frame allocates %v times", tc.name, a)
		}
	}
	garbage := []byte{byte(TypeData), 0x80, 0x00}
	var d Data
	if a := testing.AllocsPerRun(20, func() { _, _ = d.Parse(garbage) }); a != 0 {
		t.Errorf("rejecting a malformed frame allocates %v times", a)
	}
	hdr := []byte{9, 1, 2, 3, 4, 5, 6, 7, 8}
	if a := testing.AllocsPerRun(20, func() { _, _, _ = ParseHeader(hdr) }); a != 0 {
		t.Errorf("rejecting a header allocates %v times", a)
	}
}
