package origin

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/shoalstream/shoal/internal/integrity"
)

// BenchmarkHashFile hashes one 256 MiB file (read from the page cache after
// the first pass) three ways in the same run, so their MB/s compare: the
// hash tree alone, publishing (tree, rate probe and file handling), and
// sha256sum, the speed users know.
//
//	go test -run '^$' -bench HashFile -benchtime 5x ./internal/origin/
func BenchmarkHashFile(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	path := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(path, testBytes(1, size), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("BuildTree", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			fh, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := integrity.BuildTree(fh, size, nil); err != nil {
				b.Fatal(err)
			}
			fh.Close()
		}
	})
	b.Run("PublishFile", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := NewFiles(FileConfig{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.PublishFile(b.Context(), path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sha256sum", func(b *testing.B) {
		if _, err := exec.LookPath("sha256sum"); err != nil {
			b.Skip("sha256sum not found")
		}
		b.SetBytes(size)
		for b.Loop() {
			out, err := exec.Command("sha256sum", path).Output()
			if err != nil || !bytes.Contains(out, []byte("big.bin")) {
				b.Fatalf("sha256sum: %v %s", err, out)
			}
		}
	})
}
