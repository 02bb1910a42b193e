package udp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/flynn/noise"
)

var (
	cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)
	prologue    = []byte("shoal/udp/1")
	initPadding = make([]byte, initPadLen)

	errHandshake = errors.New("udp: handshake message rejected")
	errExhausted = errors.New("udp: session counter exhausted")
)

// rejectAfterMessages retires a session's key long before a nonce repeats.
const rejectAfterMessages = 1 << 60

// handshake is one Noise XX exchange in progress. Its noise state is used
// only by the goroutine that reads packets; the rest is guarded by Conn.mu.
type handshake struct {
	initiator   bool
	localIndex  uint32
	remoteIndex uint32 // responder: the initiator's index
	ephPriv     [keyLen]byte
	ephPub      [keyLen]byte
	initNoise   []byte // the init's Noise bytes, kept to rebuild and to spot repeats
	respNoise   []byte // responder: the response's Noise bytes
	state       *noise.HandshakeState

	pkt      []byte    // packet to send again: the init, or the response
	deadline time.Time // give up after
	nextSend time.Time // initiator: when to retransmit
	backoff  time.Duration
	resentAt time.Time // responder: last response sent on a data packet's account
}

func newNoiseState(id Identity, initiator bool, ephPriv *[keyLen]byte) (*noise.HandshakeState, error) {
	return noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Random:        bytes.NewReader(ephPriv[:]), // the one ephemeral this exchange uses
		Pattern:       noise.HandshakeXX,
		Initiator:     initiator,
		Prologue:      prologue,
		StaticKeypair: id.dhKey(),
	})
}

// newInitiator builds the init message's Noise bytes.
func newInitiator(id Identity, rnd io.Reader) (*handshake, error) {
	h := &handshake{initiator: true}
	if _, err := io.ReadFull(rnd, h.ephPriv[:]); err != nil {
		return nil, fmt.Errorf("udp: ephemeral key: %w", err)
	}
	if err := h.rebuild(id); err != nil {
		return nil, err
	}
	copy(h.ephPub[:], h.initNoise)
	return h, nil
}

// newResponder reads an init and writes the response's Noise bytes.
func newResponder(id Identity, rnd io.Reader, remoteIndex uint32, initNoise []byte) (*handshake, error) {
	h := &handshake{remoteIndex: remoteIndex, initNoise: bytes.Clone(initNoise)}
	if _, err := io.ReadFull(rnd, h.ephPriv[:]); err != nil {
		return nil, fmt.Errorf("udp: ephemeral key: %w", err)
	}
	if err := h.rebuild(id); err != nil {
		return nil, err
	}
	copy(h.ephPub[:], h.respNoise)
	return h, nil
}

// rebuild brings the Noise state to where it stands while waiting for the
// peer's next message. The library does not roll its state back after every
// kind of failed read, and the state is a function of the static key, the
// ephemeral key and the messages so far, so replaying them restores it.
func (h *handshake) rebuild(id Identity) error {
	st, err := newNoiseState(id, h.initiator, &h.ephPriv)
	if err != nil {
		return fmt.Errorf("udp: handshake state: %w", err)
	}
	if h.initiator {
		msg, _, _, err := st.WriteMessage(nil, initPadding)
		if err != nil {
			return fmt.Errorf("udp: write init: %w", err)
		}
		h.initNoise = msg
	} else {
		if _, _, _, err := st.ReadMessage(nil, h.initNoise); err != nil {
			return fmt.Errorf("read init: %v: %w", err, errHandshake)
		}
		msg, _, _, err := st.WriteMessage(nil, nil)
		if err != nil {
			// A low-order ephemeral from the initiator fails here.
			return fmt.Errorf("write response: %v: %w", err, errHandshake)
		}
		h.respNoise = msg
	}
	h.state = st
	return nil
}

// keys is what a completed handshake yields.
type keys struct {
	send, recv   noise.Cipher
	remoteStatic [keyLen]byte
}

func splitKeys(st *noise.HandshakeState, initiator bool, cs1, cs2 *noise.CipherState) keys {
	var k keys
	if initiator {
		k.send, k.recv = cs1.Cipher(), cs2.Cipher()
	} else {
		k.send, k.recv = cs2.Cipher(), cs1.Cipher()
	}
	copy(k.remoteStatic[:], st.PeerStatic())
	return k
}

// readResponse consumes the response and returns the finish's Noise bytes.
func (h *handshake) readResponse(id Identity, msg []byte) ([]byte, keys, error) {
	if _, _, _, err := h.state.ReadMessage(nil, msg); err != nil {
		if rerr := h.rebuild(id); rerr != nil {
			return nil, keys{}, rerr
		}
		return nil, keys{}, fmt.Errorf("read response: %v: %w", err, errHandshake)
	}
	out, cs1, cs2, err := h.state.WriteMessage(nil, nil)
	if err != nil || cs1 == nil {
		if rerr := h.rebuild(id); rerr != nil {
			return nil, keys{}, rerr
		}
		return nil, keys{}, fmt.Errorf("write finish: %v: %w", err, errHandshake)
	}
	return out, splitKeys(h.state, true, cs1, cs2), nil
}

// readFinish consumes the finish and completes the responder's side.
func (h *handshake) readFinish(id Identity, msg []byte) (keys, error) {
	_, cs1, cs2, err := h.state.ReadMessage(nil, msg)
	if err != nil || cs1 == nil {
		if rerr := h.rebuild(id); rerr != nil {
			return keys{}, rerr
		}
		return keys{}, fmt.Errorf("read finish: %v: %w", err, errHandshake)
	}
	return splitKeys(h.state, false, cs1, cs2), nil
}

// session is an established pair of transport keys with one peer.
type session struct {
	localIndex  uint32
	remoteIndex uint32
	peerID      PeerID
	initiator   bool
	initEph     [keyLen]byte // the initiator's ephemeral; an init carrying it again is stale
	send, recv  noise.Cipher

	sendCounter atomic.Uint64
	lastSendNs  atomic.Int64 // since Conn.epoch
	lastRecvNs  atomic.Int64

	// Guarded by Conn.mu.
	stale bool // the peer sent a reset: hold new datagrams for the next session

	// Owned by the goroutine that reads packets.
	replay    replayFilter
	finishPkt []byte // initiator: the finish, sent again if the response repeats
}

// seal appends a data packet carrying plaintext to dst.
func (s *session) seal(dst, plaintext []byte) ([]byte, error) {
	ctr := s.sendCounter.Add(1) - 1
	if ctr >= rejectAfterMessages {
		return dst, errExhausted
	}
	start := len(dst)
	dst = appendDataHeader(dst, s.remoteIndex, ctr)
	return s.send.Encrypt(dst, ctr, dst[start:], plaintext), nil
}

// open authenticates and decrypts a parsed data packet (whose header is
// pkt[:dataHeaderLen]) into dst. It does not touch the replay filter.
func (s *session) open(dst, pkt []byte, m *dataMsg) ([]byte, error) {
	return s.recv.Decrypt(dst, m.counter, pkt[:dataHeaderLen], m.sealed)
}

// peer is the state kept for one remote address. Guarded by Conn.mu.
type peer struct {
	addr  netip.AddrPort
	ua    *net.UDPAddr // addr for batch writes, built once
	cur   *session     // may be nil while the first handshake runs
	prev  *session     // the session cur replaced; still receives
	hs    *handshake   // handshake in progress, or nil
	queue [][]byte     // datagrams held for hs, oldest first
}

// randomReader is where ephemeral keys and indices come from.
var randomReader io.Reader = rand.Reader
