package origin

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MPEG-TS packet layout (ISO/IEC 13818-1), parsed by hand: the chunker looks at
// each packet of outside bytes once, in place, and must keep the raw packets it
// parsed, which a stream demuxer does not give back.

// PacketSize is the size of one MPEG-TS packet in bytes.
const PacketSize = 188

const (
	syncByte = 0x47
	patPID   = 0x0000

	// PIDs 0x10 to 0x1f carry DVB service information (NIT, SDT, EIT, TDT).
	firstSIPID = 0x0010
	lastSIPID  = 0x001f

	tableIDPAT = 0x00
	tableIDPMT = 0x02

	// maxSectionBytes bounds a PAT or PMT section: section_length is at most
	// 1021 for both, plus the 3 header bytes.
	maxSectionBytes = 1024
)

// Stream types of video elementary streams the chunker can find keyframes in.
const (
	streamTypeH264 = 0x1b
	streamTypeHEVC = 0x24
)

// VideoCodec names the codec of the video elementary stream the chunker follows.
type VideoCodec uint8

const (
	CodecUnknown VideoCodec = iota
	CodecH264
	CodecHEVC
)

func (c VideoCodec) String() string {
	switch c {
	case CodecH264:
		return "h264"
	case CodecHEVC:
		return "hevc"
	default:
		return "unknown"
	}
}

// Errors for PSI sections that cannot be used; they are counted, not returned
// to the writer of the stream.
var (
	errSectionCRC    = errors.New("section CRC mismatch")
	errSectionShort  = errors.New("section truncated")
	errSectionSyntax = errors.New("section syntax")
)

// tsPacket is a view of one 188-byte packet's header fields.
type tsPacket struct {
	pid     uint16
	pusi    bool // payload_unit_start_indicator
	rai     bool // random_access_indicator in the adaptation field
	cc      uint8
	payload []byte // nil when the packet carries none or its header is inconsistent
}

// parsePacket reads the header of p, which must be PacketSize bytes starting
// with the sync byte. A packet with the transport_error_indicator or an
// impossible adaptation field length yields no payload.
func parsePacket(p []byte) tsPacket {
	h := tsPacket{
		pid:  pidOfPacket(p),
		pusi: p[1]&0x40 != 0,
		cc:   p[3] & 0x0f,
	}
	if p[1]&0x80 != 0 { // transport_error_indicator
		return h
	}
	afc := p[3] >> 4 & 0x3
	off := 4
	if afc&0x2 != 0 {
		afLen := int(p[4])
		if afLen > 0 {
			h.rai = p[5]&0x40 != 0
		}
		off = 5 + afLen
		if afc&0x1 != 0 && off > PacketSize {
			return h
		}
	}
	if afc&0x1 != 0 && off < PacketSize {
		h.payload = p[off:PacketSize]
	}
	return h
}

func pidOfPacket(p []byte) uint16 { return uint16(p[1]&0x1f)<<8 | uint16(p[2]) }

// setCC rewrites the continuity counter of packet p.
func setCC(p []byte, cc uint8) { p[3] = p[3]&0xf0 | cc&0x0f }

// sectionAssembler gathers one PSI section of a PID from its packets and keeps
// the raw packets that carried it.
type sectionAssembler struct {
	buf     []byte
	packets []byte // the carrying packets, concatenated
	active  bool
}

// push feeds one packet of the PID. When it completes a section, it returns
// the section and the concatenated packets that carried it; both stay valid
// until the next call.
func (a *sectionAssembler) push(p []byte, h tsPacket) (section, packets []byte, done bool) {
	pl := h.payload
	if len(pl) == 0 {
		return nil, nil, false
	}
	if h.pusi {
		ptr := int(pl[0])
		if 1+ptr >= len(pl) {
			a.reset()
			return nil, nil, false
		}
		// Bytes before the pointer finish a section that started earlier; the
		// chunker only needs whole sections that start in their own packet.
		a.reset()
		a.active = true
		a.buf = append(a.buf, pl[1+ptr:]...)
	} else {
		if !a.active {
			return nil, nil, false
		}
		a.buf = append(a.buf, pl...)
	}
	a.packets = append(a.packets, p...)
	if len(a.buf) < 3 {
		return nil, nil, false
	}
	if a.buf[0] == 0xff { // stuffing: no section follows the pointer
		a.reset()
		return nil, nil, false
	}
	total := 3 + int(binary.BigEndian.Uint16(a.buf[1:3])&0x0fff)
	if total > maxSectionBytes {
		a.reset()
		return nil, nil, false
	}
	if len(a.buf) < total {
		return nil, nil, false
	}
	a.active = false
	return a.buf[:total], a.packets, true
}

func (a *sectionAssembler) reset() {
	a.buf = a.buf[:0]
	a.packets = a.packets[:0]
	a.active = false
}

// psiHeader checks the long-form section header shared by PAT and PMT and
// returns the section's body between the header and the CRC.
func psiHeader(s []byte, tableID byte) (body []byte, err error) {
	if len(s) < 12 { // 8 header bytes + CRC
		return nil, errSectionShort
	}
	if s[0] != tableID {
		return nil, fmt.Errorf("%w: table_id 0x%02x, want 0x%02x", errSectionSyntax, s[0], tableID)
	}
	if s[1]&0x80 == 0 {
		return nil, fmt.Errorf("%w: section_syntax_indicator unset", errSectionSyntax)
	}
	if crc32MPEG(s) != 0 {
		return nil, errSectionCRC
	}
	if s[5]&0x01 == 0 { // current_next_indicator: table not yet applicable
		return nil, fmt.Errorf("%w: next table, not current", errSectionSyntax)
	}
	return s[8 : len(s)-4], nil
}

// parsePAT returns the PMT PID of the first program in a PAT section.
func parsePAT(s []byte) (pmtPID uint16, err error) {
	body, err := psiHeader(s, tableIDPAT)
	if err != nil {
		return 0, err
	}
	for ; len(body) >= 4; body = body[4:] {
		program := binary.BigEndian.Uint16(body[0:2])
		pid := binary.BigEndian.Uint16(body[2:4]) & 0x1fff
		if program != 0 { // program 0 points at the NIT
			return pid, nil
		}
	}
	return 0, fmt.Errorf("%w: PAT lists no program", errSectionSyntax)
}

// parsePMT returns the PID and codec of the first H.264 or HEVC stream of a PMT
// section; ok is false when the program has no such stream.
func parsePMT(s []byte) (videoPID uint16, codec VideoCodec, ok bool, err error) {
	body, err := psiHeader(s, tableIDPMT)
	if err != nil {
		return 0, CodecUnknown, false, err
	}
	if len(body) < 4 {
		return 0, CodecUnknown, false, errSectionShort
	}
	infoLen := int(binary.BigEndian.Uint16(body[2:4]) & 0x0fff)
	if 4+infoLen > len(body) {
		return 0, CodecUnknown, false, errSectionShort
	}
	for es := body[4+infoLen:]; len(es) >= 5; {
		streamType := es[0]
		pid := binary.BigEndian.Uint16(es[1:3]) & 0x1fff
		esInfoLen := int(binary.BigEndian.Uint16(es[3:5]) & 0x0fff)
		if 5+esInfoLen > len(es) {
			return 0, CodecUnknown, false, errSectionShort
		}
		switch streamType {
		case streamTypeH264:
			return pid, CodecH264, true, nil
		case streamTypeHEVC:
			return pid, CodecHEVC, true, nil
		}
		es = es[5+esInfoLen:]
	}
	return 0, CodecUnknown, false, nil
}

// pesStartsKeyframe reports whether the first packet's payload of a video PES
// shows a random-access point: an H.264 IDR slice or SPS, or an HEVC IRAP
// slice (NAL types 16–23) or VPS/SPS. Parameter sets count because encoders
// put them directly before keyframes and, with a long SEI in between, the
// keyframe's own slice may only start in a later packet.
func pesStartsKeyframe(pl []byte, codec VideoCodec) bool {
	// PES header: start code prefix, stream_id, length, two flag bytes,
	// PES_header_data_length.
	if len(pl) < 9 || pl[0] != 0 || pl[1] != 0 || pl[2] != 1 {
		return false
	}
	es := 9 + int(pl[8])
	if es >= len(pl) {
		return false
	}
	b := pl[es:]
	for i := 0; i+3 < len(b); i++ {
		if b[i+2] > 1 { // fast skip: a start code needs 00 00 01
			i += 2
			continue
		}
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			continue
		}
		nal := b[i+3]
		switch codec {
		case CodecH264:
			switch nal & 0x1f {
			case 5, 7: // IDR slice, SPS
				return true
			}
		case CodecHEVC:
			t := nal >> 1 & 0x3f
			if t >= 16 && t <= 23 || t == 32 || t == 33 { // IRAP, VPS, SPS
				return true
			}
		}
		i += 2
	}
	return false
}

// crc32MPEG computes the CRC-32/MPEG-2 of b (polynomial 0x04c11db7, not
// reflected, initial value all ones, no final XOR). Over a whole PSI section,
// CRC field included, it is zero.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, v := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^v]
	}
	return crc
}

var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// sniffTS checks that head, the first bytes of a stream or segment, is
// MPEG-TS: a run of sync bytes 188 apart starting within the first packet.
// It names fragmented MP4, which HLS also carries, as unsupported.
func sniffTS(head []byte) error {
	for k := 0; k < PacketSize && k+PacketSize <= len(head); k++ {
		if head[k] != syncByte {
			continue
		}
		if ok, _ := syncRun(head[k:], true); ok {
			return nil
		}
	}
	if len(head) >= 8 {
		switch string(head[4:8]) {
		case "ftyp", "styp", "moof", "moov", "sidx", "emsg", "prft":
			return fmt.Errorf("%w: fragmented MP4 (fMP4/CMAF) is not supported yet, only MPEG-TS", ErrUnsupported)
		}
	}
	if len(head) >= 3 && string(head[:3]) == "ID3" {
		return fmt.Errorf("%w: packed audio (ID3 + elementary stream) is not supported, only MPEG-TS", ErrUnsupported)
	}
	show := head[:min(len(head), 16)]
	return fmt.Errorf("%w: no 188-byte packet sync in the first %d bytes (starts % x)", ErrNotTS, len(head), show)
}
