package runtime

import "time"

// modePicker chooses how a pass of fewer images than workers runs: each
// image's launches spread across the workers (launchDAG), or each image
// on one worker as in a large batch. Spreading is about 1.7× faster on an
// idle machine, but when the machine has more busy threads than cores
// one of the workers is often descheduled while the other waits on its
// launch, and one worker per image was then 20 % faster (docs/
// benchmarks.md). Both give the same bits, so the picker times them and
// uses the faster, trying the other every probeEvery passes in case the
// machine changed.
type modePicker struct {
	// est is each mode's time per image, an exponential moving average
	// (0 until measured); seen counts its passes, the first of which
	// (packing the weights, touching every buffer) is not counted.
	est   [2]time.Duration // [0] spread, [1] one worker per image
	seen  [2]int
	count int
}

// probeEvery is how often the slower mode is tried: often enough to see
// the machine's load change within a second of batch-1 passes, rarely
// enough to cost the idle case about 2 %.
const probeEvery = 32

// spread says whether the next pass spreads its images' launches.
func (m *modePicker) spread() bool {
	m.count++
	// Two passes of each first, alternating.
	if m.seen[0] < 2 || m.seen[1] < 2 {
		return m.seen[0] <= m.seen[1]
	}
	faster := m.est[0] <= m.est[1]
	if m.count%probeEvery == 0 {
		return !faster
	}
	return faster
}

// record adds a pass's time per image in the mode spread chose.
func (m *modePicker) record(spread bool, perImage time.Duration) {
	k := 1
	if spread {
		k = 0
	}
	m.seen[k]++
	switch {
	case m.seen[k] == 1:
		// The mode's first pass: not representative.
	case m.est[k] == 0:
		m.est[k] = perImage
	default:
		m.est[k] += (perImage - m.est[k]) * 3 / 10
	}
}
