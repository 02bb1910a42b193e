package keyfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateCreatesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "shoal", "origin.key")
	first, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != ed25519.PrivateKeySize {
		t.Fatalf("key is %d bytes", len(first))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if block, _ := pem.Decode(b); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("key file is not PKCS #8 PEM:\n%s", b)
	}
	again, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("second call returned another key")
	}
	other, err := LoadOrCreate(filepath.Join(t.TempDir(), "origin.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, other) {
		t.Error("two new key files hold the same key")
	}
}

func TestLoadOrCreateFormats(t *testing.T) {
	want := testKey(10)
	der, err := x509.MarshalPKCS8PrivateKey(want)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	tests := []struct {
		name    string
		content []byte
		wantErr error
	}{
		{"pkcs8 pem", pemOf("PRIVATE KEY", der), nil},
		{"raw seed", want.Seed(), nil},
		{"hex seed", []byte(hex.EncodeToString(want.Seed()) + "\n"), nil},
		{"empty", nil, ErrKey},
		{"garbage", []byte("not a key at all"), ErrKey},
		{"seed one byte short", want.Seed()[1:], ErrKey},
		{"hex with a bad digit", []byte("x" + hex.EncodeToString(want.Seed())[1:]), ErrKey},
		{"wrong pem type", pemOf("EC PRIVATE KEY", der), ErrKey},
		{"broken pkcs8", pemOf("PRIVATE KEY", der[:20]), ErrKey},
		{"ecdsa key", pemOf("PRIVATE KEY", ecDER), ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "origin.key")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreate(path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				if b, _ := os.ReadFile(path); !bytes.Equal(b, tt.content) {
					t.Error("a malformed key file was overwritten")
				}
				return
			}
			if !bytes.Equal(got, want) {
				t.Error("loaded another key")
			}
		})
	}
}

func TestLoadOrCreateUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadOrCreate(dir)
	if err == nil || errors.Is(err, ErrKey) || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory as key file: err = %v, want a read error naming it", err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(filepath.Join(blocker, "origin.key")); err == nil {
		t.Error("key under a regular file: no error")
	}
}

// TestLoadOrCreateOpenSSL checks that a key made by openssl loads and
// that ours reads back in openssl with the same public key.
func TestLoadOrCreateOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed; the PEM interop check needs it")
	}
	dir := t.TempDir()
	theirs := filepath.Join(dir, "theirs.pem")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", theirs).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	if _, err := LoadOrCreate(theirs); err != nil {
		t.Errorf("openssl key: %v", err)
	}
	ours := filepath.Join(dir, "ours.pem")
	priv, err := LoadOrCreate(ours)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkey", "-in", ours, "-pubout", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub.(ed25519.PublicKey), priv.Public().(ed25519.PublicKey)) {
		t.Error("openssl derives another public key from our key file")
	}
}

func testKey(b byte) ed25519.PrivateKey {
	seed := bytes.Repeat([]byte{b}, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}
