package origin

import (
	"encoding/binary"
	"time"
)

// mp4Probe estimates a file's media rate without ffprobe: it watches the
// file's bytes go by, once, while they are hashed, and reads the movie
// duration from the 'mvhd' box inside the top-level 'moov' box of an MP4 or
// QuickTime file, wherever that box lies. Anything else, or anything odd,
// leaves the duration unknown. It skips the bytes of every other box
// without looking at them, so it costs next to nothing beside hashing.
type mp4Probe struct {
	hdr      [16]byte
	hdrLen   int   // header bytes gathered
	skip     int64 // body bytes of the current box still to pass over
	moov     []byte
	moovLeft int64 // moov body bytes still to gather
	boxes    int
	done     bool
	duration time.Duration
}

const (
	mp4MaxMoovBytes = 64 << 20 // a larger 'moov' is not read
	mp4MaxTopBoxes  = 1 << 16  // a file of more top-level boxes is not MP4 as it is met in practice
	mp4MinDuration  = 100 * time.Millisecond
)

// mp4FirstBoxes are the top-level box types an MP4 or QuickTime file starts
// with.
var mp4FirstBoxes = map[string]bool{"ftyp": true, "moov": true, "mdat": true, "free": true,
	"skip": true, "wide": true, "pnot": true, "styp": true}

// Write takes the next bytes of the file; it never fails.
func (p *mp4Probe) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 && !p.done {
		switch {
		case p.skip > 0:
			k := int(min(p.skip, int64(len(b))))
			p.skip -= int64(k)
			b = b[k:]
		case p.moovLeft > 0:
			k := int(min(p.moovLeft, int64(len(b))))
			p.moov = append(p.moov, b[:k]...)
			p.moovLeft -= int64(k)
			b = b[k:]
			if p.moovLeft == 0 {
				p.duration = mvhdDuration(p.moov)
				p.moov = nil
				p.done = true
			}
		default:
			b = p.header(b)
		}
	}
	return n, nil
}

// header gathers a box header from b and returns what follows it.
func (p *mp4Probe) header(b []byte) []byte {
	want := 8
	if p.hdrLen >= 8 && binary.BigEndian.Uint32(p.hdr[:4]) == 1 {
		want = 16 // 64-bit size follows the type
	}
	k := copy(p.hdr[p.hdrLen:want], b)
	p.hdrLen += k
	b = b[k:]
	if p.hdrLen < want {
		return b
	}
	if want == 8 && binary.BigEndian.Uint32(p.hdr[:4]) == 1 {
		return b // now gather the 64-bit size
	}
	typ := string(p.hdr[4:8])
	size := int64(binary.BigEndian.Uint32(p.hdr[:4]))
	if want == 16 {
		size = int64(binary.BigEndian.Uint64(p.hdr[8:16])) // negative when absurd
	}
	p.hdrLen = 0
	p.boxes++
	switch {
	case p.boxes == 1 && !mp4FirstBoxes[typ], !mp4PrintableType(typ), p.boxes > mp4MaxTopBoxes:
		p.done = true // not MP4
	case size == 0 || size < int64(want):
		p.done = true // a box to the end of the file (no moov after it), or broken
	case typ == "moov":
		body := size - int64(want)
		if body > mp4MaxMoovBytes || body == 0 {
			p.done = true
			break
		}
		p.moov = make([]byte, 0, min(body, 1<<20))
		p.moovLeft = body
	default:
		p.skip = size - int64(want)
	}
	return b
}

func mp4PrintableType(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] < 0x20 || t[i] > 0x7e {
			return false
		}
	}
	return true
}

// mvhdDuration finds the 'mvhd' box among the children of a 'moov' body and
// returns the movie duration, 0 when unknown.
func mvhdDuration(moov []byte) time.Duration {
	for len(moov) >= 8 {
		size := int64(binary.BigEndian.Uint32(moov))
		hdr := int64(8)
		if size == 1 {
			if len(moov) < 16 {
				return 0
			}
			size, hdr = int64(binary.BigEndian.Uint64(moov[8:])), 16
		}
		if size == 0 {
			size = int64(len(moov))
		}
		if size < hdr || size > int64(len(moov)) {
			return 0
		}
		if string(moov[4:8]) == "mvhd" {
			return parseMvhd(moov[hdr:size])
		}
		moov = moov[size:]
	}
	return 0
}

// parseMvhd reads timescale and duration from an 'mvhd' body (ISO/IEC
// 14496-12 §8.2.2).
func parseMvhd(b []byte) time.Duration {
	var timescale, units uint64
	switch {
	case len(b) >= 20 && b[0] == 0:
		timescale = uint64(binary.BigEndian.Uint32(b[12:]))
		units = uint64(binary.BigEndian.Uint32(b[16:]))
		if units == 0xffffffff {
			return 0 // duration unknown
		}
	case len(b) >= 32 && b[0] == 1:
		timescale = uint64(binary.BigEndian.Uint32(b[20:]))
		units = binary.BigEndian.Uint64(b[24:])
	default:
		return 0
	}
	if timescale == 0 || units/timescale > 1<<32 { // past 136 years is a broken file
		return 0
	}
	return time.Duration(units/timescale)*time.Second + time.Duration(units%timescale*uint64(time.Second)/timescale)
}

// rateBps returns the mean media rate of a file of sizeBytes, or 0 when its
// duration is unknown or too short to mean anything.
func (p *mp4Probe) rateBps(sizeBytes int64) int64 {
	if p.duration < mp4MinDuration {
		return 0
	}
	return int64(float64(sizeBytes) * 8 / p.duration.Seconds())
}
