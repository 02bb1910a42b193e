package udp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// TestPackRuns checks how a batch is cut into messages with send offload:
// one message per run of datagrams to one address, all of one size but
// the last, which may be shorter.
func TestPackRuns(t *testing.T) {
	x := netip.MustParseAddrPort("127.0.0.1:1000")
	y := netip.MustParseAddrPort("127.0.0.1:2000")
	pkt := func(to netip.AddrPort, n int) outPacket { return outPacket{b: make([]byte, n), addr: to} }
	pkts := []outPacket{
		pkt(x, 100), pkt(x, 100), pkt(x, 100), pkt(x, 40), // a run ended by a shorter one
		pkt(x, 100),              // alone: the next is longer
		pkt(x, 120), pkt(x, 120), // a run ended by another address
		pkt(y, 120), pkt(y, 120), // a run ended by a longer one
	}
	for range 70 {
		pkts = append(pkts, pkt(y, 500)) // more than a message takes
	}
	s := &udpSocket{}
	ws := &writeScratch{ms: make([]ipv4.Message, readBatchLen), oob: make([]byte, readBatchLen*gsoControlLen)}
	var got []string
	for rest := pkts; len(rest) > 0; {
		msgs, used := s.pack(ws, rest, true)
		for _, m := range ws.ms[:msgs] {
			got = append(got, fmt.Sprintf("%s×%d", m.Addr, len(m.Buffers)))
		}
		rest = rest[used:]
	}
	want := []string{"127.0.0.1:1000×4", "127.0.0.1:1000×1", "127.0.0.1:1000×2", "127.0.0.1:2000×2", "127.0.0.1:2000×64", "127.0.0.1:2000×6"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	msgs, used := s.pack(ws, pkts, false)
	if msgs != readBatchLen || used != readBatchLen {
		t.Fatalf("without offload: %d messages for %d packets", msgs, used)
	}
}

// TestLoopbackOffload sends runs of datagrams of many sizes to two peers in
// one batch, with offload on and off, and checks that each arrives whole.
func TestLoopbackOffload(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("noOffload=%v", off), func(t *testing.T) {
			opts := Options{noOffload: off}
			a := listen(t, "127.0.0.1:0", mustIdentity(t), opts)
			rx := []*Conn{listen(t, "127.0.0.1:0", mustIdentity(t), opts), listen(t, "127.0.0.1:0", mustIdentity(t), opts)}
			cols := []*collector{collect(rx[0]), collect(rx[1])}
			for i, r := range rx { // handshakes first
				if err := a.Send(r.LocalAddr(), []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
				cols[i].next(t, 1)
			}
			// per round and peer: a run of full ones, a short one, then
			// single ones of other sizes, as a relay sends chunks
			var msgs []Message
			var want [2][][]byte
			k := 0
			for round := range 30 {
				for i, r := range rx {
					sizes := []int{MaxPayload, MaxPayload, MaxPayload, 700, 1144, 1145, 1145, 24, 0, MaxPayload}
					if round%3 == 2 {
						sizes = sizes[:1+round%len(sizes)]
					}
					for _, n := range sizes {
						b := make([]byte, max(n, 4))
						binary.BigEndian.PutUint32(b, uint32(k))
						for j := 4; j < len(b); j++ {
							b[j] = byte(k + j)
						}
						b = b[:n]
						k++
						msgs = append(msgs, Message{Addr: r.LocalAddr(), Buf: b})
						want[i] = append(want[i], b)
					}
				}
				if len(msgs) > 200 || round == 29 {
					if n, err := a.SendBatch(msgs); n != len(msgs) || err != nil {
						t.Fatalf("SendBatch = %d, %v", n, err)
					}
					msgs = msgs[:0]
					time.Sleep(5 * time.Millisecond) // within the socket buffers
				}
			}
			for i := range rx {
				got := cols[i].next(t, len(want[i]))
				for j, m := range got {
					if !bytes.Equal(m.Buf, want[i][j]) {
						t.Fatalf("peer %d datagram %d: %d bytes, want %d (or reordered)", i, j, len(m.Buf), len(want[i][j]))
					}
				}
				cols[i].none(t)
			}
			if st := rx[0].Stats(); st.Drops.Malformed != 0 || st.Drops.Auth != 0 {
				t.Errorf("receiver dropped datagrams: %+v", st)
			}
		})
	}
}
