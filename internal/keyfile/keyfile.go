package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// pemType is the PEM block type of a PKCS #8 private key, as written by
// `openssl genpkey -algorithm ed25519`.
const pemType = "PRIVATE KEY"

// LoadOrCreate returns the origin's Ed25519 private key kept at path. If
// no file is there it creates one, readable by its owner only (0600), with a
// new key in PKCS #8 PEM, and creates missing parent directories (0700). An
// existing file may hold PKCS #8 PEM, a raw 32-byte seed, or the seed as 64
// hex digits. It returns the read error, wrapped, when the file cannot be
// read, and ErrKey when it holds no Ed25519 key.
func LoadOrCreate(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return parseKeyFile(path, b)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("integrity: read key file: %w", err)
	}
	priv, err := createKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it in the meantime: use theirs.
		if b, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("integrity: read key file: %w", err)
		}
		return parseKeyFile(path, b)
	}
	return priv, err
}

func parseKeyFile(path string, b []byte) (ed25519.PrivateKey, error) {
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != pemType {
			return nil, fmt.Errorf("%w: key file %s holds a PEM %q block, want %q", ErrKey, path, block.Type, pemType)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: key file %s: %v", ErrKey, path, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: key file %s holds a %T, want an Ed25519 key", ErrKey, path, k)
		}
		return priv, nil
	}
	if len(b) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(b), nil
	}
	if t := bytes.TrimSpace(b); len(t) == hex.EncodedLen(ed25519.SeedSize) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := hex.Decode(seed, t); err == nil {
			return ed25519.NewKeyFromSeed(seed), nil
		}
	}
	return nil, fmt.Errorf("%w: key file %s (%d bytes) holds neither PKCS #8 PEM, a 32-byte seed nor 64 hex digits", ErrKey, path, len(b))
}

// createKeyFile writes a new key to path, failing with fs.ErrExist if a file
// is already there, and removes what it wrote if it fails after creating it.
func createKeyFile(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("integrity: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("integrity: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("integrity: create key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("integrity: create key file: %w", err)
	}
	_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("integrity: write key file: %w", err)
	}
	return priv, nil
}
