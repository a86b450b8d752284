package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cellc/search/queue"
	"cellc/search/space"
)

// RetrainOptions configure Retrain.
type RetrainOptions struct {
	// Top is how many of the best architectures to retrain; -1 = the
	// space's retrain.top, 0 = none (best.cell is then the search's best).
	Top      int
	Trainer  *Trainer
	MaxSteps int
	Log      io.Writer
}

// Ranked is one architecture of the final ranking.
type Ranked struct {
	Rank     int
	Hash     string
	Text     string
	Reward   float64 // during the search
	Accuracy float64 // retrained, on the held-out validation images; 0 if not retrained
	Test     float64 // retrained, on the data set's test split; 0 if none
	Params   int64
	MultAdds int64
	Seconds  float64
	Err      string
}

// Retrain trains the best Top architectures of dir's results again with
// the space's retrain recipe, in this process, one at a time. Each result
// is appended to retrain.jsonl, so an interrupted retraining continues
// where it stopped. It writes ranking.txt (best retrained accuracy first)
// and best.cell.
func Retrain(ctx context.Context, dir string, sp *space.Space, opts RetrainOptions) ([]Ranked, error) {
	results, err := queue.ReadResults(filepath.Join(dir, ResultsFile), nil)
	if err != nil {
		return nil, err
	}
	top := opts.Top
	if top < 0 {
		top = sp.Retrain.Top
	}
	best := bestUnique(results, max(top, 1))
	if len(best) == 0 {
		return nil, nil
	}
	if top == 0 {
		return nil, writeAtomic(filepath.Join(dir, BestFile), []byte(best[0].CellText))
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	tr := opts.Trainer
	if tr == nil {
		tr = &Trainer{}
	}
	path := filepath.Join(dir, RetrainFile)
	done, err := queue.ReadResults(path, nil)
	if err != nil {
		return nil, err
	}
	byHash := map[string]queue.Result{}
	for _, r := range done {
		byHash[r.Hash] = r
	}
	for i, b := range best {
		if _, ok := byHash[b.Hash]; ok {
			continue
		}
		fmt.Fprintf(log, "retraining %d/%d: %s (search reward %.4f), %d epochs of %s, %d filters\n",
			i+1, len(best), b.Hash, b.Reward, sp.Retrain.Epochs, sp.Depth(sp.Retrain.Recipe), sp.Retrain.BaseFilters)
		out, err := tr.TrainTest(ctx, b.CellText, sp.Retrain.Recipe, opts.MaxSteps)
		if err != nil {
			return nil, err
		}
		r := queue.Result{JobID: "retrain-" + b.Hash, Hash: b.Hash, CellText: b.CellText, Reward: out.Accuracy, Accuracy: out.Accuracy, TestAccuracy: out.TestAccuracy,
			Params: out.Params, MultAdds: out.MultAdds, TrainSeconds: out.TrainSeconds, Worker: "retrain", Attempts: 1,
			Failed: out.Failed, Error: out.Err}
		if err := queue.AppendResult(path, r); err != nil {
			return nil, err
		}
		byHash[b.Hash] = r
		fmt.Fprintf(log, "retrained %s: validation top-1 %.4f, test top-1 %.4f, in %.1fs\n", b.Hash, r.Accuracy, r.TestAccuracy, r.TrainSeconds)
	}
	var ranking []Ranked
	for _, b := range best {
		r := byHash[b.Hash]
		ranking = append(ranking, Ranked{Hash: b.Hash, Text: b.CellText, Reward: b.Reward, Accuracy: r.Accuracy, Test: r.TestAccuracy,
			Params: r.Params, MultAdds: r.MultAdds, Seconds: r.TrainSeconds, Err: r.Error})
	}
	sort.SliceStable(ranking, func(i, j int) bool {
		if (ranking[i].Err == "") != (ranking[j].Err == "") {
			return ranking[i].Err == ""
		}
		return ranking[i].Accuracy > ranking[j].Accuracy
	})
	for i := range ranking {
		ranking[i].Rank = i + 1
	}
	if err := writeAtomic(filepath.Join(dir, RankingFile), []byte(FormatRanking(ranking))); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, BestFile), []byte(ranking[0].Text)); err != nil {
		return nil, err
	}
	return ranking, nil
}

// FormatRanking prints the final ranking as a table.
func FormatRanking(rs []Ranked) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-4s  %-16s  %8s  %8s  %8s  %10s  %10s  %8s\n", "rank", "hash", "search", "retrain", "test", "params", "mult-adds", "seconds")
	for _, r := range rs {
		acc, test := fmt.Sprintf("%.4f", r.Accuracy), fmt.Sprintf("%.4f", r.Test)
		if r.Err != "" {
			acc, test = "failed", "-"
		} else if r.Test == 0 {
			test = "-"
		}
		fmt.Fprintf(&sb, "%-4d  %-16s  %8.4f  %8s  %8s  %10d  %10d  %8.1f\n", r.Rank, r.Hash, r.Reward, acc, test, r.Params, r.MultAdds, r.Seconds)
	}
	return sb.String()
}

// bestUnique returns the n best results that did not fail, one per
// architecture, best first.
func bestUnique(results []queue.Result, n int) []queue.Result {
	seen := map[string]bool{}
	var ok []queue.Result
	for _, r := range results {
		if !r.Failed && !seen[r.Hash] {
			seen[r.Hash] = true
			ok = append(ok, r)
		}
	}
	sortResults(ok)
	if len(ok) > n {
		ok = ok[:n]
	}
	return ok
}

// BestCell is the best architecture of the search in dir: best.cell if
// the search wrote it (after retraining), else the best search result.
func BestCell(dir string) (string, error) {
	if data, err := os.ReadFile(filepath.Join(dir, BestFile)); err == nil {
		return string(data), nil
	}
	results, err := queue.ReadResults(filepath.Join(dir, ResultsFile), nil)
	if err != nil {
		return "", err
	}
	best := bestUnique(results, 1)
	if len(best) == 0 {
		return "", fmt.Errorf("%s: no architecture has been trained yet", dir)
	}
	return best[0].CellText, nil
}
