package metrics

import (
	"cellc/internal/atomicfile"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// XY is one point of a series.
type XY struct{ X, Y float64 }

// Image sizes and resolution of the PNGs.
const (
	plotWidth  = 9 * vg.Inch
	curvesH    = 8 * vg.Inch
	seriesH    = 5.5 * vg.Inch
	plotDPI    = 100
	maxMarkers = 60 // series with at most this many points also get markers
)

// PlotCurves writes a PNG to path with two panels against epoch: the
// training loss (records of split Train) above, and the top-1 accuracy in
// percent of every other split (Val, Test, ...) below. Non-finite values
// are left out. The file is replaced atomically.
func PlotCurves(path string, records []Record, title string) error {
	var loss []XY
	acc := map[string][]XY{}
	for _, r := range records {
		if r.Split == Train {
			loss = append(loss, XY{r.Epoch, r.Loss})
		} else {
			acc[r.Split] = append(acc[r.Split], XY{r.Epoch, 100 * r.Top1})
		}
	}
	if len(loss) == 0 && len(acc) == 0 {
		return fmt.Errorf("metrics: plot %s: no records", path)
	}
	byEpoch := func(a, b XY) int { return cmpFloat(a.X, b.X) }
	slices.SortStableFunc(loss, byEpoch)
	for k := range acc {
		slices.SortStableFunc(acc[k], byEpoch)
	}

	top, nTop, err := newPlot(title, "epoch", "training loss", map[string][]XY{"train loss": loss})
	if err != nil {
		return fmt.Errorf("metrics: plot %s: %w", path, err)
	}
	bottom, nBottom, err := newPlot("", "epoch", "top-1 accuracy (%)", acc)
	if err != nil {
		return fmt.Errorf("metrics: plot %s: %w", path, err)
	}
	bottom.Legend.Top = false // accuracy rises: keep the legend out of its way
	if nBottom == 0 {
		bottom.Y.Min, bottom.Y.Max = 0, 100
	}
	// Share the epoch range so the panels line up.
	switch {
	case nTop > 0 && nBottom > 0:
		lo, hi := math.Min(top.X.Min, bottom.X.Min), math.Max(top.X.Max, bottom.X.Max)
		top.X.Min, bottom.X.Min, top.X.Max, bottom.X.Max = lo, lo, hi, hi
	case nTop > 0:
		bottom.X.Min, bottom.X.Max = top.X.Min, top.X.Max
	case nBottom > 0:
		top.X.Min, top.X.Max = bottom.X.Min, bottom.X.Max
	}

	return writePNG(path, plotWidth, curvesH, func(dc draw.Canvas) {
		tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(12), PadY: vg.Points(12)}
		cs := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
		top.Draw(cs[0][0])
		bottom.Draw(cs[1][0])
	})
}

// PlotSeries writes a PNG to path with one line per series, named in the
// legend and drawn in name order. Points are joined in the order given;
// non-finite points are left out. The file is replaced atomically.
func PlotSeries(path, title, xlabel, ylabel string, series map[string][]XY) error {
	n := 0
	for _, pts := range series {
		n += len(pts)
	}
	if n == 0 {
		return fmt.Errorf("metrics: plot %s: no points", path)
	}
	p, _, err := newPlot(title, xlabel, ylabel, series)
	if err != nil {
		return fmt.Errorf("metrics: plot %s: %w", path, err)
	}
	return writePNG(path, plotWidth, seriesH, func(dc draw.Canvas) {
		p.Draw(draw.Crop(dc, vg.Points(4), -vg.Points(12), vg.Points(4), -vg.Points(4)))
	})
}

// newPlot makes one panel with a line per series that has finite points,
// and says how many it drew.
func newPlot(title, xlabel, ylabel string, series map[string][]XY) (*plot.Plot, int, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 220}
	grid.Horizontal.Color = color.Gray{Y: 220}
	p.Add(grid)

	names := make([]string, 0, len(series))
	for k := range series {
		names = append(names, k)
	}
	slices.Sort(names)
	drawn := 0
	for i, name := range names {
		var pts plotter.XYs
		for _, q := range series[name] {
			if isFinite(q.X) && isFinite(q.Y) {
				pts = append(pts, plotter.XY{X: q.X, Y: q.Y})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, 0, fmt.Errorf("series %q: %w", name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		if len(pts) <= maxMarkers {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, 0, fmt.Errorf("series %q: %w", name, err)
			}
			sc.GlyphStyle.Color = line.Color
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			sc.GlyphStyle.Radius = vg.Points(2)
			p.Add(sc)
			p.Legend.Add(legendName(name), line, sc)
		} else {
			p.Legend.Add(legendName(name), line)
		}
		drawn++
	}
	if drawn == 0 {
		// An empty panel still needs a sane range to draw its axes.
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	}
	return p, drawn, nil
}

func legendName(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(unnamed)"
	}
	return s
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writePNG renders draw onto a w×h canvas and writes it to path as a PNG,
// atomically. A panic inside the plotting library becomes an error.
func writePNG(path string, w, h vg.Length, drawFn func(draw.Canvas)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("metrics: plot %s: %v", path, r)
		}
	}()
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	drawFn(dc)
	if err := writeFileAtomic(path, func(f io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(f)
		return err
	}); err != nil {
		return fmt.Errorf("metrics: plot %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes path so that it never holds a partial file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, write)
}
