// Package integrity owns what makes Shoal's bytes trustworthy: the SHA-256
// hash tree over 16 KiB blocks that names and checks on-demand content, and
// the Ed25519 signatures the origin puts on every live chunk.
//
// It knows nothing of peers, datagrams or storage. Apart from BuildTree, which
// reads the stream it is given and hashes on goroutines it waits for, it does
// no I/O (the origin's key file lives in internal/keyfile), keeps
// no global state and reads no clock. It imports only the standard library
// and builds for js/wasm.
//
// # On demand
//
// The tree is the one of BitTorrent v2 (BEP 52), so a bridge stays possible:
// each leaf is the SHA-256 of one LeafSize block of the file (the last block
// may be short and is hashed as is), the leaf layer is padded to the next
// power of two with all-zero hashes, and every interior node is
// SHA-256(left || right). The root is the content ID. A file of one block has
// its leaf hash as root. An empty file has no leaves and no blocks to verify;
// its root is defined as SHA-256 of nothing, and VerifyProof rejects every
// index for it.
//
// The root alone does not pin the file size, so a link carries the size next
// to the root and both are trusted together. A size claimed too small is
// still caught: VerifyProof requires uncles that stand for padding to be the
// padding hashes, so the last claimed block fails, and VerifyLeaves, which
// checks the whole leaf layer, fails at once.
//
// # Live
//
// A live chunk is signed over a fixed, domain-separated layout:
//
//	"shoal-live-v1\x00" || swarmID[32] || seq u64 BE || timestampUs i64 BE ||
//	flags u8 || length u32 BE || SHA-256(data)[32]
//
// Signing timestamp, flags and length as well as the sequence number keeps a
// relaying peer from moving a chunk in time or altering its random-access
// flag. The swarm ID is SHA-256("shoal-swarm-v1\x00" || publicKey || stream).
package integrity

import "errors"

// Errors returned (wrapped) by this package; test with errors.Is.
var (
	// ErrSize reports a size outside [0, MaxSize], a leaf count that does
	// not match the size, or a stream that yields more or fewer bytes than
	// announced.
	ErrSize = errors.New("integrity: wrong size")
	// ErrRange reports a leaf index outside the file (every index of an
	// empty file).
	ErrRange = errors.New("integrity: leaf index out of range")
	// ErrProof reports a proof with the wrong number of uncle hashes.
	ErrProof = errors.New("integrity: wrong proof length")
	// ErrMismatch reports data or hashes that do not lead to the root.
	ErrMismatch = errors.New("integrity: hash mismatch")
	// ErrMalformed reports an encoded tree or hash that cannot be decoded.
	ErrMalformed = errors.New("integrity: malformed input")
	// ErrLength reports data whose length differs from the length it is
	// checked or signed under.
	ErrLength = errors.New("integrity: wrong data length")
	// ErrBadSignature reports a live chunk whose signature does not verify.
	ErrBadSignature = errors.New("integrity: bad signature")
	// ErrKey reports an Ed25519 key of the wrong size or a key file that
	// holds no usable key.
	ErrKey = errors.New("integrity: invalid key")
)
