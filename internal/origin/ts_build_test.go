package origin

import (
	"encoding/binary"
	"testing"
)

// Builders of synthetic MPEG-TS packets for tests.

const (
	testPMTPID   = 0x1000
	testVideoPID = 0x100
	testAudioPID = 0x101
)

// tsPkt builds one packet. With rai or a short payload it adds an adaptation
// field (stuffed to fill the packet); payload beyond 184 bytes is cut.
func tsPkt(pid uint16, pusi bool, cc uint8, rai bool, payload []byte) []byte {
	p := make([]byte, PacketSize)
	p[0] = syncByte
	p[1] = byte(pid>>8) & 0x1f
	if pusi {
		p[1] |= 0x40
	}
	p[2] = byte(pid)
	if len(payload) > PacketSize-4 {
		payload = payload[:PacketSize-4]
	}
	if !rai && len(payload) == PacketSize-4 {
		p[3] = 0x10 | cc&0x0f
		copy(p[4:], payload)
		return p
	}
	if rai && len(payload) > PacketSize-6 {
		payload = payload[:PacketSize-6]
	}
	p[3] = 0x30 | cc&0x0f
	afLen := PacketSize - 4 - 1 - len(payload)
	p[4] = byte(afLen)
	if afLen > 0 {
		p[5] = 0
		if rai {
			p[5] = 0x40
		}
		for i := 6; i < 5+afLen; i++ {
			p[i] = 0xff
		}
	}
	copy(p[5+afLen:], payload)
	return p
}

// psiPkt wraps a section (without CRC) into one packet with pointer field 0
// and a valid CRC.
func psiPkt(pid uint16, cc uint8, section []byte) []byte {
	sec := withCRC(section)
	pl := make([]byte, PacketSize-4)
	for i := range pl {
		pl[i] = 0xff
	}
	pl[0] = 0
	copy(pl[1:], sec)
	return tsPkt(pid, true, cc, false, pl)
}

func withCRC(section []byte) []byte {
	sec := append([]byte(nil), section...)
	return binary.BigEndian.AppendUint32(sec, crc32MPEG(sec))
}

// patSection lists one program with the given PMT PID.
func patSection(pmtPID uint16) []byte {
	s := []byte{tableIDPAT, 0xb0, 0, 0x00, 0x01, 0xc1, 0, 0,
		0x00, 0x01, 0xe0 | byte(pmtPID>>8), byte(pmtPID)}
	binary.BigEndian.PutUint16(s[1:3], 0xb000|uint16(len(s)-3+4))
	return s
}

// pmtSection lists a video stream of the given type and an AAC stream.
func pmtSection(videoType byte, videoPID, audioPID uint16) []byte {
	s := []byte{tableIDPMT, 0xb0, 0, 0x00, 0x01, 0xc1, 0, 0,
		0xe0 | byte(videoPID>>8), byte(videoPID), 0xf0, 0x00,
		videoType, 0xe0 | byte(videoPID>>8), byte(videoPID), 0xf0, 0x00,
		0x0f, 0xe0 | byte(audioPID>>8), byte(audioPID), 0xf0, 0x00}
	binary.BigEndian.PutUint16(s[1:3], 0xb000|uint16(len(s)-3+4))
	return s
}

// pesPayload is a PES header (video stream_id, no PTS) followed by es.
func pesPayload(es []byte) []byte {
	return append([]byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0x00, 0x00}, es...)
}

// h264NAL is an Annex B NAL unit of the given type padded with filler.
func h264NAL(typ byte, n int) []byte {
	b := []byte{0, 0, 0, 1, 0x60 | typ&0x1f}
	for len(b) < n {
		b = append(b, 0xaa)
	}
	return b
}

func hevcNAL(typ byte, n int) []byte {
	b := []byte{0, 0, 0, 1, typ << 1, 0x01}
	for len(b) < n {
		b = append(b, 0xaa)
	}
	return b
}

// synthStream builds a stream of gops groups of pictures. Every GOP starts
// with a keyframe; tablesEvery says before which GOPs PAT and PMT are sent
// (every k-th; 1 = all, as ffmpeg does); rai sets random_access_indicator on
// keyframes; idr puts an IDR NAL in them. Each frame spans framePackets
// packets; one audio packet follows each frame.
type synthStream struct {
	gops, framesPerGOP, framePackets int
	tablesEvery                      int
	rai, idr                         bool
	sdt                              bool // an SDT packet before each PAT, as ffmpeg sends at the start
	videoType                        byte
}

func (s synthStream) build(t testing.TB) []byte {
	t.Helper()
	vt := s.videoType
	if vt == 0 {
		vt = streamTypeH264
	}
	var out []byte
	var ccV, ccA, ccPAT, ccPMT, ccSDT uint8
	next := func(cc *uint8) uint8 { v := *cc; *cc = (*cc + 1) & 0x0f; return v }
	for g := 0; g < s.gops; g++ {
		if s.tablesEvery > 0 && g%s.tablesEvery == 0 {
			if s.sdt {
				out = append(out, psiPkt(0x11, next(&ccSDT), []byte{0x42, 0xf0, 0x05, 0, 1, 0xc1, 0, 0})...)
			}
			out = append(out, psiPkt(patPID, next(&ccPAT), patSection(testPMTPID))...)
			out = append(out, psiPkt(testPMTPID, next(&ccPMT), pmtSection(vt, testVideoPID, testAudioPID))...)
		}
		for f := 0; f < s.framesPerGOP; f++ {
			key := f == 0
			var es []byte
			switch {
			case vt == streamTypeHEVC && key && s.idr:
				es = hevcNAL(19, 60) // IDR_W_RADL
			case vt == streamTypeHEVC:
				es = hevcNAL(1, 60) // TRAIL_R
			case key && s.idr:
				es = h264NAL(5, 60)
			default:
				es = h264NAL(1, 60)
			}
			out = append(out, tsPkt(testVideoPID, true, next(&ccV), key && s.rai, pesPayload(es))...)
			for k := 1; k < s.framePackets; k++ {
				out = append(out, tsPkt(testVideoPID, false, next(&ccV), false, fill(byte(g), PacketSize-4))...)
			}
			out = append(out, tsPkt(testAudioPID, true, next(&ccA), true, pesPayload(fill(0x55, 100)))...)
		}
	}
	return out
}

func fill(b byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = b
	}
	return p
}

// packets splits whole packets.
func packets(b []byte) [][]byte {
	var ps [][]byte
	for ; len(b) >= PacketSize; b = b[PacketSize:] {
		ps = append(ps, b[:PacketSize])
	}
	return ps
}

func TestTSBuilders(t *testing.T) {
	p := tsPkt(testVideoPID, true, 3, true, pesPayload(h264NAL(5, 40)))
	h := parsePacket(p)
	if h.pid != testVideoPID || !h.pusi || !h.rai || h.cc != 3 || len(h.payload) != 9+40 {
		t.Fatalf("parsePacket = %+v", h)
	}
	pmt, err := parsePAT(withCRC(patSection(testPMTPID)))
	if err != nil || pmt != testPMTPID {
		t.Fatalf("parsePAT = %#x, %v", pmt, err)
	}
	v, codec, ok, err := parsePMT(withCRC(pmtSection(streamTypeHEVC, testVideoPID, testAudioPID)))
	if err != nil || !ok || v != testVideoPID || codec != CodecHEVC {
		t.Fatalf("parsePMT = %#x %v %v %v", v, codec, ok, err)
	}
}
