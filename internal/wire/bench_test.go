package wire

import "testing"

func benchData() *Data {
	return &Data{Chunk: 1 << 30, Offset: 3 * FragmentSize, Total: 16384, PacketNum: 1 << 33, SendTimeUs: 1 << 40, Payload: filled(FragmentSize, 0)}
}

func benchParse(b *testing.B, m parser) {
	enc := m.Append(nil)
	reused := newMessage(m.Type())
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reused.Parse(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDataParse(b *testing.B) { benchParse(b, benchData()) }

func BenchmarkDataAppend(b *testing.B) {
	m := benchData()
	buf := make([]byte, 0, MaxDatagramSize)
	b.SetBytes(int64(m.Len()))
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(AppendHeader(buf[:0], Tag{}))
	}
}

// BenchmarkAckParse parses a typical Ack: a handful of ranges with gaps.
func BenchmarkAckParse(b *testing.B) {
	benchParse(b, &Ack{DelayUs: 25_000, Ranges: []Range{
		{1 << 33, 1<<33 + 40}, {1<<33 + 42, 1<<33 + 90}, {1<<33 + 91, 1<<33 + 130}, {1<<33 + 133, 1<<33 + 200},
	}})
}

func BenchmarkAckParseFull(b *testing.B) { benchParse(b, &Ack{Ranges: manyRanges(MaxRanges)}) }

func BenchmarkHaveParse(b *testing.B) {
	benchParse(b, &Have{Ranges: []Range{{1000, 1001}}})
}

func BenchmarkRequestParse(b *testing.B) {
	benchParse(b, &Request{DeadlineMs: 1500, Ranges: []Range{{1000, 1004}, {1010, 1012}}})
}

// BenchmarkDatagramWalk is the engine's receive loop over a datagram with
// an Ack piggybacked on a Data frame.
func BenchmarkDatagramWalk(b *testing.B) {
	dg := AppendDatagram(nil, Tag{1}, &Ack{DelayUs: 2000, Ranges: []Range{{500, 560}}}, benchData())
	var ack Ack
	var data Data
	b.SetBytes(int64(len(dg)))
	b.ReportAllocs()
	for b.Loop() {
		_, off, err := ParseHeader(dg)
		for err == nil && off < len(dg) {
			var t Type
			t, err = PeekType(dg[off:])
			var n int
			switch t {
			case TypeAck:
				n, err = ack.Parse(dg[off:])
			case TypeData:
				n, err = data.Parse(dg[off:])
			default:
				n, err = SkipFrame(dg[off:])
			}
			off += n
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
