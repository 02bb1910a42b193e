package edcheck

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"

	"github.com/shoalstream/shoal/internal/integrity"
)

// order8 is a point of order 8; its multiples are the whole torsion group.
var order8 = mustHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// torsion returns i times the point of order 8.
func torsion(i int) *edwards25519.Point {
	t, _ := new(edwards25519.Point).SetBytes(order8)
	p := edwards25519.NewIdentityPoint()
	for range i {
		p.Add(p, t)
	}
	return p
}

// signWithTorsion signs msg under seed's key with R shifted by a torsion
// point: [S]B − [k]A is then R − T, which the cofactorless check rejects
// and a cofactored one would accept.
func signWithTorsion(seed []byte, msg []byte, tor int, rng *rand.Rand) (pub, sig []byte) {
	h := sha512.Sum512(seed)
	a, _ := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	pub = new(edwards25519.Point).ScalarBaseMult(a).Bytes()
	var rb [64]byte
	for i := range rb {
		rb[i] = byte(rng.Uint32())
	}
	r, _ := edwards25519.NewScalar().SetUniformBytes(rb[:])
	R := new(edwards25519.Point).ScalarBaseMult(r)
	R.Add(R, torsion(tor))
	rBytes := R.Bytes()
	kh := sha512.New()
	kh.Write(rBytes)
	kh.Write(pub)
	kh.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	s := edwards25519.NewScalar().MultiplyAdd(k, a, r)
	return pub, append(rBytes, s.Bytes()...)
}

// checkAgrees fails when the fixed-base check and crypto/ed25519 disagree.
func checkAgrees(t *testing.T, what string, pub, msg, sig []byte) bool {
	t.Helper()
	want := ed25519.Verify(pub, msg, sig)
	got := Check(pub, msg, (*[64]byte)(sig))
	if got != want {
		t.Fatalf("%s: fixed-base says %v, crypto/ed25519 says %v\npub %x\nmsg %x\nsig %x", what, got, want, pub, msg, sig)
	}
	return want
}

// TestFixedVerifyAgrees compares the fixed-base check with crypto/ed25519
// on valid signatures, corrupted ones, non-canonical encodings and points
// with torsion components.
func TestFixedVerifyAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	accepted := 0
	for i := range 300 {
		seed := make([]byte, ed25519.SeedSize)
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		msg := make([]byte, rng.IntN(200))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		sig := ed25519.Sign(priv, msg)
		if checkAgrees(t, "valid", pub, msg, sig) {
			accepted++
		}
		// one bit flipped anywhere in the signature, the key or the message
		for _, target := range [][]byte{sig, pub, msg} {
			if len(target) == 0 {
				continue
			}
			c := append([]byte(nil), target...)
			c[rng.IntN(len(c))] ^= 1 << rng.IntN(8)
			switch {
			case &target[0] == &sig[0]:
				checkAgrees(t, "sig bit", pub, msg, c)
			case &target[0] == &pub[0]:
				checkAgrees(t, "key bit", c, msg, sig)
			default:
				checkAgrees(t, "msg bit", pub, c, sig)
			}
		}
		// S + L: the same value, not canonical
		s, _ := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
		sl := addL(s.Bytes())
		checkAgrees(t, "S+L", pub, msg, append(append([]byte(nil), sig[:32]...), sl...))
		// R with a torsion component, signed by the key holder
		tpub, tsig := signWithTorsion(seed, msg, 1+i%7, rng)
		checkAgrees(t, "torsion in R", tpub, msg, tsig)
		// a public key with a torsion component
		a, _ := new(edwards25519.Point).SetBytes(pub)
		mixed := new(edwards25519.Point).Add(a, torsion(1+i%7)).Bytes()
		checkAgrees(t, "torsion in A", mixed, msg, sig)
		// R not canonical: y = p + j, below 2^255
		if i < 20 {
			r := append([]byte(nil), sig...)
			r[0], r[31] = byte(0xed+i%19), 0x7f
			for j := 1; j < 31; j++ {
				r[j] = 0xff
			}
			checkAgrees(t, "R near p", pub, msg, r)
		}
	}
	if accepted != 300 {
		t.Fatalf("%d of 300 valid signatures accepted", accepted)
	}
	// small-order keys and R
	for i := range 8 {
		pt := torsion(i).Bytes()
		msg := []byte("small order")
		sig := append(append([]byte(nil), pt...), make([]byte, 32)...)
		checkAgrees(t, "small-order key and R, S=0", pt, msg, sig)
	}
}

// addL returns s + L (s canonical, little-endian): below 2^256 when s is
// small enough, so a non-canonical S with the same value.
func addL(s []byte) []byte {
	l := mustHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	out := make([]byte, 32)
	carry := 0
	for i := range 32 {
		v := int(s[i]) + int(l[i]) + carry
		out[i], carry = byte(v), v>>8
	}
	return out
}

func FuzzFixedVerify(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte("shoal")
	f.Add([]byte(pub), msg, ed25519.Sign(priv, msg))
	tpub, tsig := signWithTorsion(make([]byte, 32), msg, 4, rand.New(rand.NewPCG(1, 1)))
	f.Add(tpub, msg, tsig)
	f.Add(order8, msg, append(append([]byte(nil), order8...), make([]byte, 32)...))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return
		}
		checkAgrees(t, "fuzz", pub, msg, sig)
	})
}

// Integrity accepts a live chunk the origin signed and rejects it with one
// bit of its data or signature changed.
func TestIntegrityVerifyLive(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	pub := priv.Public().(ed25519.PublicKey)
	id := integrity.SwarmID(pub, "test")
	signer, err := integrity.NewSigner(priv, id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := integrity.NewVerifier(pub, id)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a live chunk")
	m := integrity.ChunkMeta{Seq: 7, TimestampUs: 1, Flags: 1, Length: uint32(len(data))}
	sig, err := signer.Sign(m, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Integrity{}).VerifyLive(v, m, data, sig); err != nil {
		t.Fatalf("signed chunk rejected: %v", err)
	}
	bad := append([]byte(nil), data...)
	bad[0] ^= 1
	if err := (Integrity{}).VerifyLive(v, m, bad, sig); !errors.Is(err, integrity.ErrBadSignature) {
		t.Errorf("changed data: %v, want ErrBadSignature", err)
	}
	sig[5] ^= 1
	if err := (Integrity{}).VerifyLive(v, m, data, sig); !errors.Is(err, integrity.ErrBadSignature) {
		t.Errorf("changed signature: %v, want ErrBadSignature", err)
	}
}
