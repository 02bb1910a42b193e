package udp

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sessionPair returns the two ends of one session, completed in memory.
func sessionPair(b *testing.B) (*session, *session) {
	n := newMemNet(b)
	x := n.add(addrA, mustIdentity(b), Options{})
	y := n.add(addrB, mustIdentity(b), Options{})
	x.Send(ap(addrB), nil)
	n.pump(nil)
	return x.peers[ap(addrB)].cur, y.peers[ap(addrA)].cur
}

// BenchmarkSeal measures sealing one full datagram, the sender's crypto.
func BenchmarkSeal(b *testing.B) {
	s, _ := sessionPair(b)
	payload := make([]byte, MaxPayload)
	buf := make([]byte, 0, MaxPacketSize)
	b.SetBytes(MaxPayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.seal(buf[:0], payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures authenticating and decrypting one full datagram.
func BenchmarkOpen(b *testing.B) {
	s, r := sessionPair(b)
	pkt, _ := s.seal(nil, make([]byte, MaxPayload))
	var m dataMsg
	if _, err := m.Parse(pkt); err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, MaxPayload)
	b.SetBytes(MaxPayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.open(out[:0], pkt, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopback sends full datagrams from one Conn to another over
// 127.0.0.1, with at most loopbackWindow in flight so the kernel's socket
// buffer does not overflow. The figure counts payload bytes delivered;
// cpu-s/GiB is the CPU time of both ends together per GiB of payload.
func BenchmarkLoopback(b *testing.B) {
	b.Run("batch", func(b *testing.B) { benchLoopback(b, false) })
	b.Run("single", func(b *testing.B) { benchLoopback(b, true) })
}

const loopbackWindow = 512

func benchLoopback(b *testing.B, single bool) {
	opts := Options{noBatch: single}
	tx := listen(b, "127.0.0.1:0", mustIdentity(b), opts)
	rx := listen(b, "127.0.0.1:0", mustIdentity(b), opts)
	var received atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		msgs := make([]Message, 64)
		for i := range msgs {
			msgs[i].Buf = make([]byte, MaxPayload)
		}
		buf := make([]byte, MaxPayload)
		for {
			if single {
				if _, _, _, err := rx.Recv(buf); err != nil {
					return
				}
				received.Add(1)
				continue
			}
			n, err := rx.RecvBatch(msgs)
			if err != nil {
				return
			}
			received.Add(int64(n))
		}
	}()
	defer wg.Wait()
	defer rx.Close()

	// Handshake first.
	if err := tx.Send(rx.LocalAddr(), nil); err != nil {
		b.Fatal(err)
	}
	for received.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	received.Store(0)

	payload := make([]byte, MaxPayload)
	batch := make([]Message, 32)
	for i := range batch {
		batch[i] = Message{Addr: rx.LocalAddr(), Buf: payload}
	}
	var sent, lost int64
	cpu0, cpuOK := processCPU()
	b.SetBytes(MaxPayload)
	b.ResetTimer()
	stalled := time.Now()
	last := int64(0)
	for sent < int64(b.N) || received.Load()+lost < sent {
		got := received.Load()
		if got != last {
			last, stalled = got, time.Now()
		} else if time.Since(stalled) > 200*time.Millisecond {
			lost = sent - got // the kernel dropped what is still missing
			stalled = time.Now()
		}
		room := loopbackWindow - (sent - got - lost)
		room = min(room, int64(b.N)-sent)
		if room <= 0 {
			time.Sleep(20 * time.Microsecond)
			continue
		}
		if single {
			if err := tx.Send(rx.LocalAddr(), payload); err != nil {
				b.Fatal(err)
			}
			sent++
			continue
		}
		k := min(int(room), len(batch))
		n, err := tx.SendBatch(batch[:k])
		if err != nil {
			b.Fatal(err)
		}
		sent += int64(n)
	}
	b.StopTimer()
	if cpu1, ok := processCPU(); ok && cpuOK && b.N > 0 {
		gib := float64(b.N) * MaxPayload / (1 << 30)
		b.ReportMetric((cpu1-cpu0).Seconds()/gib, "cpu-s/GiB")
	}
	b.ReportMetric(float64(lost)/float64(max(b.N, 1)), "lost/op")
}
