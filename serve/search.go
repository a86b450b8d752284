package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cellc/search/queue"
	searchrun "cellc/search/run"
	"cellc/search/space"
)

// result is one line of results.jsonl.
type result struct {
	queue.Result
	seq  int       // the proposal number in the job ID; -1 if none
	line int       // its line in results.jsonl
	seen time.Time // when this server first read it; zero if it was there at start
}

// ctrlPoint is the controller's state after an update, sampled while
// the search is served (controller.json keeps only the latest).
type ctrlPoint struct {
	Observed int `json:"observed"`
	Updates  int `json:"updates"`
	Baseline num `json:"baseline"`
	Entropy  num `json:"entropy"`
	Loss     num `json:"loss"`
}

// ratePoint is how many results there were at a time, for the rate.
type ratePoint struct {
	t time.Time
	n int
}

// searchRun is what was read from a search directory.
type searchRun struct {
	results  []result
	byHash   map[string]int // the result that shows each architecture
	resTail  tail
	bad      problems // lines of results.jsonl that are not results
	resErr   string   // why results.jsonl could not be read, if it could not
	loaded   bool     // results.jsonl has been read once
	gen      int      // changes whenever results do, for the caches
	lastMod  time.Time
	space    *space.Space
	spaceErr string
	spaceSt  stamp
	started  time.Time // space.yaml's time: when the search began
	ck       *searchrun.Checkpoint
	ckErr    string
	ckSt     stamp
	retrain  []queue.Result
	retTail  tail
	retBad   problems
	retErr   string
	ranking  string
	rankSt   stamp
	best     bool
	files    []string
	history  []ctrlPoint
	rates    []ratePoint
	// The workers' latest heartbeats (workers.json, written by the
	// controller from the workers' reports).
	beats []queue.WorkerStatus
	wkErr string
	wkSt  stamp

	// Caches, valid while their gen is the searchRun's.
	sortGen int
	sorted  map[string][]int // indexes of unique successful results
	rankOf  map[int]int      // result index -> rank by reward
	curveG  int
	curve   *curveData
}

func newSearchRun() *searchRun {
	return &searchRun{
		byHash:  map[string]int{},
		resTail: tail{name: searchrun.ResultsFile},
		retTail: tail{name: searchrun.RetrainFile},
		sortGen: -1, curveG: -1,
	}
}

// maxHistory bounds the controller history kept in memory; past it,
// every other point is dropped.
const maxHistory = 20000

// refresh reads what changed; it reports whether anything did.
func (s *searchRun) refresh(root *os.Root, now time.Time) bool {
	changed := false
	if ok, ch := s.spaceSt.changed(root, searchrun.SpaceFile); ch {
		changed = true
		s.space, s.spaceErr, s.started = nil, "", time.Time{}
		if ok {
			s.started = s.spaceSt.mod
			data, err := root.ReadFile(searchrun.SpaceFile)
			if err == nil {
				s.space, err = space.ParseSpace(searchrun.SpaceFile, data)
			}
			if err != nil {
				s.spaceErr = err.Error()
			}
		}
	}
	if ok, ch := s.ckSt.changed(root, searchrun.StateFile); ch {
		changed = true
		s.readCheckpoint(root, ok)
	}
	if ok, ch := s.wkSt.changed(root, searchrun.WorkersFile); ch {
		changed = true
		s.readWorkers(root, ok)
	}
	n0 := len(s.results)
	ch, err := s.resTail.read(root, func() {
		s.results, s.byHash = nil, map[string]int{}
		s.bad.reset()
		s.rates = nil
		s.gen++
	}, func(n int, b []byte) {
		if len(bytes.TrimSpace(b)) == 0 {
			return
		}
		r, err := queue.DecodeResult(b)
		if err != nil {
			s.bad.add("%s:%d: %v", searchrun.ResultsFile, n, err)
			return
		}
		x := result{Result: r, seq: jobSeq(r.JobID), line: n}
		if s.loaded {
			x.seen = now
		}
		// An architecture is shown by its first successful result (as
		// search/run ranks them), else by its first failure.
		if i, ok := s.byHash[r.Hash]; !ok || (s.results[i].Failed && !r.Failed) {
			s.byHash[r.Hash] = len(s.results)
		}
		s.results = append(s.results, x)
	})
	// A read error is the file's state now, not one more bad line: it
	// replaces the last one instead of piling up every look.
	s.resErr = ""
	if err != nil {
		s.resErr = fmt.Sprintf("%s: %v", searchrun.ResultsFile, err)
	}
	if ch {
		changed = true
		s.gen++
		if s.resTail.fi != nil {
			s.lastMod = s.resTail.fi.ModTime()
		}
		if !s.loaded && len(s.results) > 0 {
			// What was there at start has no time of its own; the file's
			// time is its last line's.
			s.results[len(s.results)-1].seen = s.lastMod
		}
		if len(s.results) != n0 || len(s.rates) == 0 {
			t := now
			if len(s.rates) == 0 {
				t = s.lastMod
			}
			s.rates = append(s.rates, ratePoint{t: t, n: len(s.results)})
		}
	}
	s.loaded = true
	ch, err = s.retTail.read(root, func() {
		s.retrain = nil
		s.retBad.reset()
	}, func(n int, b []byte) {
		if len(bytes.TrimSpace(b)) == 0 {
			return
		}
		r, err := queue.DecodeResult(b)
		if err != nil {
			s.retBad.add("%s:%d: %v", searchrun.RetrainFile, n, err)
			return
		}
		s.retrain = append(s.retrain, r)
	})
	s.retErr = ""
	if err != nil {
		s.retErr = fmt.Sprintf("%s: %v", searchrun.RetrainFile, err)
	}
	changed = changed || ch
	if ok, ch := s.rankSt.changed(root, searchrun.RankingFile); ch {
		changed = true
		s.ranking = ""
		if ok {
			if data, err := root.ReadFile(searchrun.RankingFile); err == nil {
				s.ranking = string(data)
			}
		}
	}
	_, err = root.Stat(searchrun.BestFile)
	if best := err == nil; best != s.best {
		s.best, changed = best, true
	}
	if files := available(root, kindSearch); !slices.Equal(files, s.files) {
		s.files, changed = files, true
	}
	return changed
}

// readWorkers reads workers.json (written whole by rename).
func (s *searchRun) readWorkers(root *os.Root, exists bool) {
	s.beats, s.wkErr = nil, ""
	if !exists {
		return
	}
	data, err := root.ReadFile(searchrun.WorkersFile)
	if err == nil {
		var st searchrun.WorkersState
		if st, err = searchrun.ReadWorkers(data); err == nil {
			s.beats = st.Workers
			return
		}
	}
	s.wkErr = fmt.Sprintf("%s: %v", searchrun.WorkersFile, err)
}

// readCheckpoint reads controller.json (written whole by rename, so never
// seen half-written) and samples the controller's statistics.
func (s *searchRun) readCheckpoint(root *os.Root, exists bool) {
	s.ckErr = ""
	if !exists {
		s.ck = nil
		return
	}
	data, err := root.ReadFile(searchrun.StateFile)
	if err != nil {
		s.ckErr = err.Error()
		return
	}
	var ck searchrun.Checkpoint
	if err := json.Unmarshal(data, &ck); err != nil {
		s.ckErr = fmt.Sprintf("%s: %v", searchrun.StateFile, err)
		return
	}
	ck.Strategy = nil // the strategy's weights: not shown, not kept
	s.ck = &ck
	st := ck.Stats
	// Before its first update a controller has no baseline or entropy
	// to show: the zeros would be drawn as a drop.
	if st.Updates == 0 {
		return
	}
	if n := len(s.history); n == 0 || s.history[n-1].Updates != st.Updates || s.history[n-1].Observed != ck.Observed {
		s.history = append(s.history, ctrlPoint{Observed: ck.Observed, Updates: st.Updates, Baseline: num(st.Baseline), Entropy: num(st.Entropy), Loss: num(st.Loss)})
		if len(s.history) > maxHistory {
			kept := s.history[:0]
			for i, p := range s.history {
				if i%2 == 0 || i == len(s.history)-1 {
					kept = append(kept, p)
				}
			}
			s.history = kept
		}
	}
}

// jobSeq is the proposal number in a job ID "p<seq>-<hash>", or -1.
func jobSeq(id string) int {
	rest, ok := strings.CutPrefix(id, "p")
	if !ok {
		return -1
	}
	rest, _, _ = strings.Cut(rest, "-")
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func (s *searchRun) strategyName() string {
	if s.space != nil {
		return s.space.Strategy.Name
	}
	return ""
}

func (s *searchRun) bestReward() (float64, bool) {
	best, ok := 0.0, false
	for _, r := range s.results {
		if !r.Failed && (!ok || r.Reward > best) {
			best, ok = r.Reward, true
		}
	}
	return best, ok
}

func (s *searchRun) headline() string {
	var parts []string
	if n := s.strategyName(); n != "" {
		parts = append(parts, n)
	}
	if s.ck != nil {
		parts = append(parts, fmt.Sprintf("%d of %d observed", s.ck.Observed, s.ck.Count))
	} else {
		parts = append(parts, fmt.Sprintf("%d results", len(s.results)))
	}
	if b, ok := s.bestReward(); ok {
		parts = append(parts, fmt.Sprintf("best %.4f", b))
	}
	if s.ck != nil && s.ck.Done {
		parts = append(parts, "done")
	}
	return strings.Join(parts, " · ")
}

// The summary's parts.
type (
	progressInfo struct {
		Count     int    `json:"count"`     // architectures to sample
		Sampled   int    `json:"sampled"`   // proposals made
		Observed  int    `json:"observed"`  // proposals the strategy learned from
		Results   int    `json:"results"`   // lines of results.jsonl
		Trained   int    `json:"trained"`   // of which succeeded
		Failed    int    `json:"failed"`    // of which failed
		Unique    int    `json:"unique"`    // distinct architectures
		InFlight  int    `json:"in_flight"` // jobs queued or training
		Waiting   int    `json:"waiting"`   // repeats waiting for a job in flight
		PerHour   *num   `json:"per_hour"`  // children per hour
		RateBasis string `json:"rate_basis,omitempty"`
		ETA       *num   `json:"eta_seconds"`
		Best      *num   `json:"best"`
		Done      bool   `json:"done"`
	}
	controllerInfo struct {
		Strategy string      `json:"strategy"`
		SearchID string      `json:"search_id"`
		Applies  bool        `json:"applies"` // the strategy has a baseline and an entropy
		Updates  int         `json:"updates"`
		Pending  int         `json:"pending"`
		Baseline num         `json:"baseline"`
		Entropy  num         `json:"entropy"`
		Loss     num         `json:"loss"`
		History  []ctrlPoint `json:"history"`
	}
	workerInfo struct {
		Name     string     `json:"name"`
		Jobs     int        `json:"jobs"`
		Failed   int        `json:"failed"`
		Seconds  num        `json:"train_seconds"`
		LastJob  string     `json:"last_job"`
		LastHash string     `json:"last_hash"`
		LastSeen *time.Time `json:"last_seen"` // nil: before this view started
		// From the worker's heartbeats (nil / empty before its first):
		Heartbeat *time.Time         `json:"heartbeat"`
		Slots     int                `json:"slots"`
		Stopped   bool               `json:"stopped"`
		Training  []queue.RunningJob `json:"training"`
	}
	jobInfo struct {
		JobID string `json:"job_id"`
		Seq   int    `json:"seq"`
		Hash  string `json:"hash"`
	}
	retrainRow struct {
		Rank     int    `json:"rank"`
		Hash     string `json:"hash"`
		Search   *num   `json:"search_reward"`
		Val      num    `json:"validation"`
		Test     *num   `json:"test"`
		Params   int64  `json:"params"`
		MultAdds int64  `json:"mult_adds"`
		Seconds  num    `json:"train_seconds"`
		Error    string `json:"error,omitempty"`
	}
	searchSummary struct {
		Progress   progressInfo   `json:"progress"`
		Controller controllerInfo `json:"controller"`
		Workers    []workerInfo   `json:"workers"`
		InFlight   []jobInfo      `json:"in_flight"`
		Failures   failurePage    `json:"failures"`
		Retrain    []retrainRow   `json:"retrain"`
		RetrainTop *int           `json:"retrain_top"` // nil: the space is not known
		Ranking    string         `json:"ranking,omitempty"`
		BestCell   bool           `json:"best_cell"`
		State      string         `json:"state"`
		Started    *time.Time     `json:"started,omitempty"`
		LastResult *time.Time     `json:"last_result,omitempty"`
		Files      []string       `json:"files"`
		Problems   []string       `json:"problems"`
	}
)

func numPtr(f float64) *num { n := num(f); return &n }

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *searchRun) summary(now time.Time) searchSummary {
	out := searchSummary{Files: s.files, Started: timePtr(s.started), Problems: []string{}, InFlight: []jobInfo{}}
	if s.loaded && len(s.results) > 0 {
		out.LastResult = timePtr(s.lastMod)
	}
	p := &out.Progress
	hashes := map[string]bool{}
	for _, r := range s.results {
		hashes[r.Hash] = true
		if r.Failed {
			p.Failed++
		} else {
			p.Trained++
		}
	}
	p.Results, p.Unique = len(s.results), len(hashes)
	if b, ok := s.bestReward(); ok {
		p.Best = numPtr(b)
	}
	c := &out.Controller
	c.Strategy = s.strategyName()
	c.Applies = c.Strategy == space.PPO || c.Strategy == space.REINFORCE
	if s.space != nil {
		p.Count = s.space.Architectures
		top := s.space.Retrain.Top
		out.RetrainTop = &top
	}
	if ck := s.ck; ck != nil {
		p.Count, p.Sampled, p.Observed, p.Done = ck.Count, ck.Sampled, ck.Observed, ck.Done
		for _, o := range ck.Outstanding {
			if o.JobID != "" {
				p.InFlight++
				out.InFlight = append(out.InFlight, jobInfo{JobID: o.JobID, Seq: o.Seq, Hash: o.Hash})
			} else {
				p.Waiting++
			}
		}
		c.SearchID, c.Updates, c.Pending = ck.SearchID, ck.Stats.Updates, ck.Stats.Pending
		c.Baseline, c.Entropy, c.Loss = num(ck.Stats.Baseline), num(ck.Stats.Entropy), num(ck.Stats.Loss)
	}
	c.History = downsampleHistory(s.history, 400)
	if rate, basis := s.rate(now); rate > 0 {
		p.PerHour, p.RateBasis = numPtr(rate), basis
		if s.ck != nil && !s.ck.Done && s.ck.Count > s.ck.Observed {
			p.ETA = numPtr(float64(s.ck.Count-s.ck.Observed) / rate * 3600)
		}
	}
	if p.Done {
		p.ETA = numPtr(0)
	}
	out.Workers = s.workers()
	out.Failures = s.failurePage(0, 10)
	out.Retrain = s.retrainRows()
	out.Ranking = s.ranking
	out.BestCell = s.best
	switch {
	case s.ck == nil && len(s.results) == 0:
		out.State = "starting"
	case s.ck == nil:
		out.State = "unknown"
	case p.Done && s.ranking == "" && out.RetrainTop != nil && *out.RetrainTop > 0 && len(s.retrain) < *out.RetrainTop:
		out.State = "retraining"
	case p.Done:
		out.State = "done"
	default:
		out.State = "searching"
	}
	if s.spaceErr != "" {
		out.Problems = append(out.Problems, s.spaceErr)
	}
	if s.ckErr != "" {
		out.Problems = append(out.Problems, s.ckErr)
	} else if s.ck == nil && len(s.results) > 0 {
		out.Problems = append(out.Problems, "no "+searchrun.StateFile+": progress and the controller are unknown")
	}
	for _, e := range []string{s.resErr, s.retErr, s.wkErr} {
		if e != "" {
			out.Problems = append(out.Problems, e)
		}
	}
	out.Problems = append(out.Problems, s.bad.all()...)
	out.Problems = append(out.Problems, s.retBad.all()...)
	return out
}

// rate is the children trained per hour: over the last quarter hour of
// what this view saw arrive, else over the whole search (space.yaml's
// time to results.jsonl's), which counts any time the search was
// stopped.
func (s *searchRun) rate(now time.Time) (float64, string) {
	if n := len(s.rates); n >= 2 {
		last := s.rates[n-1]
		first := s.rates[0]
		for _, p := range s.rates {
			if last.t.Sub(p.t) <= 15*time.Minute {
				first = p
				break
			}
		}
		if dt := last.t.Sub(first.t).Seconds(); dt >= 1 && last.n > first.n {
			return float64(last.n-first.n) / dt * 3600, "recent"
		}
	}
	if !s.started.IsZero() && len(s.results) > 0 {
		if dt := s.lastMod.Sub(s.started).Seconds(); dt >= 1 {
			return float64(len(s.results)) / dt * 3600, "whole search"
		}
	}
	return 0, ""
}

func (s *searchRun) workers() []workerInfo {
	idx := map[string]int{}
	var out []workerInfo
	last := map[string]int{}
	for i, r := range s.results {
		k, ok := idx[r.Worker]
		if !ok {
			k = len(out)
			idx[r.Worker] = k
			out = append(out, workerInfo{Name: r.Worker})
		}
		w := &out[k]
		w.Jobs++
		if r.Failed {
			w.Failed++
		}
		w.Seconds += num(r.TrainSeconds)
		w.LastJob, w.LastHash, w.LastSeen = r.JobID, r.Hash, timePtr(r.seen)
		last[r.Worker] = i
	}
	for _, b := range s.beats {
		k, ok := idx[b.Worker]
		if !ok {
			k = len(out)
			idx[b.Worker] = k
			out = append(out, workerInfo{Name: b.Worker})
			last[b.Worker] = len(s.results) // reporting, no result yet: first
		}
		w := &out[k]
		w.Heartbeat, w.Slots, w.Stopped, w.Training = timePtr(b.Time), b.Slots, b.Stopped, b.Jobs
	}
	for i := range out {
		if out[i].Training == nil {
			out[i].Training = []queue.RunningJob{}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return last[out[i].Name] > last[out[j].Name] })
	if out == nil {
		out = []workerInfo{}
	}
	return out
}

func (s *searchRun) retrainRows() []retrainRow {
	rows := []retrainRow{}
	for _, r := range s.retrain {
		row := retrainRow{Hash: r.Hash, Val: num(r.Accuracy), Params: r.Params, MultAdds: r.MultAdds, Seconds: num(r.TrainSeconds), Error: r.Error}
		if r.TestAccuracy != 0 {
			row.Test = numPtr(r.TestAccuracy)
		}
		if i, ok := s.byHash[r.Hash]; ok {
			row.Search = numPtr(s.results[i].Reward)
		}
		rows = append(rows, row)
	}
	// The order of search/run's ranking: retrained accuracy, failures last.
	sort.SliceStable(rows, func(i, j int) bool {
		if (rows[i].Error == "") != (rows[j].Error == "") {
			return rows[i].Error == ""
		}
		return rows[i].Val > rows[j].Val
	})
	for i := range rows {
		rows[i].Rank = i + 1
	}
	return rows
}

// failurePage is a page of failed architectures, newest first.
type failurePage struct {
	Total int           `json:"total"`
	Page  int           `json:"page"`
	Size  int           `json:"size"`
	Rows  []failureInfo `json:"rows"`
}

type failureInfo struct {
	JobID    string `json:"job_id"`
	Seq      int    `json:"seq"`
	Hash     string `json:"hash"`
	Worker   string `json:"worker"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
	Line     int    `json:"line"`
}

func (s *searchRun) failurePage(page, size int) failurePage {
	out := failurePage{Page: page, Size: size, Rows: []failureInfo{}}
	skip := page * size
	for i := len(s.results) - 1; i >= 0; i-- {
		r := s.results[i]
		if !r.Failed {
			continue
		}
		out.Total++
		if skip > 0 {
			skip--
			continue
		}
		if len(out.Rows) < size {
			out.Rows = append(out.Rows, failureInfo{JobID: r.JobID, Seq: r.seq, Hash: r.Hash, Worker: r.Worker, Attempts: r.Attempts, Error: r.Error, Line: r.line})
		}
	}
	return out
}

// resultRow is a row of the top-k table.
type resultRow struct {
	Rank     int    `json:"rank"` // by reward
	JobID    string `json:"job_id"`
	Seq      int    `json:"seq"`
	Hash     string `json:"hash"`
	Reward   num    `json:"reward"`
	Accuracy num    `json:"accuracy"`
	Params   int64  `json:"params"`
	MultAdds int64  `json:"mult_adds"`
	Seconds  num    `json:"train_seconds"`
	Worker   string `json:"worker"`
	Attempts int    `json:"attempts"`
}

type resultPage struct {
	Total int         `json:"total"`
	Page  int         `json:"page"`
	Size  int         `json:"size"`
	Sort  string      `json:"sort"`
	Order string      `json:"order"`
	Rows  []resultRow `json:"rows"`
}

// byReward orders result indexes best first, as search/run ranks them:
// reward, then job ID.
func (s *searchRun) byReward(a, b int) bool {
	x, y := s.results[a], s.results[b]
	if x.Reward != y.Reward {
		return x.Reward > y.Reward
	}
	return x.JobID < y.JobID
}

// table is a page of the unique architectures that trained, sorted by
// key. Sorted orders are cached until the results change.
func (s *searchRun) table(key string, desc bool, page, size int) resultPage {
	if s.sortGen != s.gen {
		s.sortGen, s.sorted, s.rankOf = s.gen, map[string][]int{}, map[int]int{}
		var ok []int
		for _, i := range s.byHash {
			if !s.results[i].Failed {
				ok = append(ok, i)
			}
		}
		sort.Slice(ok, func(a, b int) bool { return s.byReward(ok[a], ok[b]) })
		for r, i := range ok {
			s.rankOf[i] = r + 1
		}
		s.sorted["reward"] = ok
	}
	idx, ok := s.sorted[key]
	if !ok {
		idx = append([]int(nil), s.sorted["reward"]...)
		val := func(i int) float64 {
			r := s.results[i]
			switch key {
			case "params":
				return float64(r.Params)
			case "mult_adds":
				return float64(r.MultAdds)
			case "train_seconds":
				return r.TrainSeconds
			case "seq":
				return float64(r.seq)
			case "attempts":
				return float64(r.Attempts)
			}
			return r.Reward
		}
		// Descending by key; ties keep the reward order.
		sort.SliceStable(idx, func(a, b int) bool { return val(idx[a]) > val(idx[b]) })
		s.sorted[key] = idx
	}
	out := resultPage{Total: len(idx), Page: page, Size: size, Sort: key, Order: "desc", Rows: []resultRow{}}
	if !desc {
		out.Order = "asc"
	}
	for k := page * size; k < len(idx) && k < (page+1)*size; k++ {
		i := idx[k]
		if !desc {
			i = idx[len(idx)-1-k]
		}
		r := s.results[i]
		out.Rows = append(out.Rows, resultRow{Rank: s.rankOf[i], JobID: r.JobID, Seq: r.seq, Hash: r.Hash, Reward: num(r.Reward), Accuracy: num(r.Accuracy),
			Params: r.Params, MultAdds: r.MultAdds, Seconds: num(r.TrainSeconds), Worker: r.Worker, Attempts: r.Attempts})
	}
	return out
}

// cellInfo is one architecture: its text and what is known of it.
type cellInfo struct {
	Hash    string      `json:"hash"`
	Text    string      `json:"text"`
	Result  *resultRow  `json:"result,omitempty"`
	Failed  bool        `json:"failed"`
	Error   string      `json:"error,omitempty"`
	Retrain *retrainRow `json:"retrain,omitempty"`
}

func (s *searchRun) cell(hash string) (cellInfo, bool) {
	if i, ok := s.byHash[hash]; ok {
		r := s.results[i]
		c := cellInfo{Hash: r.Hash, Text: r.CellText, Failed: r.Failed, Error: r.Error}
		if !r.Failed {
			s.table("reward", true, 0, 0) // fills rankOf
			c.Result = &resultRow{Rank: s.rankOf[i], JobID: r.JobID, Seq: r.seq, Hash: r.Hash, Reward: num(r.Reward), Accuracy: num(r.Accuracy),
				Params: r.Params, MultAdds: r.MultAdds, Seconds: num(r.TrainSeconds), Worker: r.Worker, Attempts: r.Attempts}
		}
		for _, row := range s.retrainRows() {
			if row.Hash == hash {
				c.Retrain = &row
			}
		}
		return c, true
	}
	for _, r := range s.retrain {
		if r.Hash == hash {
			return cellInfo{Hash: r.Hash, Text: r.CellText, Failed: r.Failed, Error: r.Error}, true
		}
	}
	return cellInfo{}, false
}
