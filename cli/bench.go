package cli

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/runtime"
)

type benchFlags struct {
	net        buildFlags
	batch      int
	steps      int
	warmup     int
	workers    int
	device     string
	precision  string
	cpuprofile string
}

func newBenchCmd() *cobra.Command {
	var fl benchFlags
	cmd := &cobra.Command{
		Use:   "bench FILE",
		Short: "Time training steps or inference passes of a network on random data",
		Long: `Bench compiles the network FILE declares (the same flags as build) for the
backend --device picks (cpu, the default; cuda or cuda:N, an NVIDIA GPU)
and times it on random images: --mode train runs whole training steps
(forward, loss, backward and the CIFAR recipe's SGD update), --mode infer
the inference plan's forward pass. It runs --warmup untimed steps, then
--steps timed ones, and prints images per second (the median of the
per-step rates, and the overall rate), milliseconds per step (at --batch
1 also as the latency per image, which on a CPU with several workers
runs one image's independent steps at once), and peak
memory twice: the plan's own figure (activations per image × batch, plus
parameters, gradients and optimiser state) and the process's measured peak
resident set (VmHWM), which also counts the Go runtime, the compiler's
data, the executor's scratch and the 1×1 convs' packed weights. On a GPU
it also prints the most device memory the backend held at once.`,
		Example: `  cellc bench specs/nasnet_a.cell --n 6 --filters 768 --batch 32 --workers 2
  cellc bench specs/nasnet_a.cell --n 6 --filters 768 --batch 64 --mode infer
  cellc bench specs/nasnet_a.cell --n 6 --filters 768 --batch 1 --mode infer --steps 40
  cellc bench specs/nasnet_a.cell --n 6 --filters 768 --batch 32 --device cuda
  cellc bench specs/nasnet_a.cell --n 2 --base-filters 16 --batch 32 --steps 20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runBench(cmd, &fl, args[0]) },
	}
	addNetworkFlags(cmd, &fl.net)
	f := cmd.Flags()
	f.IntVar(&fl.batch, "batch", 32, "images per step")
	f.IntVar(&fl.steps, "steps", 5, "timed steps")
	f.IntVar(&fl.warmup, "warmup", 1, "untimed steps before the timed ones")
	f.IntVar(&fl.workers, "workers", 0, "compute workers (0 = all cores)")
	addDeviceFlag(cmd, &fl.device)
	addPrecisionFlag(cmd, &fl.precision)
	f.StringVar(&fl.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed steps to `file`")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

func runBench(cmd *cobra.Command, fl *benchFlags, path string) error {
	switch {
	case fl.batch < 1:
		return usagef("--batch %d: must be at least 1", fl.batch)
	case fl.steps < 1:
		return usagef("--steps %d: must be at least 1", fl.steps)
	case fl.warmup < 0:
		return usagef("--warmup %d: must not be negative", fl.warmup)
	case fl.workers < 0:
		return usagef("--workers %d: must not be negative", fl.workers)
	}
	var training bool
	switch fl.net.mode {
	case "train", "training":
		training = true
	case "infer", "inference":
	default:
		return usagef("--mode %q: want train or infer", fl.net.mode)
	}
	if err := checkPrecision(fl.precision); err != nil {
		return err
	}
	// The device opens first: a missing GPU fails before the compile.
	backend, closeDevice, err := openDevice(fl.device)
	if err != nil {
		return err
	}
	defer closeDevice()
	res, _, err := compileFile(cmd, &fl.net, path, func(c *compiler.Config) error {
		if c.Training != training {
			// --config set training to the other mode: say so rather
			// than bench a mode the file did not ask for.
			return usagef("%s sets training: %v but bench runs --mode %s; give --mode to match", fl.net.config, c.Training, fl.net.mode)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p, err := plan.Lower(res.Graph)
	if err != nil {
		return failf("%v", err)
	}
	cfg := res.Config
	workers := fl.workers
	if workers == 0 {
		workers = goruntime.GOMAXPROCS(0)
	}
	exec, err := backend.Compile(p, fl.batch, runtime.Options{
		BatchNormDecay:   float32(cfg.BatchNormDecay),
		BatchNormEpsilon: float32(cfg.BatchNormEpsilon),
		Workers:          workers,
		Seed:             1,
		Precision:        fl.precision,
	})
	if err != nil {
		return failf("%v", err)
	}
	defer exec.Close()

	// Random inputs and labels: the timings do not depend on the values.
	r := rand.New(rand.NewPCG(1, 2))
	classes := p.Output.Shape.C
	x := make([]float32, fl.batch*p.Input.Shape.Elems())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	labels := make([]int, fl.batch)
	for i := range labels {
		labels[i] = r.IntN(classes)
	}

	var step func() error
	var optState int64
	if training {
		recipe := runtime.CIFARRecipe()
		opt := runtime.NewOptimizer(recipe, exec.Params())
		for _, s := range opt.Slots {
			optState += int64(len(s)) * 4
		}
		st := runtime.NewStepper(exec, opt, recipe, classes, fl.batch)
		// Mid-training: drop path at half its final strength.
		epoch := float64(recipe.Epochs) / 2
		step = func() error {
			_, err := st.Train(x, labels, fl.batch, epoch, 0.5)
			return err
		}
	} else {
		exec.SetTraining(false)
		step = func() (err error) {
			defer runtime.CatchDeviceError(&err)
			exec.Forward(x, fl.batch, 1)
			return nil
		}
	}

	// The process before any step: the runtime, the compiler's data, the
	// executable's buffers as allocated (not yet all touched). Peak minus
	// this is what the steps themselves add, which compares frameworks
	// whose fixed footprints differ (an interpreter, libtorch).
	baseline, _ := procStatus("VmRSS:")
	for i := 0; i < fl.warmup; i++ {
		if err := step(); err != nil {
			return failf("warmup step %d: %v", i+1, err)
		}
	}
	if fl.cpuprofile != "" {
		pf, err := os.Create(fl.cpuprofile)
		if err != nil {
			return fail(err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fail(err)
		}
	}
	times := make([]time.Duration, fl.steps)
	start := time.Now()
	for i := range times {
		t0 := time.Now()
		if err := step(); err != nil {
			pprof.StopCPUProfile()
			return failf("step %d: %v", i+1, err)
		}
		times[i] = time.Since(t0)
	}
	total := time.Since(start)
	if fl.cpuprofile != "" {
		pprof.StopCPUProfile()
	}

	m := benchMemory{
		perImage: p.Memory.Total(),
		batch:    int64(fl.batch),
		params:   int64(len(exec.Params().Data)) * 4,
		grads:    int64(len(exec.Params().Grad)) * 4,
		opt:      optState,
	}
	mode := "infer"
	if training {
		mode = "train"
	}
	rss, rssErr := peakRSS()
	report := benchReport{
		network: fmt.Sprintf("%s %s (base filters %d), %s %dx%d, %s plan", displayName(res.Network.Name), depth(cfg, res.Filters), res.BaseFilters, cfg.Dataset, cfg.ImageSize, cfg.ImageSize, mode),
		backend: backend.Name(), workers: workers, batch: fl.batch, warmup: fl.warmup,
		times: times, total: total, mem: m, rss: rss, rssErr: rssErr, baseline: baseline,
	}
	// A GPU backend reports its device memory.
	if d, ok := backend.(interface{ PeakBytes() int64 }); ok {
		report.gpu, report.gpuPeak = true, d.PeakBytes()
	}
	writeBench(cmd.OutOrStdout(), report)
	return nil
}

// benchMemory is the plan's own account of a run's memory.
type benchMemory struct {
	perImage, batch    int64 // activation (and activation-gradient) bytes per image
	params, grads, opt int64
}

func (m benchMemory) total() int64 { return m.perImage*m.batch + m.params + m.grads + m.opt }

type benchReport struct {
	network, backend       string
	workers, batch, warmup int
	times                  []time.Duration
	total                  time.Duration
	mem                    benchMemory
	gpu                    bool  // the backend is a GPU, with
	gpuPeak                int64 // its peak device memory
	rss                    int64
	rssErr                 error
	baseline               int64 // resident set before the first step; 0 if unknown
}

func writeBench(w io.Writer, b benchReport) {
	rates := make([]float64, len(b.times))
	ms := make([]float64, len(b.times))
	for i, t := range b.times {
		rates[i] = float64(b.batch) / t.Seconds()
		ms[i] = float64(t) / float64(time.Millisecond)
	}
	overall := float64(b.batch*len(b.times)) / b.total.Seconds()
	fmt.Fprintf(w, "network:   %s\n", b.network)
	fmt.Fprintf(w, "backend:   %s, %d workers\n", b.backend, b.workers)
	fmt.Fprintf(w, "batch:     %d images, %d warmup + %d timed steps\n", b.batch, b.warmup, len(b.times))
	fmt.Fprintf(w, "images/s:  %.2f median, %.2f overall\n", median(rates), overall)
	fmt.Fprintf(w, "ms/step:   %.1f median, %.1f min, %.1f max\n", median(ms), slices.Min(ms), slices.Max(ms))
	if b.batch == 1 {
		// One image per step: the step's time is the latency of one
		// request, to two decimals since it is a few milliseconds.
		fmt.Fprintf(w, "latency:   %.2f ms per image median, %.2f min\n", median(ms), slices.Min(ms))
	}
	m := b.mem
	fmt.Fprintf(w, "plan peak: %s = activations %s/image × %d + params %s", bytesIEC(m.total()), bytesIEC(m.perImage), m.batch, bytesIEC(m.params))
	if m.grads > 0 || m.opt > 0 {
		fmt.Fprintf(w, " + grads %s + optimizer %s", bytesIEC(m.grads), bytesIEC(m.opt))
	}
	fmt.Fprintln(w)
	if b.gpu {
		fmt.Fprintf(w, "peak GPU:  %.2f GiB (the most device memory the backend held at once)\n", float64(b.gpuPeak)/(1<<30))
	}
	if b.rssErr != nil {
		fmt.Fprintf(w, "peak RSS:  unavailable (%v)\n", b.rssErr)
	} else {
		fmt.Fprintf(w, "peak RSS:  %s (VmHWM: the whole process, Go runtime, executor scratch and packed weights included)\n", bytesIEC(b.rss))
		if b.baseline > 0 {
			fmt.Fprintf(w, "baseline:  %s (VmRSS after compiling, before the first step; the steps add %s)\n", bytesIEC(b.baseline), bytesIEC(b.rss-b.baseline))
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func bytesIEC(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// peakRSS reads the process's peak resident set size (VmHWM) from
// /proc/self/status, in bytes.
func peakRSS() (int64, error) { return procStatus("VmHWM:") }

// procStatus reads one size field of /proc/self/status, in bytes.
func procStatus(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field)
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %v", field, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}
