package sim

import (
	"encoding/binary"
	"errors"

	"github.com/cespare/xxhash/v2"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

// fastIntegrity stands in for SHA-256 and Ed25519 in large runs: the same
// checks at the same places in the engine, with a 64-bit hash that any
// corrupted byte changes. A thousand engines hashing every chunk with
// SHA-256 would spend the run's whole budget on it; the real suite runs
// with Options.RealCrypto, and in every test outside the simulator.
type fastIntegrity struct{ key uint64 }

var errFastMismatch = errors.New("sim: chunk does not match its signature")

var _ core.Integrity = fastIntegrity{}

func (f fastIntegrity) LeafHash(data []byte) integrity.Hash {
	var h integrity.Hash
	binary.LittleEndian.PutUint64(h[:], xxhash.Sum64(data))
	binary.LittleEndian.PutUint64(h[8:], uint64(len(data)))
	return h
}

func (f fastIntegrity) sign(swarm integrity.Hash, m integrity.ChunkMeta, data []byte) [64]byte {
	var b [8 + 32 + 8 + 8 + 1 + 4 + 8]byte
	binary.LittleEndian.PutUint64(b[0:], f.key)
	copy(b[8:], swarm[:])
	binary.LittleEndian.PutUint64(b[40:], m.Seq)
	binary.LittleEndian.PutUint64(b[48:], uint64(m.TimestampUs))
	b[56] = m.Flags
	binary.LittleEndian.PutUint32(b[57:], m.Length)
	binary.LittleEndian.PutUint64(b[61:], xxhash.Sum64(data))
	var sig [64]byte
	binary.LittleEndian.PutUint64(sig[:], xxhash.Sum64(b[:]))
	return sig
}

func (f fastIntegrity) VerifyLive(v *integrity.Verifier, m integrity.ChunkMeta, data []byte, sig [64]byte) error {
	if int(m.Length) != len(data) || f.sign(v.SwarmID(), m, data) != sig {
		return errFastMismatch
	}
	return nil
}
