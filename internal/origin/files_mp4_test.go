package origin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
)

// mp4Box returns an MP4 box with a 32-bit size.
func mp4Box(typ string, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append(binary.BigEndian.AppendUint32(nil, uint32(8+len(b))), append([]byte(typ), b...)...)
}

// mp4LargeBox returns an MP4 box with a 64-bit size.
func mp4LargeBox(typ string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1)
	b = append(b, typ...)
	b = binary.BigEndian.AppendUint64(b, uint64(16+len(body)))
	return append(b, body...)
}

func mvhd0(timescale, units uint32) []byte {
	b := make([]byte, 100)
	binary.BigEndian.PutUint32(b[12:], timescale)
	binary.BigEndian.PutUint32(b[16:], units)
	return mp4Box("mvhd", b)
}

func mvhd1(timescale uint32, units uint64) []byte {
	b := make([]byte, 112)
	b[0] = 1
	binary.BigEndian.PutUint32(b[20:], timescale)
	binary.BigEndian.PutUint64(b[24:], units)
	return mp4Box("mvhd", b)
}

var mp4Ftyp = mp4Box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2avc1mp41"))

// probeDuration feeds b to an mp4Probe in pieces of step bytes.
func probeDuration(b []byte, step int) time.Duration {
	var p mp4Probe
	for len(b) > 0 {
		k := min(step, len(b))
		p.Write(b[:k])
		b = b[k:]
	}
	return p.duration
}

func TestMP4Probe(t *testing.T) {
	mdat := mp4Box("mdat", make([]byte, 5000))
	trak := mp4Box("trak", mp4Box("tkhd", make([]byte, 84)))
	for _, tc := range []struct {
		name string
		file []byte
		want time.Duration
	}{
		{"faststart", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", mvhd0(1000, 5000), trak), mdat}, nil), 5 * time.Second},
		{"moov at the end", bytes.Join([][]byte{mp4Ftyp, mp4Box("free"), mdat, mp4Box("moov", trak, mvhd0(90000, 135000))}, nil), 1500 * time.Millisecond},
		{"version 1", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", mvhd1(48000, 48000*3600*3)), mdat}, nil), 3 * time.Hour},
		{"64-bit sizes", bytes.Join([][]byte{mp4Ftyp, mp4LargeBox("mdat", make([]byte, 3000)), mp4LargeBox("moov", mvhd0(600, 1))}, nil), time.Second / 600},
		{"quicktime", bytes.Join([][]byte{mp4Box("wide"), mdat, mp4Box("moov", mvhd0(600, 600*7))}, nil), 7 * time.Second},
		{"unknown duration", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", mvhd0(1000, 0xffffffff))}, nil), 0},
		{"zero timescale", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", mvhd0(0, 5000))}, nil), 0},
		{"absurd duration", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", mvhd1(1, 1<<62))}, nil), 0},
		{"no mvhd", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", trak)}, nil), 0},
		{"no moov", bytes.Join([][]byte{mp4Ftyp, mdat}, nil), 0},
		{"moov after a box to the end", append(append(mp4Ftyp, 0, 0, 0, 0, 'm', 'd', 'a', 't'), mp4Box("moov", mvhd0(1, 1))...), 0},
		{"truncated moov", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", mvhd0(1000, 5000))}, nil)[:len(mp4Ftyp)+50], 0},
		{"MPEG-TS", bytes.Repeat(append([]byte{0x47}, make([]byte, 187)...), 20), 0},
		{"text", []byte("ftypmoov and so on, but not a box at all"), 0},
		{"bad child size", bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", []byte{0, 0, 0, 99, 'm', 'v', 'h', 'd'})}, nil), 0},
		{"empty", nil, 0},
	} {
		for _, step := range []int{1, 3, 7, 4096, 1 << 20} {
			if got := probeDuration(tc.file, step); got != tc.want {
				t.Errorf("%s, writes of %d bytes: duration %v, want %v", tc.name, step, got, tc.want)
			}
		}
	}
}

func TestMP4ProbeRate(t *testing.T) {
	p := mp4Probe{duration: 4 * time.Second}
	if got := p.rateBps(1_000_000); got != 2_000_000 {
		t.Errorf("1 MB over 4 s: %d bit/s, want 2000000", got)
	}
	for _, d := range []time.Duration{0, time.Millisecond} {
		p := mp4Probe{duration: d}
		if got := p.rateBps(1_000_000); got != 0 {
			t.Errorf("duration %v: %d bit/s, want 0 (unknown)", d, got)
		}
	}
}

func FuzzMP4Probe(f *testing.F) {
	f.Add(bytes.Join([][]byte{mp4Ftyp, mp4Box("moov", mvhd0(1000, 5000)), mp4Box("mdat", make([]byte, 100))}, nil), uint16(5))
	f.Add(bytes.Join([][]byte{mp4Ftyp, mp4LargeBox("mdat", make([]byte, 30)), mp4LargeBox("moov", mvhd1(600, 1200))}, nil), uint16(1))
	f.Add([]byte{0, 0, 0, 1, 'm', 'o', 'o', 'v', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, step uint16) {
		whole := probeDuration(b, len(b)+1)
		if got := probeDuration(b, int(step)%64+1); got != whole {
			t.Fatalf("split writes give %v, one write %v", got, whole)
		}
		if whole < 0 {
			t.Fatalf("negative duration %v", whole)
		}
	})
}

func TestTreeCacheCodec(t *testing.T) {
	data := testBytes(5, 3*integrity.LeafSize+1)
	tr := buildTestTree(t, data)
	m := treeCacheMeta{Key: localCacheKey("/x/film.mp4", fileStamp{size: int64(len(data)), modTime: time.Unix(1, 2)}), Root: tr.Root(), Size: tr.Size(), RateBps: 12345}
	b, err := encodeTreeCache(m, tr)
	if err != nil {
		t.Fatal(err)
	}
	got, gotTree, err := decodeTreeCache(b)
	if err != nil || got != m || gotTree.Root() != tr.Root() {
		t.Fatalf("decode(encode) = %+v, %v; want %+v", got, err, m)
	}
	other := buildTestTree(t, data[1:])
	bad := func(mod func(*treeCacheMeta)) []byte {
		mm := m
		mod(&mm)
		b, err := encodeTreeCache(mm, tr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	otherTree, err := encodeTreeCache(m, other)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"no header":      b[1:],
		"no meta line":   []byte(treeCacheMagic + `{"key":"k"}`),
		"bad meta":       append([]byte(treeCacheMagic+"{\n"), b[len(b)-10:]...),
		"truncated tree": b[:len(b)-1],
		"other root":     bad(func(m *treeCacheMeta) { m.Root[0] ^= 1 }),
		"other size":     bad(func(m *treeCacheMeta) { m.Size++ }),
		"negative rate":  bad(func(m *treeCacheMeta) { m.RateBps = -1 }),
		"other tree":     otherTree,
	} {
		if _, _, err := decodeTreeCache(in); !errors.Is(err, errTreeCache) {
			t.Errorf("%s: decode error %v, want errTreeCache", name, err)
		}
	}
}

func buildTestTree(t testing.TB, b []byte) *integrity.Tree {
	t.Helper()
	tr, err := integrity.BuildTree(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func FuzzTreeCache(f *testing.F) {
	data := testBytes(6, 2*integrity.LeafSize+9)
	tr := buildTestTree(f, data)
	b, err := encodeTreeCache(treeCacheMeta{Key: "k", Root: tr.Root(), Size: tr.Size(), RateBps: 1}, tr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(treeCacheMagic + "{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, tr, err := decodeTreeCache(b)
		if err != nil {
			return
		}
		// What decodes is consistent, and encodes back to what decodes the same.
		if tr.Size() != m.Size || tr.Root() != m.Root {
			t.Fatalf("decoded tree of %d bytes, root %v under meta %+v", tr.Size(), tr.Root(), m)
		}
		if err := integrity.VerifyLeaves(m.Root, m.Size, tr.Leaves()); err != nil {
			t.Fatal(err)
		}
		again, err := encodeTreeCache(m, tr)
		if err != nil {
			t.Fatal(err)
		}
		m2, tr2, err := decodeTreeCache(again)
		if err != nil || m2 != m || tr2.Root() != tr.Root() {
			t.Fatalf("re-encoded cache decodes to %+v, %v", m2, err)
		}
	})
}
