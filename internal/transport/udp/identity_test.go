package udp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestIdentityKnownKey(t *testing.T) {
	// RFC 7748, section 6.1: Alice's key pair.
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	wantPub, _ := hex.DecodeString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	id, err := NewIdentity(bytes.NewReader(priv))
	if err != nil {
		t.Fatal(err)
	}
	pub := id.PublicKey()
	if !bytes.Equal(pub[:], wantPub) {
		t.Fatalf("public key %x, want %x", pub, wantPub)
	}
	if id.PeerID() != PeerID(sha256.Sum256(wantPub)) {
		t.Errorf("PeerID is not SHA-256 of the public key")
	}
	if _, err := NewIdentity(bytes.NewReader(priv[:10])); err == nil {
		t.Error("NewIdentity accepted a short random source")
	}
}

func TestPeerIDText(t *testing.T) {
	id := mustIdentity(t).PeerID()
	s := id.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q", s)
	}
	back, err := ParsePeerID(s)
	if err != nil || back != id {
		t.Fatalf("ParsePeerID(%q) = %v, %v", s, back, err)
	}
	for _, bad := range []string{"", s[:63], s + "0", strings.Replace(s, s[:1], "g", 1)} {
		if _, err := ParsePeerID(bad); err == nil {
			t.Errorf("ParsePeerID(%q) succeeded", bad)
		}
	}
}

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity")
	id, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	again, err := LoadOrCreateIdentity(path)
	if err != nil || again != id {
		t.Fatalf("second load: %v (same %v)", err, again == id)
	}
	raw, _ := os.ReadFile(path)
	if len(raw) != 65 || raw[64] != '\n' {
		t.Errorf("file holds %q", raw)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left in the directory, want 1", len(entries))
	}
}

func TestLoadOrCreateIdentityConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity")
	ids := make([]Identity, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := LoadOrCreateIdentity(path)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatal("concurrent creators ended with different identities")
		}
	}
}

func TestLoadIdentityErrors(t *testing.T) {
	good := strings.Repeat("ab", 32) + "\n"
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		dir     bool
		badID   bool // want ErrBadIdentity
	}{
		{"short", "abcd\n", 0o600, false, true},
		{"not hex", strings.Repeat("zz", 32), 0o600, false, true},
		{"empty", "", 0o600, false, true},
		{"too long", good + good, 0o600, false, true},
		{"readable by others", good, 0o644, false, true},
		{"a directory", "", 0o700, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("Windows has no Unix modes")
			}
			path := filepath.Join(t.TempDir(), "identity")
			if tt.dir {
				if err := os.Mkdir(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, tt.mode) // past the umask
			}
			_, err := LoadOrCreateIdentity(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.badID != errors.Is(err, ErrBadIdentity) {
				t.Errorf("err = %v; ErrBadIdentity wanted: %v", err, tt.badID)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !tt.dir {
				if raw, _ := os.ReadFile(path); string(raw) != tt.content {
					t.Error("a bad identity file was overwritten")
				}
			}
		})
	}
	if _, err := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "missing", "identity")); err == nil {
		t.Error("created an identity in a missing directory")
	}
}
