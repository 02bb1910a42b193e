package integrity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// SignatureSize is the size of a live chunk signature in bytes.
const SignatureSize = ed25519.SignatureSize

const (
	swarmPrefix = "shoal-swarm-v1\x00"
	livePrefix  = "shoal-live-v1\x00"
	// signedLen is the length of the message a chunk signature covers.
	signedLen = len(livePrefix) + HashSize + 8 + 8 + 1 + 4 + HashSize
)

// SwarmID returns the ID of the live swarm of stream published under pub:
// SHA-256("shoal-swarm-v1\x00" || pub || stream).
func SwarmID(pub ed25519.PublicKey, stream string) Hash {
	h := sha256.New()
	h.Write([]byte(swarmPrefix))
	h.Write(pub)
	h.Write([]byte(stream))
	var id Hash
	h.Sum(id[:0])
	return id
}

// ChunkMeta is what a live chunk's signature covers besides its data.
type ChunkMeta struct {
	Seq         uint64 // sequence number within the swarm
	TimestampUs int64  // origin timestamp in microseconds
	Flags       uint8  // chunk flags, such as a random-access point
	Length      uint32 // data length in bytes
}

// signedMessage lays out the message a chunk signature covers.
func signedMessage(swarmID *Hash, m *ChunkMeta, digest *Hash) [signedLen]byte {
	b := make([]byte, 0, signedLen)
	b = append(b, livePrefix...)
	b = append(b, swarmID[:]...)
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.TimestampUs))
	b = append(b, m.Flags)
	b = binary.BigEndian.AppendUint32(b, m.Length)
	b = append(b, digest[:]...)
	return [signedLen]byte(b)
}

func checkLength(m *ChunkMeta, data []byte) error {
	if uint64(len(data)) != uint64(m.Length) {
		return fmt.Errorf("%w: chunk %d has %d bytes, meta says %d", ErrLength, m.Seq, len(data), m.Length)
	}
	return nil
}

// Signer signs the chunks of one live swarm for the origin. It may be used
// from many goroutines at once.
type Signer struct {
	priv    ed25519.PrivateKey
	swarmID Hash
}

// NewSigner returns a Signer for swarmID with priv, which it copies. It
// returns ErrKey when priv is not a whole Ed25519 private key.
func NewSigner(priv ed25519.PrivateKey, swarmID Hash) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrKey, len(priv), ed25519.PrivateKeySize)
	}
	// ed25519.Sign trusts the public half; a mismatched one would yield
	// signatures that verify under no key.
	if !bytes.Equal(ed25519.NewKeyFromSeed(priv.Seed()), priv) {
		return nil, fmt.Errorf("%w: public half of the private key does not match its seed", ErrKey)
	}
	return &Signer{priv: bytes.Clone(priv), swarmID: swarmID}, nil
}

// Public returns the public key signatures verify under.
func (s *Signer) Public() ed25519.PublicKey {
	return bytes.Clone(s.priv[ed25519.SeedSize:])
}

// SwarmID returns the swarm ID the signer signs for.
func (s *Signer) SwarmID() Hash { return s.swarmID }

// Sign returns the signature of chunk m carrying data. It returns ErrLength
// when m.Length is not len(data).
func (s *Signer) Sign(m ChunkMeta, data []byte) ([SignatureSize]byte, error) {
	var sig [SignatureSize]byte
	if err := checkLength(&m, data); err != nil {
		return sig, err
	}
	digest := Hash(sha256.Sum256(data))
	msg := signedMessage(&s.swarmID, &m, &digest)
	copy(sig[:], ed25519.Sign(s.priv, msg[:]))
	return sig, nil
}

// Verifier checks the chunks of one live swarm against the origin's public
// key. It may be used from many goroutines at once.
type Verifier struct {
	pub     ed25519.PublicKey
	swarmID Hash
}

// NewVerifier returns a Verifier for swarmID under pub, which it copies. It
// returns ErrKey when pub is not an Ed25519 public key.
func NewVerifier(pub ed25519.PublicKey, swarmID Hash) (*Verifier, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrKey, len(pub), ed25519.PublicKeySize)
	}
	return &Verifier{pub: bytes.Clone(pub), swarmID: swarmID}, nil
}

// SwarmID returns the swarm ID the verifier checks for.
func (v *Verifier) SwarmID() Hash { return v.swarmID }

// SignatureCheck reports whether sig is a valid Ed25519 signature of msg
// under pub, exactly as crypto/ed25519.Verify decides. A faster
// implementation of the same check can stand in for it (VerifyWith).
type SignatureCheck func(pub ed25519.PublicKey, msg []byte, sig *[SignatureSize]byte) bool

// StdlibCheck is crypto/ed25519.Verify as a SignatureCheck.
func StdlibCheck(pub ed25519.PublicKey, msg []byte, sig *[SignatureSize]byte) bool {
	return ed25519.Verify(pub, msg, sig[:])
}

// Verify checks sig over chunk m carrying data. It returns ErrLength when
// m.Length is not len(data) and ErrBadSignature when sig does not verify.
func (v *Verifier) Verify(m ChunkMeta, data []byte, sig [SignatureSize]byte) error {
	return v.VerifyWith(m, data, sig, StdlibCheck)
}

// VerifyWith is Verify with check deciding the signature.
func (v *Verifier) VerifyWith(m ChunkMeta, data []byte, sig [SignatureSize]byte, check SignatureCheck) error {
	if err := checkLength(&m, data); err != nil {
		return err
	}
	return v.verifyDigest(m, sha256.Sum256(data), sig, check)
}

// VerifyDigest is Verify for a caller that already holds digest, the SHA-256
// of the chunk data; m.Length is then taken as given.
func (v *Verifier) VerifyDigest(m ChunkMeta, digest Hash, sig [SignatureSize]byte) error {
	return v.verifyDigest(m, digest, sig, StdlibCheck)
}

func (v *Verifier) verifyDigest(m ChunkMeta, digest Hash, sig [SignatureSize]byte, check SignatureCheck) error {
	msg := signedMessage(&v.swarmID, &m, &digest)
	if !check(v.pub, msg[:], &sig) {
		return fmt.Errorf("%w: chunk %d", ErrBadSignature, m.Seq)
	}
	return nil
}
