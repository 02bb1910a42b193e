package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ErrPlotFormat is returned by WritePlot for a path that does not end in
// .svg or .png.
var ErrPlotFormat = errors.New("plot format must be .svg or .png")

// ErrPlotData is returned by WritePlot for data it cannot draw.
var ErrPlotData = errors.New("bad plot data")

// Series is one line of a panel.
type Series struct {
	Name string
	X, Y []float64
}

// Panel is one plot of a figure; panels are stacked and share the x axis.
type Panel struct {
	Title, YLabel string
	Series        []Series
}

const (
	plotWidth       = 10 * vg.Inch
	plotPanelHeight = 3 * vg.Inch
	plotTitleHeight = 0.5 * vg.Inch
)

// WritePlot draws panels stacked vertically over one shared x axis and writes
// the figure to path: SVG when it ends in .svg, PNG when it ends in .png.
func WritePlot(path string, title string, xLabel string, panels []Panel) error {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".svg" && ext != ".png" {
		return fmt.Errorf("sim: write plot %q: extension %q: %w", path, ext, ErrPlotFormat)
	}
	if len(panels) == 0 {
		return fmt.Errorf("sim: write plot %q: no panels: %w", path, ErrPlotData)
	}
	plots, err := buildPlots(xLabel, panels)
	if err != nil {
		return fmt.Errorf("sim: write plot %q: %w", path, err)
	}

	height := plotTitleHeight + plotPanelHeight*vg.Length(len(panels))
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	if ext == ".svg" {
		c = vgsvg.New(plotWidth, height)
	} else {
		c = vgimg.PngCanvas{Canvas: vgimg.New(plotWidth, height)}
	}
	dc := draw.New(c)

	titleStyle := plot.New().Title.TextStyle
	titleStyle.Font.Size = vg.Points(16)
	dc.FillText(titleStyle, vg.Point{X: dc.Center().X, Y: dc.Max.Y - vg.Points(6)}, title)
	body := draw.Crop(dc, 0, 0, 0, -plotTitleHeight)

	tiles := draw.Tiles{
		Rows: len(plots), Cols: 1,
		PadY:   vg.Points(12),
		PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(12),
	}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, body)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("sim: write plot: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("sim: write plot %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sim: write plot %q: %w", path, err)
	}
	return nil
}

// buildPlots makes one plot per panel with the same x range.
func buildPlots(xLabel string, panels []Panel) ([]*plot.Plot, error) {
	xMin, xMax := math.Inf(1), math.Inf(-1)
	plots := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		p.Y.Label.Text = pn.YLabel
		if i == len(panels)-1 {
			p.X.Label.Text = xLabel
		}
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Legend.Left = true
		for k, s := range pn.Series {
			if len(s.X) != len(s.Y) {
				return nil, fmt.Errorf("panel %q series %q: %d x values, %d y values: %w",
					pn.Title, s.Name, len(s.X), len(s.Y), ErrPlotData)
			}
			xys := make(plotter.XYs, 0, len(s.X))
			for j := range s.X {
				if !finite(s.X[j]) || !finite(s.Y[j]) {
					continue // skipped: a missing sample must not fail a report
				}
				xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
				xMin, xMax = min(xMin, s.X[j]), max(xMax, s.X[j])
			}
			if len(xys) == 0 {
				continue
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("panel %q series %q: %w", pn.Title, s.Name, err)
			}
			l.Color = plotutil.Color(k)
			l.Width = vg.Points(1.2)
			p.Add(l)
			if s.Name != "" {
				p.Legend.Add(s.Name, l)
			}
		}
		plots[i] = p
	}
	if xMin <= xMax {
		for _, p := range plots {
			p.X.Min, p.X.Max = xMin, xMax
		}
	}
	return plots, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
