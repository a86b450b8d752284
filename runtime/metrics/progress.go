package metrics

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress shows training progress: with bars enabled, one mpb bar per
// epoch showing the epoch, the step, the latest loss, accuracy and
// images/s, and the epoch's ETA; without, nothing until an epoch ends.
// Either way each finished epoch leaves one plain summary line:
//
//	epoch 3/90  500/500 steps  loss 2.3026  acc 12.34%  1234.5 img/s  1m2s  eta 1h28m
//
// The summary shows the values of the epoch's last Step (pass running means
// to summarise the whole epoch) and the time left for the epochs after it
// at the mean time of the epochs this Progress has seen.
//
// Use it from one goroutine; call Finish when done, after which it holds no
// goroutines.
type Progress struct {
	w       io.Writer
	total   int // epochs; 0 if unknown
	p       *mpb.Progress
	bar     *mpb.Bar
	started time.Time // first Epoch
	done    int       // epochs finished

	mu sync.Mutex // guards st, which the bar's decorators read
	st epochState

	finished bool
}

type epochState struct {
	active      bool
	epoch       int
	steps, step int
	loss, acc   float64
	ips         float64
	stepped     bool
	start       time.Time
}

// NewProgress returns a Progress writing to w for a run of total epochs
// (0 if unknown). With enabled false it draws no bars and writes only the
// summary lines, which suits logs and tests; pass IsTerminal(w).
func NewProgress(w io.Writer, total int, enabled bool) *Progress {
	return newProgress(w, total, enabled)
}

func newProgress(w io.Writer, total int, enabled bool, opts ...mpb.ContainerOption) *Progress {
	if w == nil {
		w = io.Discard
	}
	pr := &Progress{w: w, total: total}
	if enabled {
		opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithAutoRefresh()}, opts...)
		pr.p = mpb.New(opts...)
	}
	return pr
}

// IsTerminal reports whether w is a terminal, where bars make sense.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Epoch ends the current epoch, if any, with its summary line and starts
// epoch number epoch (counting from 1) of steps steps.
func (pr *Progress) Epoch(epoch, steps int) {
	if pr.finished {
		return
	}
	if line := pr.endEpoch(); line != "" {
		if pr.p != nil {
			io.WriteString(pr.p, line) // above the bars, at the next refresh
		} else {
			io.WriteString(pr.w, line)
		}
	}
	now := time.Now()
	if pr.started.IsZero() {
		pr.started = now
	}
	pr.mu.Lock()
	pr.st = epochState{active: true, epoch: epoch, steps: steps, start: now}
	pr.mu.Unlock()
	if pr.p == nil {
		return
	}
	bar, err := pr.p.Add(int64(steps), mpb.BarStyle().Build(),
		mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(
			decor.Any(func(decor.Statistics) string { return pr.epochLabel(epoch) }, decor.WCSyncSpaceR),
			decor.CountersNoUnit("%d/%d", decor.WCSyncSpaceR),
		),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string { return pr.stats() }, decor.WCSyncSpace),
			decor.Name(" ETA "),
			decor.AverageETA(decor.ET_STYLE_GO),
		),
	)
	if err == nil {
		pr.bar = bar
	}
}

// Step reports that step steps of the current epoch are done (counting
// from 1), with the latest loss, accuracy (a fraction) and throughput.
func (pr *Progress) Step(step int, loss, acc, imagesPerSec float64) {
	if pr.finished {
		return
	}
	pr.mu.Lock()
	pr.st.step, pr.st.loss, pr.st.acc, pr.st.ips, pr.st.stepped = step, loss, acc, imagesPerSec, true
	pr.mu.Unlock()
	if pr.bar != nil {
		pr.bar.SetCurrent(int64(step))
	}
}

// Finish ends the current epoch with its summary line and stops the bars.
// Calling it again, or Epoch and Step after it, does nothing.
func (pr *Progress) Finish() {
	if pr.finished {
		return
	}
	pr.finished = true
	line := pr.endEpoch()
	if pr.p != nil {
		pr.p.Wait()
	}
	io.WriteString(pr.w, line)
}

// endEpoch removes the current epoch's bar and returns its summary line,
// or "" if no epoch is running.
func (pr *Progress) endEpoch() string {
	pr.mu.Lock()
	st := pr.st
	pr.st.active = false
	pr.mu.Unlock()
	if !st.active {
		return ""
	}
	if pr.bar != nil {
		pr.bar.Abort(true) // removes it, complete or not
		pr.bar.Wait()
		pr.bar = nil
	}
	pr.done++
	return pr.summary(st, time.Now()) + "\n"
}

func (pr *Progress) epochLabel(epoch int) string {
	if pr.total > 0 {
		return fmt.Sprintf("epoch %d/%d", epoch, pr.total)
	}
	return fmt.Sprintf("epoch %d", epoch)
}

// stats is the bar's loss, accuracy and throughput.
func (pr *Progress) stats() string {
	pr.mu.Lock()
	st := pr.st
	pr.mu.Unlock()
	if !st.stepped {
		return ""
	}
	return fmt.Sprintf("loss %.4f  acc %.2f%%  %.1f img/s", st.loss, 100*st.acc, st.ips)
}

func (pr *Progress) summary(st epochState, now time.Time) string {
	var b strings.Builder
	b.WriteString(pr.epochLabel(st.epoch))
	fmt.Fprintf(&b, "  %d/%d steps", st.step, st.steps)
	if st.stepped {
		fmt.Fprintf(&b, "  loss %.4f  acc %.2f%%  %.1f img/s", st.loss, 100*st.acc, st.ips)
	}
	fmt.Fprintf(&b, "  %s", roundDuration(now.Sub(st.start)))
	if left := pr.total - st.epoch; pr.total > 0 && left > 0 {
		per := now.Sub(pr.started) / time.Duration(pr.done)
		fmt.Fprintf(&b, "  eta %s", roundDuration(per*time.Duration(left)))
	}
	return b.String()
}

// roundDuration keeps about three significant digits.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
