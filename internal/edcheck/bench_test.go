package edcheck

import (
	"crypto/ed25519"
	"testing"
)

// benchSig is a signature of a message the size of a live chunk's signed
// message (99 bytes).
func benchSig() (ed25519.PublicKey, []byte, [64]byte) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	msg := make([]byte, 99)
	return priv.Public().(ed25519.PublicKey), msg, [64]byte(ed25519.Sign(priv, msg))
}

func BenchmarkCheck(b *testing.B) {
	pub, msg, sig := benchSig()
	for b.Loop() {
		if !Check(pub, msg, &sig) {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkStdlib is the same check by crypto/ed25519, for comparison.
func BenchmarkStdlib(b *testing.B) {
	pub, msg, sig := benchSig()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig[:]) {
			b.Fatal("rejected")
		}
	}
}
