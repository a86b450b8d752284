package run

import (
	"fmt"
	"math"
	"strings"
	"time"

	"cellc/search/queue"
)

// progress prints one line per recorded architecture.
func (c *controller) progress(r queue.Result, repeats int) {
	failed, best := 0, math.Inf(-1)
	for _, x := range c.results {
		if x.Failed {
			failed++
		} else {
			best = max(best, x.Reward)
		}
	}
	_, queued := c.led.inFlight()
	live := 0
	for _, t := range c.workers {
		if time.Since(t) < 10*time.Minute {
			live++
		}
	}
	eta := "?"
	if n := c.ck.Observed - c.startN; n > 0 {
		left := time.Duration(float64(time.Since(c.start)) / float64(n) * float64(c.ck.Count-c.ck.Observed))
		eta = left.Round(time.Second).String()
	}
	status := fmt.Sprintf("reward %.4f", r.Reward)
	if r.Failed {
		status = "failed: " + firstLine(r.Error)
	}
	if repeats > 0 {
		status += fmt.Sprintf(" (+%d repeats)", repeats)
	}
	bestS := "-"
	if !math.IsInf(best, -1) {
		bestS = fmt.Sprintf("%.4f", best)
	}
	fmt.Fprintf(c.log, "[%d/%d] %s %s  | done %d, failed %d, queued %d; best %s, avg %.4f; workers %d; eta %s\n",
		c.ck.Observed, c.ck.Count, r.Hash, status, len(c.results), failed, queued, bestS, c.avg, live, eta)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}
