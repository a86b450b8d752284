package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
)

// BenchmarkBuildNASNetALarge measures the whole compile of NASNet-A
// 6 @ 4032 (TF-slim's large_imagenet_config): parse, check, build, the
// pass pipeline and lowering to a plan.
func BenchmarkBuildNASNetALarge(b *testing.B) {
	const path = "../specs/nasnet_a.cell"
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := compiler.Preset("large")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, diags := lang.Parse(path, src)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		res, diags := compiler.Build(f, cfg, compiler.Options{})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if _, err := plan.Lower(res.Graph); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBenchMemory(t *testing.T) {
	m := benchMemory{perImage: 1 << 20, batch: 32, params: 100, grads: 100, opt: 100}
	if got, want := m.total(), int64(32<<20+300); got != want {
		t.Errorf("total = %d, want %d", got, want)
	}
	for n, want := range map[int64]string{12: "12 B", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 3 << 29: "1.50 GiB"} {
		if got := bytesIEC(n); got != want {
			t.Errorf("bytesIEC(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPeakRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status")
	}
	rss, err := peakRSS()
	if err != nil {
		t.Fatal(err)
	}
	// A Go test binary's peak resident set is megabytes, not bytes or
	// terabytes.
	if rss < 1<<20 || rss > 1<<40 {
		t.Errorf("peak RSS %d bytes is implausible", rss)
	}
}

// A GPU backend's peak device memory is one more line, in GiB, after the
// plan's figure; the CPU's report has none.
func TestWriteBenchGPU(t *testing.T) {
	b := benchReport{network: "n", backend: "cpu (x)", workers: 1, batch: 2,
		times: []time.Duration{time.Millisecond}, total: time.Millisecond, mem: benchMemory{perImage: 1, batch: 2}, rss: 1 << 20}
	var cpu bytes.Buffer
	writeBench(&cpu, b)
	if strings.Contains(cpu.String(), "GPU") {
		t.Errorf("the CPU report mentions a GPU:\n%s", cpu.String())
	}
	b.backend, b.gpu, b.gpuPeak = "cuda (H100)", true, 3<<29
	var gpu bytes.Buffer
	writeBench(&gpu, b)
	want := "plan peak: 2 B = activations 1 B/image × 2 + params 0 B\npeak GPU:  1.50 GiB (the most device memory the backend held at once)\npeak RSS:  "
	if !strings.Contains(gpu.String(), want) || !strings.Contains(gpu.String(), "backend:   cuda (H100), 1 workers\n") {
		t.Errorf("GPU report:\n%s\nwant it to contain:\n%s", gpu.String(), want)
	}
}

// At batch 1 the report also gives the latency per image; at larger
// batches it does not (a step's time is then the batch's).
func TestWriteBenchLatency(t *testing.T) {
	b := benchReport{network: "n", backend: "cpu (x)", workers: 2, batch: 1,
		times: []time.Duration{3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}, total: 9 * time.Millisecond, mem: benchMemory{perImage: 1, batch: 1}, rss: 1 << 20}
	var one bytes.Buffer
	writeBench(&one, b)
	if want := "latency:   3.00 ms per image median, 2.00 min\n"; !strings.Contains(one.String(), want) {
		t.Errorf("batch 1 report:\n%s\nwant it to contain %q", one.String(), want)
	}
	b.batch = 2
	var two bytes.Buffer
	writeBench(&two, b)
	if strings.Contains(two.String(), "latency") {
		t.Errorf("batch 2 report gives a latency:\n%s", two.String())
	}
}
