package udp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/flynn/noise"
	"golang.org/x/crypto/curve25519"
)

// ErrBadIdentity is wrapped when an identity file cannot be used.
var ErrBadIdentity = errors.New("udp: bad identity file")

// PeerID names a peer: the SHA-256 of its static X25519 public key.
type PeerID [32]byte

// String returns the ID in lowercase hex.
func (p PeerID) String() string { return hex.EncodeToString(p[:]) }

// ParsePeerID parses the form String returns.
func ParsePeerID(s string) (PeerID, error) {
	var p PeerID
	if len(s) != 2*len(p) {
		return p, fmt.Errorf("udp: peer ID %q: want %d hex digits", s, 2*len(p))
	}
	if _, err := hex.Decode(p[:], []byte(s)); err != nil {
		return p, fmt.Errorf("udp: peer ID %q: %w", s, err)
	}
	return p, nil
}

// PeerIDFromPublicKey returns the PeerID of a static public key.
func PeerIDFromPublicKey(pub [32]byte) PeerID { return sha256.Sum256(pub[:]) }

// Identity is a peer's static X25519 key pair. The zero value is not usable.
type Identity struct {
	private [32]byte
	public  [32]byte
}

// NewIdentity draws a new static key from r (crypto/rand when r is nil).
func NewIdentity(r io.Reader) (Identity, error) {
	if r == nil {
		r = rand.Reader
	}
	var priv [32]byte
	if _, err := io.ReadFull(r, priv[:]); err != nil {
		return Identity{}, fmt.Errorf("udp: new identity: %w", err)
	}
	return identityFromPrivate(priv)
}

func identityFromPrivate(priv [32]byte) (Identity, error) {
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		return Identity{}, fmt.Errorf("udp: identity: %w", err)
	}
	id := Identity{private: priv}
	copy(id.public[:], pub)
	return id, nil
}

// PublicKey returns the static public key.
func (id Identity) PublicKey() [32]byte { return id.public }

// PeerID returns the ID other peers see for this identity.
func (id Identity) PeerID() PeerID { return PeerIDFromPublicKey(id.public) }

// IsZero reports whether id is the unusable zero value.
func (id Identity) IsZero() bool { return id == Identity{} }

func (id Identity) dhKey() noise.DHKey {
	return noise.DHKey{Private: bytes.Clone(id.private[:]), Public: bytes.Clone(id.public[:])}
}

// LoadOrCreateIdentity reads the static key kept at path, or creates the
// file (mode 0600) with a new key when it does not exist. The file holds the
// private key as 64 hex digits and a newline. A file others can read or
// write is refused on Unix, as is one that does not hold a key.
func LoadOrCreateIdentity(path string) (Identity, error) {
	id, err := loadIdentity(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	id, err = NewIdentity(nil)
	if err != nil {
		return Identity{}, err
	}
	err = createIdentityFile(path, id)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; use theirs.
		return loadIdentity(path)
	}
	if err != nil {
		return Identity{}, err
	}
	return id, nil
}

func loadIdentity(path string) (Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Identity{}, err
		}
		return Identity{}, fmt.Errorf("udp: identity %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Identity{}, fmt.Errorf("udp: identity %s: %w", path, err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return Identity{}, fmt.Errorf("udp: identity %s has mode %v, others may read it; run chmod 600 on it: %w",
			path, st.Mode().Perm(), ErrBadIdentity)
	}
	raw, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return Identity{}, fmt.Errorf("udp: identity %s: %w", path, err)
	}
	text := bytes.TrimSpace(raw)
	var priv [32]byte
	if len(text) != hex.EncodedLen(len(priv)) {
		return Identity{}, fmt.Errorf("udp: identity %s: want %d hex digits, found %d bytes: %w",
			path, hex.EncodedLen(len(priv)), len(text), ErrBadIdentity)
	}
	if _, err := hex.Decode(priv[:], text); err != nil {
		return Identity{}, fmt.Errorf("udp: identity %s: %v: %w", path, err, ErrBadIdentity)
	}
	id, err := identityFromPrivate(priv)
	if err != nil {
		return Identity{}, fmt.Errorf("udp: identity %s: %v: %w", path, err, ErrBadIdentity)
	}
	return id, nil
}

// createIdentityFile writes the key to a temporary file and links it into
// place, so a reader never sees a half-written key and an existing file is
// never replaced (the link fails with fs.ErrExist).
func createIdentityFile(path string, id Identity) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".identity-*")
	if err != nil {
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	text := hex.EncodeToString(id.private[:]) + "\n"
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	err = os.Link(tmpName, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// Some file systems have no hard links; fall back to an exclusive create.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("udp: identity %s: %w", path, err)
	}
	return nil
}
