package integrity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"
)

func BenchmarkLeafHash(b *testing.B) {
	block := randomBytes(1, LeafSize)
	b.SetBytes(LeafSize)
	for b.Loop() {
		LeafHash(block)
	}
}

// BenchmarkBuildTree hashes 64 MiB held in memory, on one worker and on
// GOMAXPROCS workers; the ratio of the two is the parallel gain.
func BenchmarkBuildTree(b *testing.B) {
	const size = 64 << 20
	data := randomBytes(2, size)
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
			b.SetBytes(size)
			for b.Loop() {
				if _, err := BuildTree(bytes.NewReader(data), size, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewTree(b *testing.B) {
	leaves := make([]Hash, 1<<16) // a 1 GiB file
	for i := range leaves {
		leaves[i] = LeafHash([]byte{byte(i), byte(i >> 8)})
	}
	for b.Loop() {
		if _, err := NewTree(leaves, int64(len(leaves))*LeafSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyProof(b *testing.B) {
	const size = 1000 * LeafSize
	data := randomBytes(3, size)
	tree, err := BuildTree(bytes.NewReader(data), size, nil)
	if err != nil {
		b.Fatal(err)
	}
	const i = 617
	block, proof, root := data[i*LeafSize:(i+1)*LeafSize], tree.Proof(i), tree.Root()
	b.SetBytes(LeafSize)
	for b.Loop() {
		if err := VerifyProof(root, size, i, block, proof); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyLeaves(b *testing.B) {
	const size = 1 << 30
	leaves := make([]Hash, NumLeaves(size))
	for i := range leaves {
		leaves[i] = LeafHash([]byte{byte(i), byte(i >> 8)})
	}
	tree, _ := NewTree(leaves, size)
	root := tree.Root()
	for b.Loop() {
		if err := VerifyLeaves(root, size, leaves); err != nil {
			b.Fatal(err)
		}
	}
}

// liveBench returns a signer, a verifier and a signed 16 KiB chunk.
func liveBench(b *testing.B) (*Signer, *Verifier, ChunkMeta, []byte, [SignatureSize]byte) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	swarm := SwarmID(pub, "bench")
	s, err := NewSigner(priv, swarm)
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(pub, swarm)
	if err != nil {
		b.Fatal(err)
	}
	data := randomBytes(5, LeafSize)
	m := ChunkMeta{Seq: 1, TimestampUs: 2, Flags: 1, Length: LeafSize}
	sig, err := s.Sign(m, data)
	if err != nil {
		b.Fatal(err)
	}
	return s, v, m, data, sig
}

func BenchmarkSign(b *testing.B) {
	s, _, m, data, _ := liveBench(b)
	b.SetBytes(LeafSize)
	for b.Loop() {
		if _, err := s.Sign(m, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	_, v, m, data, sig := liveBench(b)
	b.SetBytes(LeafSize)
	for b.Loop() {
		if err := v.Verify(m, data, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDigest(b *testing.B) {
	_, v, m, data, sig := liveBench(b)
	digest := Hash(sha256.Sum256(data))
	for b.Loop() {
		if err := v.VerifyDigest(m, digest, sig); err != nil {
			b.Fatal(err)
		}
	}
}
