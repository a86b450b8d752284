package run

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"cellc/runtime/metrics"
	"cellc/search/queue"
	"cellc/search/space"
)

// Status writes a summary of the search in dir and a table of its top
// architectures.
func Status(w io.Writer, dir string, top int) error {
	ck, err := ReadCheckpoint(dir)
	if err != nil {
		return err
	}
	sp, err := space.LoadSpace(filepath.Join(dir, SpaceFile))
	if err != nil {
		return err
	}
	results, err := queue.ReadResults(filepath.Join(dir, ResultsFile), nil)
	if err != nil {
		return err
	}
	failed, secs := 0, 0.0
	workers := map[string]bool{}
	for _, r := range results {
		if r.Failed {
			failed++
		}
		secs += r.TrainSeconds
		workers[r.Worker] = true
	}
	state := "running or stopped"
	if ck.Done {
		state = "done"
	}
	queued := 0
	for _, p := range ck.Outstanding {
		if p.JobID != "" {
			queued++
		}
	}
	fmt.Fprintf(w, "search %s (%s): %s\n", ck.SearchID, sp.Strategy.Name, state)
	fmt.Fprintf(w, "architectures: %d of %d sampled, %d observed, %d trained (%d failed), %d outstanding\n",
		ck.Sampled, ck.Count, ck.Observed, len(results), failed, queued)
	fmt.Fprintf(w, "controller: %d updates, baseline %.4f; training time %.0fs on %d workers\n",
		ck.Stats.Updates, ck.Stats.Baseline, secs, len(workers))
	best := bestUnique(results, top)
	if len(best) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%-4s  %-16s  %8s  %10s  %10s  %8s  %s\n", "rank", "hash", "reward", "params", "mult-adds", "seconds", "worker")
	for i, r := range best {
		fmt.Fprintf(w, "%-4d  %-16s  %8.4f  %10d  %10d  %8.1f  %s\n", i+1, r.Hash, r.Reward, r.Params, r.MultAdds, r.TrainSeconds, r.Worker)
	}
	if data, err := os.ReadFile(filepath.Join(dir, RankingFile)); err == nil {
		fmt.Fprintf(w, "\nretrained:\n%s", data)
	}
	return nil
}

// TopK are the curves of Figure 6: the mean reward of the best 1, 5 and
// 25 unique models.
var TopK = []int{1, 5, 25}

// Curves computes, for the search in dir, the mean reward of the top-k
// unique models among the first x models sampled, for each k of ks. The
// x axis counts proposals (repeats included): a result's proposal number
// is in its job ID. Failed models do not count.
func Curves(dir string, ks []int) (map[int][]metrics.XY, error) {
	results, err := queue.ReadResults(filepath.Join(dir, ResultsFile), nil)
	if err != nil {
		return nil, err
	}
	type point struct {
		seq    int
		reward float64
	}
	var pts []point
	for _, r := range results {
		if r.Failed {
			continue
		}
		seq, ok := jobSeq(r.JobID)
		if !ok {
			return nil, fmt.Errorf("%s: job ID %q does not name a proposal", dir, r.JobID)
		}
		pts = append(pts, point{seq, r.Reward})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].seq < pts[j].seq })
	out := map[int][]metrics.XY{}
	var best []float64 // descending, at most max(ks)
	kmax := 0
	for _, k := range ks {
		kmax = max(kmax, k)
	}
	for _, p := range pts {
		i := sort.Search(len(best), func(i int) bool { return best[i] < p.reward })
		best = append(best, 0)
		copy(best[i+1:], best[i:])
		best[i] = p.reward
		if len(best) > kmax {
			best = best[:kmax]
		}
		for _, k := range ks {
			if len(best) < k {
				continue
			}
			sum := 0.0
			for _, v := range best[:k] {
				sum += v
			}
			out[k] = append(out[k], metrics.XY{X: float64(p.seq + 1), Y: sum / float64(k)})
		}
	}
	return out, nil
}

func jobSeq(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, "p")
	if !ok {
		return 0, false
	}
	s, _, _ = strings.Cut(s, "-")
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Plot writes the paper's Figure 6 for the searches in dirs: the mean
// reward of the top-1, 5 and 25 unique models against models sampled,
// one line per search and k, named by the directory and strategy.
func Plot(path string, dirs []string) error {
	series := map[string][]metrics.XY{}
	for _, dir := range dirs {
		label := filepath.Base(filepath.Clean(dir))
		if sp, err := space.LoadSpace(filepath.Join(dir, SpaceFile)); err == nil && sp.Strategy.Name != label {
			label += " (" + sp.Strategy.Name + ")"
		}
		curves, err := Curves(dir, TopK)
		if err != nil {
			return err
		}
		for _, k := range TopK {
			if len(curves[k]) > 0 {
				series[fmt.Sprintf("%s top-%d", label, k)] = curves[k]
			}
		}
	}
	if len(series) == 0 {
		return fmt.Errorf("no trained architectures in %s", strings.Join(dirs, ", "))
	}
	return metrics.PlotSeries(path, "mean reward of the top-k unique models", "models sampled", "reward (validation accuracy)", series)
}
