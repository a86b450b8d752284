package runtime

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkLatency times one image's inference pass (batch 1) on all
// cores: with several workers its launches run at once (launchDAG).
func BenchmarkLatency(b *testing.B) {
	for _, nt := range benchNets {
		b.Run(nt.name, func(b *testing.B) {
			p := cifarPlan(b, nt.n, nt.base, false)
			ex, err := CPU{}.Compile(p, 1, Options{BatchNormEpsilon: 1e-3, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer ex.Close()
			x, _ := benchInput(p, 1)
			ex.Forward(x, 1, 1)
			for b.Loop() {
				ex.Forward(x, 1, 1)
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/image")
		})
	}
}

// BenchmarkLaunchSchedule measures what running one image's launches at
// once can give on two workers, whatever else the machine runs: each
// launch of 6@768's one-image executable is timed alone on one worker
// (the fastest of b.N runs), and the launches are then scheduled as
// launchDAG would on two workers that never wait for anything but a
// dependency. It reports the sum of the launches' times (one worker),
// the longest chain of dependencies, and the two-worker schedule.
func BenchmarkLaunchSchedule(b *testing.B) {
	p := cifarPlan(b, 6, 32, false)
	ex, err := CPU{}.Compile(p, 1, Options{Workers: 2, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	x, _ := benchInput(p, 1)
	ex.Forward(x, 1, 1)
	d := ex.(*cpuExec).single.dag
	cost := make([]time.Duration, len(d.launches))
	for i := 0; b.Loop(); i++ {
		for j, ops := range d.launches {
			t0 := time.Now()
			for _, op := range ops {
				op.fwd(0, 0, 1)
			}
			if c := time.Since(t0); i == 0 || c < cost[j] {
				cost[j] = c
			}
		}
	}
	var sum, chain time.Duration
	end := make([]time.Duration, len(cost))
	for j, c := range cost {
		sum += c
		for _, i := range d.deps[j] {
			end[j] = max(end[j], end[i])
		}
		end[j] += c
		chain = max(chain, end[j])
	}
	ms := func(t time.Duration) float64 { return float64(t) / float64(time.Millisecond) }
	b.ReportMetric(ms(sum), "sum-ms")
	b.ReportMetric(ms(chain), "chain-ms")
	b.ReportMetric(ms(scheduleTwo(cost, d.deps)), "2workers-ms")
}

// scheduleTwo is launchDAG's schedule on two workers with the given
// launch times: the worker free first takes the first launch, among the
// next lookahead not taken, that can start soonest.
func scheduleTwo(cost []time.Duration, deps [][]int32) time.Duration {
	free := []time.Duration{0, 0}
	end := make([]time.Duration, len(cost))
	taken := make([]bool, len(cost))
	for front := 0; front < len(cost); {
		w := 0
		if free[1] < free[0] {
			w = 1
		}
		best, start := -1, time.Duration(0)
	scan:
		for k := front; k < min(front+lookahead, len(cost)); k++ {
			if taken[k] {
				continue
			}
			ready := time.Duration(0)
			for _, i := range deps[k] {
				if !taken[i] {
					continue scan
				}
				ready = max(ready, end[i])
			}
			if s := max(ready, free[w]); best < 0 || s < start {
				best, start = k, s
			}
			if ready <= free[w] {
				break // the first launch ready at once
			}
		}
		taken[best] = true
		end[best] = start + cost[best]
		free[w] = end[best]
		for front < len(cost) && taken[front] {
			front++
		}
	}
	return slices.Max(free)
}
