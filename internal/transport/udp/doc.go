// Package udp carries the engine's plaintext datagrams between Shoal
// processes over UDP, each peer pair encrypted and mutually authenticated
// with Noise_XX_25519_ChaChaPoly_BLAKE2s. It owns sockets, handshakes,
// sessions and replay protection; it knows nothing about swarms or chunks.
//
// A Conn is addressed by netip.AddrPort. Send starts a handshake when no
// session exists and holds a bounded number of datagrams until it completes;
// Recv returns decrypted datagrams with the sender's authenticated PeerID
// (SHA-256 of its static X25519 public key).
//
// # Wire format (version 1)
//
// Every UDP payload starts with a one-byte type. Integers are little-endian.
// Indices are random 32-bit values each side picks for its own half of a
// session; a packet names the receiver's index, so a peer that changes
// address (NAT rebinding) or two sessions behind one address stay apart.
//
//	type 1 handshake init      (105 bytes)
//	  [1] type  [4] sender index  [32] ephemeral  [68] zero padding
//	type 2 handshake response  (105 bytes)
//	  [1] type  [4] sender index  [4] receiver index  [96] Noise message 2
//	type 3 handshake finish    (69 bytes)
//	  [1] type  [4] receiver index  [64] Noise message 3
//	type 4 data                (29 bytes + payload)
//	  [1] type  [4] receiver index  [8] counter  [n] ciphertext  [16] tag
//	type 5 reset               (5 bytes)
//	  [1] type  [4] receiver index the sender of the reset does not know
//
// The three handshake messages are the Noise XX messages (-> e; <- e, ee, s,
// es; -> s, se) with the prologue "shoal/udp/1". The init is padded to the
// size of the response so that answering a forged source address sends no
// more bytes than were received. Data packets are sealed with the Noise
// transport cipher under an explicit nonce equal to the counter, with the
// 13 header bytes as associated data, so loss and reordering do not break
// decryption; a sliding window of 1984 counters rejects replays. A reset is an
// unauthenticated hint that the receiver restarted: it never tears a
// session down, it only makes the sender start a new handshake and hold
// new datagrams until that handshake completes.
//
// When both sides start a handshake at once, the side whose ephemeral
// public key is smaller (bytewise) stays initiator and the other answers;
// both sides see both keys, so they agree without another round trip.
package udp
