package sim

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func testPanels() []Panel {
	var x, y1, y2, y3 []float64
	for i := range 200 {
		v := float64(i) / 10
		x = append(x, v)
		y1 = append(y1, math.Sin(v))
		y2 = append(y2, math.Cos(v))
		y3 = append(y3, v*v)
	}
	y3[17] = math.NaN() // skipped, not an error
	return []Panel{
		{Title: "share", YLabel: "fraction", Series: []Series{{Name: "sin", X: x, Y: y1}, {Name: "cos", X: x, Y: y2}}},
		{Title: "delay", YLabel: "seconds", Series: []Series{{Name: "square", X: x, Y: y3}}},
		{Title: "empty", YLabel: "none"},
	}
}

func TestWritePlot(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		file  string
		check func([]byte) bool
	}{
		{"run.svg", func(b []byte) bool {
			return (bytes.HasPrefix(b, []byte("<?xml")) || bytes.HasPrefix(b, []byte("<svg"))) &&
				bytes.Contains(b, []byte("</svg>"))
		}},
		{"run.png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }},
		{"RUN.PNG", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.file)
		if err := WritePlot(path, "test run", "time (s)", testPanels()); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 1000 || !tt.check(b) {
			t.Errorf("%s: %d bytes, not a valid file of its kind", tt.file, len(b))
		}
	}
}

func TestWritePlotErrors(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"run.pdf", "run", "run.svg.txt"} {
		path := filepath.Join(dir, name)
		if err := WritePlot(path, "t", "x", testPanels()); !errors.Is(err, ErrPlotFormat) {
			t.Errorf("%s: err = %v, want ErrPlotFormat", name, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s: file written despite the error", name)
		}
	}
	bad := []Panel{{Series: []Series{{X: []float64{1, 2}, Y: []float64{1}}}}}
	if err := WritePlot(filepath.Join(dir, "bad.svg"), "t", "x", bad); !errors.Is(err, ErrPlotData) {
		t.Errorf("mismatched series: err = %v, want ErrPlotData", err)
	}
	if err := WritePlot(filepath.Join(dir, "none.svg"), "t", "x", nil); !errors.Is(err, ErrPlotData) {
		t.Errorf("no panels: err = %v, want ErrPlotData", err)
	}
	if err := WritePlot(filepath.Join(dir, "missing", "dir.svg"), "t", "x", testPanels()); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
