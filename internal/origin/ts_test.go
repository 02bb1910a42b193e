package origin

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestCRC32MPEG(t *testing.T) {
	// The check value of CRC-32/MPEG-2.
	if got := crc32MPEG([]byte("123456789")); got != 0x0376e6e7 {
		t.Fatalf("crc32MPEG(123456789) = %#x, want 0x0376e6e7", got)
	}
	if got := crc32MPEG(withCRC(patSection(0x42))); got != 0 {
		t.Fatalf("CRC over a section with its CRC = %#x, want 0", got)
	}
}

func TestParsePAT(t *testing.T) {
	good := withCRC(patSection(0x1234))
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 1
	nitOnly := []byte{tableIDPAT, 0xb0, 0, 0, 1, 0xc1, 0, 0, 0, 0, 0xe0, 0x10}
	binary.BigEndian.PutUint16(nitOnly[1:3], 0xb000|uint16(len(nitOnly)+1))
	next := patSection(0x100)
	next[5] &^= 1 // current_next_indicator = 0
	tests := []struct {
		name    string
		sec     []byte
		wantPID uint16
		wantErr error
	}{
		{"good", good, 0x1234, nil},
		{"bad CRC", badCRC, 0, errSectionCRC},
		{"short", good[:8], 0, errSectionShort},
		{"PMT table id", withCRC(pmtSection(streamTypeH264, 1, 2)), 0, errSectionSyntax},
		{"NIT only", withCRC(nitOnly), 0, errSectionSyntax},
		{"next, not current", withCRC(next), 0, errSectionSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, err := parsePAT(tt.sec)
			if !errors.Is(err, tt.wantErr) || pid != tt.wantPID {
				t.Fatalf("parsePAT = %#x, %v; want %#x, %v", pid, err, tt.wantPID, tt.wantErr)
			}
		})
	}
}

func TestParsePMT(t *testing.T) {
	audioOnly := pmtSection(0x0f, 0x100, 0x101) // first stream AAC too
	truncated := pmtSection(streamTypeH264, 0x100, 0x101)
	binary.BigEndian.PutUint16(truncated[10:12], 0xf000|200) // program_info_length past the end
	tests := []struct {
		name      string
		sec       []byte
		wantPID   uint16
		wantCodec VideoCodec
		wantOK    bool
		wantErr   error
	}{
		{"h264", withCRC(pmtSection(streamTypeH264, 0x100, 0x101)), 0x100, CodecH264, true, nil},
		{"hevc", withCRC(pmtSection(streamTypeHEVC, 0x1e1, 0x101)), 0x1e1, CodecHEVC, true, nil},
		{"no video", withCRC(audioOnly), 0, CodecUnknown, false, nil},
		{"program info past end", withCRC(truncated), 0, CodecUnknown, false, errSectionShort},
		{"PAT table id", withCRC(patSection(1)), 0, CodecUnknown, false, errSectionSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, codec, ok, err := parsePMT(tt.sec)
			if !errors.Is(err, tt.wantErr) || pid != tt.wantPID || codec != tt.wantCodec || ok != tt.wantOK {
				t.Fatalf("parsePMT = %#x %v %v %v; want %#x %v %v %v",
					pid, codec, ok, err, tt.wantPID, tt.wantCodec, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestPESStartsKeyframe(t *testing.T) {
	sei := h264NAL(6, 30)
	tests := []struct {
		name  string
		pl    []byte
		codec VideoCodec
		want  bool
	}{
		{"h264 IDR", pesPayload(h264NAL(5, 20)), CodecH264, true},
		{"h264 SPS", pesPayload(h264NAL(7, 20)), CodecH264, true},
		{"h264 AUD SEI IDR", pesPayload(append(append(h264NAL(9, 6), sei...), h264NAL(5, 20)...)), CodecH264, true},
		{"h264 non-IDR", pesPayload(h264NAL(1, 20)), CodecH264, false},
		{"h264 PPS only", pesPayload(h264NAL(8, 20)), CodecH264, false},
		{"hevc IDR_W_RADL", pesPayload(hevcNAL(19, 20)), CodecHEVC, true},
		{"hevc CRA", pesPayload(hevcNAL(21, 20)), CodecHEVC, true},
		{"hevc VPS", pesPayload(hevcNAL(32, 20)), CodecHEVC, true},
		{"hevc TRAIL_R", pesPayload(hevcNAL(1, 20)), CodecHEVC, false},
		{"hevc PPS", pesPayload(hevcNAL(34, 20)), CodecHEVC, false},
		{"h264 IDR read as hevc", pesPayload([]byte{0, 0, 1, 0x65, 0x88}), CodecHEVC, false},
		{"unknown codec", pesPayload(h264NAL(5, 20)), CodecUnknown, false},
		{"no PES start code", h264NAL(5, 40), CodecH264, false},
		{"header length past end", []byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 200, 0, 0, 1, 0x65}, CodecH264, false},
		{"empty", nil, CodecH264, false},
		{"start code at the very end", pesPayload([]byte{0xaa, 0, 0, 1}), CodecH264, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pesStartsKeyframe(tt.pl, tt.codec); got != tt.want {
				t.Fatalf("pesStartsKeyframe = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParsePacket(t *testing.T) {
	full := tsPkt(0x1ff, false, 7, false, fill(1, 184))
	tei := append([]byte(nil), full...)
	tei[1] |= 0x80
	badAF := append([]byte(nil), full...)
	badAF[3] = 0x30 // adaptation field and payload
	badAF[4] = 184  // past the end of the packet
	afOnly := tsPkt(0x1ff, false, 0, true, nil)
	afOnly[3] = 0x20
	tests := []struct {
		name     string
		p        []byte
		wantPL   int
		wantRAI  bool
		wantPUSI bool
		wantPID  uint16
	}{
		{"payload only", full, 184, false, false, 0x1ff},
		{"transport error", tei, 0, false, false, 0x1ff},
		{"adaptation length too long", badAF, 0, false, false, 0x1ff},
		{"adaptation only", afOnly, 0, true, false, 0x1ff},
		{"rai with payload", tsPkt(0x20, true, 0, true, fill(2, 50)), 50, true, true, 0x20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := parsePacket(tt.p)
			if len(h.payload) != tt.wantPL || h.rai != tt.wantRAI || h.pusi != tt.wantPUSI || h.pid != tt.wantPID {
				t.Fatalf("parsePacket = pid %#x pusi %v rai %v payload %d", h.pid, h.pusi, h.rai, len(h.payload))
			}
		})
	}
}

func TestSniffTS(t *testing.T) {
	ts := synthStream{gops: 1, framesPerGOP: 2, framePackets: 2, tablesEvery: 1, idr: true}.build(t)
	tests := []struct {
		name string
		head []byte
		want error
	}{
		{"ts", ts[:sniffBytes], nil},
		{"ts after junk", append([]byte("junk"), ts[:sniffBytes]...), nil},
		{"one packet", ts[:PacketSize], nil},
		{"fmp4", append([]byte{0, 0, 0, 0x18}, "ftypiso6"...), ErrUnsupported},
		{"cmaf fragment", append([]byte{0, 0, 0, 0x18}, "moof"...), ErrUnsupported},
		{"packed audio", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), ErrUnsupported},
		{"html", []byte("<html><body>not found</body></html>"), ErrNotTS},
		{"short", ts[:100], ErrNotTS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := sniffTS(tt.head); !errors.Is(err, tt.want) {
				t.Fatalf("sniffTS = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzPSI feeds arbitrary sections, with a correct CRC appended so that the
// parsers get past the checksum, and arbitrary PES payloads.
func FuzzPSI(f *testing.F) {
	f.Add(patSection(0x1000))
	f.Add(pmtSection(streamTypeH264, 0x100, 0x101))
	f.Add(pmtSection(streamTypeHEVC, 0x100, 0x101))
	f.Add(pesPayload(h264NAL(5, 30)))
	f.Fuzz(func(t *testing.T, b []byte) {
		sec := withCRC(b)
		parsePAT(sec)
		parsePMT(sec)
		if _, err := parsePAT(b); err == nil && len(b) < 12 {
			t.Fatalf("parsePAT accepted %d bytes", len(b))
		}
		pesStartsKeyframe(b, CodecH264)
		pesStartsKeyframe(b, CodecHEVC)
		sniffTS(b)
		if len(b) >= PacketSize {
			p := append([]byte(nil), b[:PacketSize]...)
			p[0] = syncByte
			h := parsePacket(p)
			if len(h.payload) > PacketSize-4 {
				t.Fatalf("payload of %d bytes", len(h.payload))
			}
			var a sectionAssembler
			a.push(p, h)
		}
	})
}
