package serve

import (
	"math"
	"sort"
	"strconv"

	searchrun "cellc/search/run"
)

// xy is a chart point, [x, y] in JSON (y null when not finite: a gap).
type xy struct{ X, Y float64 }

func (p xy) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	b = strconv.AppendFloat(b, p.X, 'g', -1, 64)
	b = append(b, ',')
	if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, p.Y, 'g', -1, 64)
	}
	return append(b, ']'), nil
}

// curveData is Figure 6 for one search, in full; curveJSON downsamples
// it per request.
type curveData struct {
	series  map[int][]xy // k -> mean reward of the top k among the first x
	scatter []xy         // each trained architecture's reward
	failed  int
	xmax    float64
}

// computeCurve follows search/run's Curves (the paper's Figure 6): x
// counts proposals, repeats included, from the proposal number in the
// job ID; failures do not count. It works on the results in memory, so
// that a growing results.jsonl is not read again for every chart.
func computeCurve(results []result) *curveData {
	c := &curveData{series: map[int][]xy{}}
	var pts []xy
	for i, r := range results {
		if r.Failed {
			c.failed++
			continue
		}
		x := float64(r.seq + 1)
		if r.seq < 0 {
			x = float64(i + 1) // a job ID without a proposal number: file order
		}
		pts = append(pts, xy{x, r.Reward})
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].X < pts[j].X })
	kmax := 0
	for _, k := range searchrun.TopK {
		kmax = max(kmax, k)
	}
	var best []float64 // descending, at most kmax
	for _, p := range pts {
		i := sort.Search(len(best), func(i int) bool { return best[i] < p.Y })
		best = append(best, 0)
		copy(best[i+1:], best[i:])
		best[i] = p.Y
		if len(best) > kmax {
			best = best[:kmax]
		}
		for _, k := range searchrun.TopK {
			if len(best) < k {
				continue
			}
			sum := 0.0
			for _, v := range best[:k] {
				sum += v
			}
			c.series[k] = append(c.series[k], xy{p.X, sum / float64(k)})
		}
		c.xmax = max(c.xmax, p.X)
	}
	c.scatter = pts
	return c
}

type curveSeries struct {
	K      int  `json:"k"`
	Points []xy `json:"points"`
}

type curveJSON struct {
	Series  []curveSeries `json:"series"`
	Scatter []xy          `json:"scatter"`
	Trained int           `json:"trained"`
	Failed  int           `json:"failed"`
	XMax    float64       `json:"x_max"`
	Count   int           `json:"count"` // architectures the search will sample
}

// curveJSON is Figure 6 downsampled to about points points per line.
func (s *searchRun) curveJSON(points int) curveJSON {
	if s.curveG != s.gen || s.curve == nil {
		s.curve, s.curveG = computeCurve(s.results), s.gen
	}
	c := s.curve
	out := curveJSON{Series: []curveSeries{}, Scatter: downsample(c.scatter, points), Trained: len(c.scatter), Failed: c.failed, XMax: c.xmax}
	for _, k := range searchrun.TopK {
		if pts := c.series[k]; len(pts) > 0 {
			out.Series = append(out.Series, curveSeries{K: k, Points: downsample(pts, points)})
		}
	}
	if s.ck != nil {
		out.Count = s.ck.Count
	} else if s.space != nil {
		out.Count = s.space.Architectures
	}
	return out
}

// downsample keeps at most about n of pts (in X order): pts is cut into
// n/2 runs of equal length and each run keeps its lowest and its highest
// point, so a spike or a step survives where averaging would flatten it.
// The first and last points are always kept.
func downsample(pts []xy, n int) []xy {
	if len(pts) <= n || n < 4 {
		return append([]xy{}, pts...)
	}
	buckets := n / 2
	size := (len(pts) + buckets - 1) / buckets
	out := make([]xy, 0, n+2)
	out = append(out, pts[0])
	last := 0 // index of the last point kept
	keep := func(i int) {
		if i > last {
			out = append(out, pts[i])
			last = i
		}
	}
	for start := 0; start < len(pts); start += size {
		end := min(start+size, len(pts))
		lo, hi := start, start
		for i := start; i < end; i++ {
			// NaN compares false both ways: it never displaces a number.
			if pts[i].Y < pts[lo].Y || math.IsNaN(pts[lo].Y) {
				lo = i
			}
			if pts[i].Y > pts[hi].Y || math.IsNaN(pts[hi].Y) {
				hi = i
			}
		}
		keep(min(lo, hi))
		keep(max(lo, hi))
	}
	keep(len(pts) - 1)
	return out
}

// downsampleHistory keeps about n evenly spaced points of h and its last.
func downsampleHistory(h []ctrlPoint, n int) []ctrlPoint {
	if len(h) <= n {
		return append([]ctrlPoint{}, h...)
	}
	step := float64(len(h)-1) / float64(n-1)
	out := make([]ctrlPoint, 0, n)
	for i := range n {
		out = append(out, h[int(math.Round(float64(i)*step))])
	}
	return out
}
