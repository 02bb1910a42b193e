package integrity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
)

// testKey returns a fixed Ed25519 key derived from b.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func TestSwarmID(t *testing.T) {
	pub := testKey(1).Public().(ed25519.PublicKey)
	want := sha256.Sum256(append(append([]byte("shoal-swarm-v1\x00"), pub...), "news"...))
	if got := SwarmID(pub, "news"); got != want {
		t.Errorf("SwarmID = %s, want %x", got, want)
	}
	other := testKey(2).Public().(ed25519.PublicKey)
	ids := map[Hash]string{}
	for name, id := range map[string]Hash{
		"pub/news":   SwarmID(pub, "news"),
		"pub/sport":  SwarmID(pub, "sport"),
		"pub/":       SwarmID(pub, ""),
		"other/news": SwarmID(other, "news"),
	} {
		if prev, ok := ids[id]; ok {
			t.Errorf("%s and %s share swarm ID %s", name, prev, id)
		}
		ids[id] = name
	}
}

// TestSignedLayout checks a signature against the message laid out by hand
// from the documented format.
func TestSignedLayout(t *testing.T) {
	priv := testKey(3)
	swarm := SwarmID(priv.Public().(ed25519.PublicKey), "live")
	s, err := NewSigner(priv, swarm)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a chunk of transport stream")
	m := ChunkMeta{Seq: 0x0102030405060708, TimestampUs: -2, Flags: 0x81, Length: uint32(len(data))}
	sig, err := s.Sign(m, data)
	if err != nil {
		t.Fatal(err)
	}
	var msg bytes.Buffer
	msg.WriteString("shoal-live-v1")
	msg.WriteByte(0)
	msg.Write(swarm[:])
	msg.Write([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	msg.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe})
	msg.WriteByte(0x81)
	binary.Write(&msg, binary.BigEndian, uint32(len(data)))
	digest := sha256.Sum256(data)
	msg.Write(digest[:])
	if msg.Len() != 99 {
		t.Fatalf("hand-built message is %d bytes", msg.Len())
	}
	if !ed25519.Verify(priv.Public().(ed25519.PublicKey), msg.Bytes(), sig[:]) {
		t.Error("signature does not cover the documented layout")
	}
	if !bytes.Equal(s.Public(), priv.Public().(ed25519.PublicKey)) || s.SwarmID() != swarm {
		t.Error("Signer reports another key or swarm")
	}
}

func TestSignVerify(t *testing.T) {
	priv := testKey(4)
	pub := priv.Public().(ed25519.PublicKey)
	swarm := SwarmID(pub, "live")
	s, err := NewSigner(priv, swarm)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(pub, swarm)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(4, LeafSize)
	m := ChunkMeta{Seq: 42, TimestampUs: 1_700_000_000_000_000, Flags: 1, Length: LeafSize}
	sig, err := s.Sign(m, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(m, data, sig); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	digest := Hash(sha256.Sum256(data))
	if err := v.VerifyDigest(m, digest, sig); err != nil {
		t.Fatalf("VerifyDigest: %v", err)
	}

	otherSwarm, _ := NewVerifier(pub, SwarmID(pub, "other"))
	otherKey, _ := NewVerifier(testKey(5).Public().(ed25519.PublicKey), swarm)
	flipped := func(b []byte, pos int) []byte {
		b = bytes.Clone(b)
		b[pos] ^= 1
		return b
	}
	tests := []struct {
		name string
		v    *Verifier
		m    ChunkMeta
		data []byte
		sig  [SignatureSize]byte
		want error
	}{
		{"other swarm", otherSwarm, m, data, sig, ErrBadSignature},
		{"other key", otherKey, m, data, sig, ErrBadSignature},
		{"seq+1", v, ChunkMeta{m.Seq + 1, m.TimestampUs, m.Flags, m.Length}, data, sig, ErrBadSignature},
		{"timestamp+1", v, ChunkMeta{m.Seq, m.TimestampUs + 1, m.Flags, m.Length}, data, sig, ErrBadSignature},
		{"flags cleared", v, ChunkMeta{m.Seq, m.TimestampUs, 0, m.Length}, data, sig, ErrBadSignature},
		{"length and data one shorter", v, ChunkMeta{m.Seq, m.TimestampUs, m.Flags, m.Length - 1}, data[1:], sig, ErrBadSignature},
		{"length differs from data", v, ChunkMeta{m.Seq, m.TimestampUs, m.Flags, m.Length - 1}, data, sig, ErrLength},
		{"first data byte", v, m, flipped(data, 0), sig, ErrBadSignature},
		{"last data byte", v, m, flipped(data, len(data)-1), sig, ErrBadSignature},
		{"signature R", v, m, data, [64]byte(flipped(sig[:], 0)), ErrBadSignature},
		{"signature S", v, m, data, [64]byte(flipped(sig[:], 40)), ErrBadSignature},
		{"zero signature", v, m, data, [64]byte{}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.v.Verify(tt.m, tt.data, tt.sig); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
			if tt.want == ErrBadSignature {
				if err := tt.v.VerifyDigest(tt.m, sha256.Sum256(tt.data), tt.sig); !errors.Is(err, ErrBadSignature) {
					t.Errorf("VerifyDigest = %v, want ErrBadSignature", err)
				}
			}
		})
	}
	if err := v.VerifyDigest(ChunkMeta{m.Seq, m.TimestampUs, m.Flags, m.Length + 1}, digest, sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyDigest with another length = %v, want ErrBadSignature", err)
	}
}

func TestSignEdgeCases(t *testing.T) {
	priv := testKey(6)
	s, err := NewSigner(priv, Hash{})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(priv.Public().(ed25519.PublicKey), Hash{})
	sig, err := s.Sign(ChunkMeta{Seq: 1}, nil)
	if err != nil {
		t.Fatalf("empty chunk: %v", err)
	}
	if err := v.Verify(ChunkMeta{Seq: 1}, []byte{}, sig); err != nil {
		t.Errorf("empty chunk: %v", err)
	}
	if _, err := s.Sign(ChunkMeta{Length: 3}, []byte("ab")); !errors.Is(err, ErrLength) {
		t.Errorf("Sign with wrong length = %v, want ErrLength", err)
	}
}

func TestKeyErrors(t *testing.T) {
	priv := testKey(7)
	mismatched := bytes.Clone(priv)
	copy(mismatched[ed25519.SeedSize:], testKey(8)[ed25519.SeedSize:])
	for name, k := range map[string]ed25519.PrivateKey{
		"nil":               nil,
		"seed only":         priv.Seed(),
		"one byte short":    priv[:63],
		"public half wrong": mismatched,
	} {
		if _, err := NewSigner(k, Hash{}); !errors.Is(err, ErrKey) {
			t.Errorf("NewSigner(%s) = %v, want ErrKey", name, err)
		}
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := NewVerifier(make([]byte, n), Hash{}); !errors.Is(err, ErrKey) {
			t.Errorf("NewVerifier(%d bytes) = %v, want ErrKey", n, err)
		}
	}
	// The signer keeps its own copy of the key.
	k := bytes.Clone(priv)
	s, _ := NewSigner(k, Hash{})
	clear(k)
	v, _ := NewVerifier(priv.Public().(ed25519.PublicKey), Hash{})
	if sig, _ := s.Sign(ChunkMeta{}, nil); v.Verify(ChunkMeta{}, nil, sig) != nil {
		t.Error("signer changed with the caller's key slice")
	}
}

// FuzzVerify feeds arbitrary keys, metadata, data and signatures to the
// verifier, and checks against a real signature that only the signed chunk
// verifies.
func FuzzVerify(f *testing.F) {
	priv := testKey(9)
	pub := priv.Public().(ed25519.PublicKey)
	swarm := SwarmID(pub, "fuzz")
	s, _ := NewSigner(priv, swarm)
	real, _ := NewVerifier(pub, swarm)
	data := []byte("signed chunk")
	m := ChunkMeta{Seq: 7, TimestampUs: 1000, Flags: 1, Length: uint32(len(data))}
	sig, _ := s.Sign(m, data)
	f.Add([]byte(pub), swarm[:], m.Seq, m.TimestampUs, m.Flags, m.Length, data, sig[:], true)
	f.Add([]byte{1, 2}, []byte{}, uint64(0), int64(0), uint8(0), uint32(0), []byte{}, []byte{}, false)
	f.Fuzz(func(t *testing.T, pubBytes, swarmBytes []byte, seq uint64, ts int64, flags uint8, length uint32, body, sigBytes []byte, useReal bool) {
		var sw Hash
		copy(sw[:], swarmBytes)
		var sg [SignatureSize]byte
		copy(sg[:], sigBytes)
		fm := ChunkMeta{Seq: seq, TimestampUs: ts, Flags: flags, Length: length}
		v := real
		if !useReal {
			var err error
			if v, err = NewVerifier(pubBytes, sw); err != nil {
				if !errors.Is(err, ErrKey) {
					t.Fatalf("NewVerifier error %v is not ErrKey", err)
				}
				return
			}
		}
		err := v.Verify(fm, body, sg)
		if err != nil && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrLength) {
			t.Fatalf("Verify error %v wraps no sentinel", err)
		}
		if err == nil && useReal && (fm != m || !bytes.Equal(body, data)) {
			t.Fatalf("forged chunk %+v verified", fm)
		}
		derr := v.VerifyDigest(fm, sha256.Sum256(body), sg)
		if (err == nil) != (derr == nil) && !errors.Is(err, ErrLength) {
			t.Fatalf("Verify = %v but VerifyDigest = %v", err, derr)
		}
	})
}
