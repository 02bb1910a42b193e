package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Tests over real sockets on 127.0.0.1.

const waitLimit = 10 * time.Second

func listen(t testing.TB, addr string, id Identity, opts Options) *Conn {
	t.Helper()
	c, err := Listen(addr, id, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// collector receives from a Conn on its own goroutine until it is closed.
type collector struct {
	ch chan Message
}

func collect(c *Conn) *collector {
	col := &collector{ch: make(chan Message, 1<<16)}
	go func() {
		buf := make([]byte, MaxPayload)
		for {
			from, peer, n, err := c.Recv(buf)
			if err != nil {
				close(col.ch)
				return
			}
			col.ch <- Message{Addr: from, Peer: peer, Buf: bytes.Clone(buf[:n]), N: n}
		}
	}()
	return col
}

// next returns n datagrams, failing the test if they do not come in time.
func (col *collector) next(t testing.TB, n int) []Message {
	t.Helper()
	var out []Message
	deadline := time.After(waitLimit)
	for len(out) < n {
		select {
		case m, ok := <-col.ch:
			if !ok {
				t.Fatalf("conn closed after %d of %d datagrams", len(out), n)
			}
			out = append(out, m)
		case <-deadline:
			t.Fatalf("received %d of %d datagrams", len(out), n)
		}
	}
	return out
}

// none checks that nothing arrives within a short while.
func (col *collector) none(t testing.TB) {
	t.Helper()
	select {
	case m := <-col.ch:
		t.Fatalf("unexpected datagram %q from %v", m.Buf, m.Addr)
	case <-time.After(100 * time.Millisecond):
	}
}

// eventually polls cond until it holds or the wait limit passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoopbackExchange(t *testing.T) {
	for _, noBatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("noBatch=%v", noBatch), func(t *testing.T) {
			var evA, evB eventLog
			a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{OnEvent: evA.add, noBatch: noBatch})
			b := listen(t, "127.0.0.1:0", mustIdentity(t), Options{OnEvent: evB.add, noBatch: noBatch})
			ca, cb := collect(a), collect(b)
			sizes := []int{0, 1, 100, MaxPayload}
			for round := range 20 {
				for _, size := range sizes {
					p := bytes.Repeat([]byte{byte(round)}, size)
					if err := a.Send(b.LocalAddr(), p); err != nil {
						t.Fatal(err)
					}
				}
				for _, m := range cb.next(t, len(sizes)) {
					if m.Peer != a.Identity().PeerID() || m.Addr != a.LocalAddr() {
						t.Fatalf("B got a datagram from %v %v", m.Addr, m.Peer)
					}
					if len(m.Buf) > 0 && m.Buf[0] != byte(round) {
						t.Fatalf("round %d: B got %d", round, m.Buf[0])
					}
					if err := b.Send(m.Addr, m.Buf); err != nil {
						t.Fatal(err)
					}
				}
				got := ca.next(t, len(sizes))
				var gotSizes []int
				for _, m := range got {
					if m.Peer != b.Identity().PeerID() {
						t.Fatalf("A got a datagram from %v", m.Peer)
					}
					gotSizes = append(gotSizes, len(m.Buf))
				}
				if fmt.Sprint(gotSizes) != fmt.Sprint(sizes) {
					t.Logf("sizes %v (reordered by the kernel?)", gotSizes)
				}
			}
			if id, ok := a.PeerID(b.LocalAddr()); !ok || id != b.Identity().PeerID() {
				t.Errorf("A.PeerID(B) = %v %v", id, ok)
			}
			sa := a.Stats()
			if sa.DatagramsOut != 80 || sa.DatagramsIn != 80 || sa.HandshakesCompleted != 1 || sa.WireBytesOut <= sa.BytesOut {
				t.Errorf("A stats %+v", sa)
			}
			eventually(t, "session events", func() bool { return evA.count(SessionUp) == 1 && evB.count(SessionUp) == 1 })
		})
	}
}

func TestLoopbackWrongKey(t *testing.T) {
	a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	b := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	c := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	cb := collect(b)
	a.Send(b.LocalAddr(), []byte("from a"))
	c.Send(b.LocalAddr(), []byte("from c"))
	got := cb.next(t, 2)
	ids := map[string]PeerID{}
	for _, m := range got {
		ids[string(m.Buf)] = m.Peer
	}
	if ids["from a"] != a.Identity().PeerID() || ids["from c"] != c.Identity().PeerID() {
		t.Fatalf("peer IDs %v", ids)
	}

	// A stranger forges a datagram for A's session with B, under a key of its own.
	b.mu.RLock()
	index := b.peers[a.LocalAddr()].cur.localIndex
	b.mu.RUnlock()
	rogue := &session{remoteIndex: index, send: cipherSuite.Cipher([32]byte{7})}
	rogue.sendCounter.Store(1 << 20)
	pkt, _ := rogue.seal(nil, []byte("forged"))
	raw, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	before := b.Stats().Drops.Auth
	for range 3 {
		raw.WriteToUDPAddrPort(pkt, b.LocalAddr())
	}
	eventually(t, "auth drops", func() bool { return b.Stats().Drops.Auth == before+3 })
	cb.none(t)
	a.Send(b.LocalAddr(), []byte("still a"))
	if m := cb.next(t, 1)[0]; string(m.Buf) != "still a" || m.Addr != a.LocalAddr() {
		t.Fatalf("after forgery B got %q from %v", m.Buf, m.Addr)
	}
}

// relay forwards datagrams between one client and one server over a plain
// UDP socket, and can hold data packets back for reordering and replay.
type relay struct {
	conn           *net.UDPConn
	client, server netip.AddrPort

	mu   sync.Mutex
	hold bool
	held [][]byte
}

func newRelay(t *testing.T, server netip.AddrPort) *relay {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{conn: conn, server: server}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pkt := bytes.Clone(buf[:n])
			r.mu.Lock()
			to := r.server
			if from == r.server {
				to = r.client
			} else {
				r.client = from
			}
			if r.hold && from != r.server && kindOf(pkt) == typeData {
				r.held = append(r.held, pkt)
				r.mu.Unlock()
				continue
			}
			r.mu.Unlock()
			conn.WriteToUDPAddrPort(pkt, to)
		}
	}()
	return r
}

func (r *relay) addr() netip.AddrPort {
	return netip.MustParseAddrPort(r.conn.LocalAddr().String())
}

func (r *relay) heldPackets() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.held...)
}

func TestLoopbackReplayAndReorder(t *testing.T) {
	a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	b := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	cb := collect(b)
	r := newRelay(t, b.LocalAddr())
	a.Send(r.addr(), []byte("hi"))
	if m := cb.next(t, 1)[0]; m.Peer != a.Identity().PeerID() {
		t.Fatalf("B got %v", m.Peer)
	}

	r.mu.Lock()
	r.hold = true
	r.mu.Unlock()
	const count = 50
	for i := range count {
		a.Send(r.addr(), []byte{byte(i)})
	}
	eventually(t, "relay to hold all", func() bool { return len(r.heldPackets()) == count })
	held := r.heldPackets()
	for i := len(held) - 1; i >= 0; i-- {
		r.conn.WriteToUDPAddrPort(held[i], b.LocalAddr())
	}
	got := cb.next(t, count)
	seen := map[byte]bool{}
	for _, m := range got {
		seen[m.Buf[0]] = true
	}
	if len(seen) != count {
		t.Fatalf("reordered: %d distinct of %d", len(seen), count)
	}
	if got[0].Buf[0] != count-1 {
		t.Logf("first delivered %d (kernel reordered?)", got[0].Buf[0])
	}

	replays := b.Stats().Drops.Replay
	for _, p := range held {
		r.conn.WriteToUDPAddrPort(p, b.LocalAddr())
	}
	eventually(t, "replay drops", func() bool { return b.Stats().Drops.Replay == replays+count })
	cb.none(t)
}

func TestLoopbackRestart(t *testing.T) {
	tests := []struct {
		name     string
		samePort bool
		bFirst   bool // the restarted peer speaks first
	}{
		{"same port, restarted peer speaks first", true, true},
		{"same port, other side speaks first", true, false},
		{"new port", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
			ca := collect(a)
			idB := mustIdentity(t)
			b, err := Listen("127.0.0.1:0", idB, Options{})
			if err != nil {
				t.Fatal(err)
			}
			cb := collect(b)
			a.Send(b.LocalAddr(), []byte("1"))
			cb.next(t, 1)
			oldAddr := b.LocalAddr()
			b.Close()

			addr := "127.0.0.1:0"
			if tt.samePort {
				addr = oldAddr.String()
			}
			b2 := listen(t, addr, idB, Options{})
			cb2 := collect(b2)
			if tt.bFirst {
				b2.Send(a.LocalAddr(), []byte("back"))
				m := ca.next(t, 1)[0]
				if m.Peer != idB.PeerID() || m.Addr != b2.LocalAddr() {
					t.Fatalf("A got %q from %v %v", m.Buf, m.Addr, m.Peer)
				}
				a.Send(m.Addr, []byte("2"))
				if m := cb2.next(t, 1)[0]; string(m.Buf) != "2" {
					t.Fatalf("B2 got %q", m.Buf)
				}
				return
			}
			// A's first datagrams go to the old session and are lost; B2's
			// reset makes A handshake again, and traffic resumes.
			deadline := time.Now().Add(waitLimit)
			for {
				a.Send(b2.LocalAddr(), []byte("2"))
				select {
				case m := <-cb2.ch:
					if m.Peer != a.Identity().PeerID() {
						t.Fatalf("B2 got a datagram from %v", m.Peer)
					}
					if a.Stats().ResetsReceived == 0 || a.Stats().HandshakesCompleted != 2 {
						t.Errorf("A stats %+v", a.Stats())
					}
					return
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("traffic did not resume")
				}
			}
		})
	}
}

func TestLoopbackManyPeers(t *testing.T) {
	const peers, each = 50, 5
	hub := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	go func() {
		buf := make([]byte, MaxPayload)
		for {
			from, _, n, err := hub.Recv(buf)
			if err != nil {
				return
			}
			hub.Send(from, buf[:n])
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, peers)
	for i := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Listen("127.0.0.1:0", mustIdentity(t), Options{})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			col := collect(c)
			for j := range each {
				c.Send(hub.LocalAddr(), fmt.Appendf(nil, "%d/%d", i, j))
			}
			got := map[string]bool{}
			timeout := time.After(waitLimit)
			for len(got) < each {
				select {
				case m := <-col.ch:
					if m.Peer != hub.Identity().PeerID() {
						errs <- fmt.Errorf("peer %d: echo from %v", i, m.Peer)
						return
					}
					got[string(m.Buf)] = true
				case <-timeout:
					errs <- fmt.Errorf("peer %d: %d of %d echoes", i, len(got), each)
					return
				}
			}
			if !got[fmt.Sprintf("%d/%d", i, each-1)] {
				errs <- fmt.Errorf("peer %d: echoes %v", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := hub.Stats(); st.HandshakesCompleted != peers || st.DatagramsIn != peers*each {
		t.Errorf("hub stats %+v", st)
	}
}

func TestLoopbackBatch(t *testing.T) {
	a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	b := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	batches := make(chan []Message, 1024)
	go func() {
		defer close(batches)
		for {
			in := make([]Message, 32)
			for i := range in {
				in[i].Buf = make([]byte, MaxPayload)
			}
			n, err := b.RecvBatch(in)
			if err != nil {
				return
			}
			batches <- in[:n]
		}
	}()
	seen := map[int]bool{}
	await := func(want int) {
		t.Helper()
		timeout := time.After(waitLimit)
		for len(seen) < want {
			select {
			case in := <-batches:
				for _, m := range in {
					var k int
					fmt.Sscanf(string(m.Buf[:6]), "%d", &k)
					if m.N != MaxPayload || m.Truncated || m.Peer != a.Identity().PeerID() || seen[k] {
						t.Fatalf("bad datagram %d: %d bytes, truncated %v", k, m.N, m.Truncated)
					}
					seen[k] = true
				}
			case <-timeout:
				t.Fatalf("received %d of %d", len(seen), want)
			}
		}
	}
	const total, window = 1000, 100
	msgs := make([]Message, window)
	for start := 0; start < total; start += window {
		for i := range msgs {
			msgs[i] = Message{Addr: b.LocalAddr(), Buf: fmt.Appendf(make([]byte, 0, MaxPayload), "%06d", start+i)}
			msgs[i].Buf = msgs[i].Buf[:MaxPayload]
		}
		batch := msgs
		if start == 0 {
			batch = msgs[:1] // the handshake holds at most QueueLen datagrams
		}
		if n, err := a.SendBatch(batch); n != len(batch) || err != nil {
			t.Fatalf("SendBatch = %d, %v", n, err)
		}
		if start == 0 {
			await(1)
			if n, err := a.SendBatch(msgs[1:]); n != window-1 || err != nil {
				t.Fatalf("SendBatch = %d, %v", n, err)
			}
		}
		await(start + window)
	}
	// A batch with a bad message stops there.
	bad := []Message{{Addr: b.LocalAddr(), Buf: []byte("ok")}, {Addr: b.LocalAddr(), Buf: make([]byte, MaxPayload+1)}}
	if n, err := a.SendBatch(bad); n != 1 || !errors.Is(err, ErrTooLarge) {
		t.Errorf("SendBatch(bad) = %d, %v; want 1, ErrTooLarge", n, err)
	}
}

func TestLoopbackDualStack(t *testing.T) {
	for _, noBatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("noBatch=%v", noBatch), func(t *testing.T) {
			a, err := Listen("[::]:0", mustIdentity(t), Options{noBatch: noBatch})
			if err != nil {
				t.Skipf("no IPv6 socket here: %v", err)
			}
			defer a.Close()
			b := listen(t, "127.0.0.1:0", mustIdentity(t), Options{noBatch: noBatch})
			ca, cb := collect(a), collect(b)
			a.Send(b.LocalAddr(), []byte("v6 to v4"))
			m := cb.next(t, 1)[0]
			b.Send(m.Addr, []byte("v4 to v6"))
			if m := ca.next(t, 1)[0]; m.Addr != b.LocalAddr() || !m.Addr.Addr().Is4() {
				t.Fatalf("A got a datagram from %v, want %v", m.Addr, b.LocalAddr())
			}
			msgs := []Message{{Addr: b.LocalAddr(), Buf: []byte("x")}, {Addr: b.LocalAddr(), Buf: []byte("y")}}
			if _, err := a.SendBatch(msgs); err != nil {
				t.Fatal(err)
			}
			cb.next(t, 2)
		})
	}
}

func TestSendErrors(t *testing.T) {
	a := listen(t, "127.0.0.1:0", mustIdentity(t), Options{})
	tests := []struct {
		name string
		to   netip.AddrPort
		size int
		want error
	}{
		{"too large", netip.MustParseAddrPort("127.0.0.1:9"), MaxPayload + 1, ErrTooLarge},
		{"zero port", netip.MustParseAddrPort("127.0.0.1:0"), 1, ErrBadAddress},
		{"unspecified", netip.MustParseAddrPort("0.0.0.0:9"), 1, ErrBadAddress},
		{"multicast", netip.MustParseAddrPort("224.0.0.1:9"), 1, ErrBadAddress},
		{"invalid", netip.AddrPort{}, 1, ErrBadAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Send(tt.to, make([]byte, tt.size)); !errors.Is(err, tt.want) {
				t.Errorf("Send = %v, want %v", err, tt.want)
			}
		})
	}
	// An IPv6 destination from an IPv4 socket fails at once and leaves nothing behind.
	if err := a.Send(netip.MustParseAddrPort("[::1]:9"), []byte("x")); err == nil {
		t.Error("Send to IPv6 from an IPv4 socket succeeded")
	}
	if st := a.Stats(); st.Peers != 0 || st.Drops.WriteErrors != 1 {
		t.Errorf("after a failed handshake write: %+v", st)
	}
	a.Close()
	if err := a.Send(netip.MustParseAddrPort("127.0.0.1:9"), nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close = %v", err)
	}
	if _, _, _, err := a.Recv(nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Recv after Close = %v", err)
	}
}

func TestListenErrors(t *testing.T) {
	id := mustIdentity(t)
	tests := []struct {
		name string
		addr string
		id   Identity
		opts Options
		want error
	}{
		{"zero identity", "127.0.0.1:0", Identity{}, Options{}, ErrBadIdentity},
		{"bad options", "127.0.0.1:0", id, Options{MaxPeers: -1}, ErrInvalidOptions},
		{"bad address", "127.0.0.1:notaport", id, Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Listen(tt.addr, tt.id, tt.opts)
			if err == nil {
				c.Close()
				t.Fatal("Listen succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	var conns []*Conn
	for range 4 {
		c, err := Listen("127.0.0.1:0", mustIdentity(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	received := make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		for range len(conns) - 1 {
			if _, _, _, err := conns[0].Recv(make([]byte, 10)); err != nil {
				blocked <- err
				return
			}
		}
		close(received)
		_, _, _, err := conns[0].Recv(make([]byte, 10)) // nothing more comes
		blocked <- err
	}()
	for i, c := range conns[1:] {
		c.Send(conns[0].LocalAddr(), []byte{byte(i)})
		c.Send(netip.MustParseAddrPort("127.0.0.1:9"), []byte("handshake pending at close"))
	}
	select {
	case <-received:
	case err := <-blocked:
		t.Fatal(err)
	case <-time.After(waitLimit):
		t.Fatal("datagrams did not arrive")
	}
	for _, c := range conns {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked Recv returned %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Close did not release a blocked Recv")
	}
	eventually(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}
