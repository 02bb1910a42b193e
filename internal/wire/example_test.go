package wire_test

import (
	"fmt"

	"github.com/shoalstream/shoal/internal/wire"
)

// The datagram shown byte by byte in docs/PROTOCOL.md.
func ExampleAppendDatagram() {
	tag := wire.Tag{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	b := wire.AppendDatagram(nil, tag,
		&wire.Ack{DelayUs: -300, Ranges: []wire.Range{{Start: 1000, End: 1003}}},
		&wire.Data{Chunk: 42, Offset: 1120, Total: 16384, PacketNum: 1003, SendTimeUs: 5_000_000, Payload: []byte("hello")},
	)
	fmt.Printf("% x\n", b)
	// Output:
	// 01 01 23 45 67 89 ab cd ef 08 06 d7 04 01 e8 07 03 07 11 2a e0 08 80 80 01 eb 07 c0 96 b1 02 68 65 6c 6c 6f
}

// The receive loop of an engine: one reused struct per frame type, unknown
// frames skipped.
func ExamplePeekType() {
	b := wire.AppendDatagram(nil, wire.Tag{}, &wire.Have{Ranges: []wire.Range{{Start: 7, End: 9}}}, &wire.Unknown{Code: 0x60, Body: []byte{1, 2}}, &wire.Close{Reason: wire.CloseTooMany})
	var have wire.Have
	var cl wire.Close
	_, off, err := wire.ParseHeader(b)
	for err == nil && off < len(b) {
		var t wire.Type
		var n int
		t, err = wire.PeekType(b[off:])
		switch t {
		case wire.TypeHave:
			n, err = have.Parse(b[off:])
			fmt.Println("have", have.Ranges)
		case wire.TypeClose:
			n, err = cl.Parse(b[off:])
			fmt.Println("close", cl.Reason)
		default:
			n, err = wire.SkipFrame(b[off:])
			fmt.Println("skipped", t)
		}
		off += n
	}
	fmt.Println(err)
	// Output:
	// have [{7 9}]
	// skipped type(0x60)
	// close 2
	// <nil>
}
