package onnx_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cellc/compiler"
	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/internal/testnet"
	"cellc/runtime"
	"cellc/runtime/onnx"
)

// exported is one spec's small network written as ONNX, with the images
// it is checked on and cellc's logits for them.
type exported struct {
	name  string // spec, and _nofold when batch norms are kept
	model string // the .onnx file
	input string // the images, raw float32
	dims  []int  // [batch, C, H, W]
	ref   []float32
}

// exportSpecs exports every spec, small, with batch norms folded and
// kept, into dir, and computes the logits of cellc's (folded) inference
// plan on the CPU backend for the same images. Two specs are exported on
// the ImageNet skeleton too, at 35×35: its VALID stem conv, stem cells
// and odd sizes at every stage (asymmetric SAME pads, the shift on odd
// sizes); testdata/edges.cell adds the ops and combiners no published
// spec uses (zeros, instance norm, concat).
func exportSpecs(t *testing.T, dir string) []exported {
	specs, _ := filepath.Glob("../../specs/*.cell")
	if len(specs) == 0 {
		t.Fatal("no specs")
	}
	type build struct {
		spec, name string
		mutate     func(*compiler.Config)
	}
	var builds []build
	for _, spec := range specs {
		builds = append(builds, build{spec, strings.TrimSuffix(filepath.Base(spec), ".cell"), nil})
	}
	imagenet := func(c *compiler.Config) { c.Dataset, c.ImageSize = "imagenet", 35 }
	builds = append(builds,
		build{"../../specs/nasnet_a.cell", "nasnet_a_imagenet35", imagenet},
		build{"../../specs/pnasnet5.cell", "pnasnet5_imagenet35", imagenet},
		build{"testdata/edges.cell", "edges", nil})
	const batch = 3
	var out []exported
	for _, bd := range builds {
		res := buildSmall(t, bd.spec, bd.mutate)
		eps := float32(res.Config.BatchNormEpsilon)
		trained := trainedParams(t, res)
		ref, err := onnx.InferencePlan(res, true)
		if err != nil {
			t.Fatal(err)
		}
		x := images(batch, ref.Input.Shape, 11)
		logits := cpuLogits(t, ref, trained.Lookup, eps, x, batch)
		for _, fold := range []bool{true, false} {
			name := bd.name
			if !fold {
				name += "_nofold"
			}
			p, err := onnx.InferencePlan(res, fold)
			if err != nil {
				t.Fatal(err)
			}
			w, err := onnx.Weights(p, trained.Lookup, eps)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			model, err := onnx.Export(p, w.Value, onnx.Options{Epsilon: eps, ProducerVersion: "test"})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			e := exported{
				name:  name,
				model: filepath.Join(dir, name+".onnx"),
				input: filepath.Join(dir, name+".in"),
				dims:  []int{batch, ref.Input.Shape.C, ref.Input.Shape.H, ref.Input.Shape.W},
				ref:   logits,
			}
			writeFile(t, e.model, model)
			writeFile(t, e.input, f32Bytes(x))
			out = append(out, e)
		}
	}
	return out
}

// TestONNXRuntimeParity runs every spec's exported models (batch norms
// folded and kept) in ONNX Runtime at graph optimisation level "all", and
// at "disabled" to check the graph as written, and compares the logits
// with cellc's inference plan on the CPU backend: within 1e-4 of the
// logits' scale (their largest magnitude). It needs onnxruntime-node
// (scripts/install-onnx-deps.sh) and skips saying so when it is missing.
func TestONNXRuntimeParity(t *testing.T) {
	nodePath := ortNodePath(t)
	dir := t.TempDir()
	type job struct {
		Model  string `json:"model"`
		Input  string `json:"input"`
		Dims   []int  `json:"dims"`
		Output string `json:"output"`
		Level  string `json:"level"`

		name string
		ref  []float32
	}
	var jobs []*job
	for _, e := range exportSpecs(t, dir) {
		for _, level := range []string{"all", "disabled"} {
			jobs = append(jobs, &job{
				Model:  e.model,
				Input:  e.input,
				Dims:   e.dims,
				Output: filepath.Join(dir, e.name+"."+level+".out"),
				Level:  level,
				name:   e.name + "/" + level,
				ref:    e.ref,
			})
		}
	}
	jobFile := filepath.Join(dir, "jobs.json")
	data, _ := json.Marshal(jobs)
	writeFile(t, jobFile, data)

	// One node process runs every model: starting ONNX Runtime costs
	// more than running these networks.
	script, _ := filepath.Abs("../../testdata/onnx/ort_run.js")
	cmd := exec.Command("node", script, jobFile)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ONNX Runtime: %v\n%s", err, out)
	}
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			got := readF32(t, j.Output)
			if len(got) != len(j.ref) {
				t.Fatalf("ONNX Runtime gave %d logits, cellc %d", len(got), len(j.ref))
			}
			var scale, diff float64
			for i := range got {
				scale = max(scale, math.Abs(float64(j.ref[i])))
				diff = max(diff, math.Abs(float64(got[i])-float64(j.ref[i])))
			}
			rel := diff / max(scale, 1e-30)
			t.Logf("max |ORT − cellc| = %.3g, logits' scale %.3g, relative %.3g", diff, scale, rel)
			if rel > 1e-4 || math.IsNaN(rel) {
				t.Errorf("ONNX Runtime's logits differ from cellc's by %.3g relative to their scale %.3g (limit 1e-4)\nORT   %v\ncellc %v", rel, scale, got, j.ref)
			}
		})
	}
}

// TestONNXChecker runs onnx.checker's full check (strict shape inference
// included) on every spec's exported models and checks that the onnx
// package re-serialises each to the same bytes. It needs Debian's
// python3-onnx and skips saying so when it is missing.
func TestONNXChecker(t *testing.T) {
	python := onnxPython(t)
	var models []string
	for _, e := range exportSpecs(t, t.TempDir()) {
		models = append(models, e.model)
	}
	checker, _ := filepath.Abs("../../testdata/onnx/check_model.py")
	out, err := exec.Command(python, append([]string{checker}, models...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker (full check): %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// buildSmall compiles spec for inference as the runtime's tests do
// (testnet.SmallBuild), with TF-slim's ImageNet batch-norm epsilon 1e-3:
// the CIFAR preset's 1e-5 is ONNX's default, which would hide a missing
// epsilon attribute. mutate, if not nil, changes the config further.
func buildSmall(t *testing.T, spec string, mutate func(*compiler.Config)) *compiler.Result {
	t.Helper()
	return testnet.SmallBuild(t, spec, false, func(c *compiler.Config) {
		c.BatchNormEpsilon = 1e-3
		if mutate != nil {
			mutate(c)
		}
	})
}

// trainedParams stands in for a checkpoint: the unfolded network's
// parameters initialised as training starts, with batch-norm statistics
// and affine parameters drawn away from the identity so that folding
// them is exercised.
func trainedParams(t *testing.T, res *compiler.Result) *runtime.Params {
	t.Helper()
	raw, err := onnx.InferencePlan(res, false)
	if err != nil {
		t.Fatal(err)
	}
	p := runtime.NewParams(raw.Params, false)
	p.Init(5)
	r := rand.New(rand.NewPCG(5, 6))
	for i, s := range p.Specs {
		v := p.Value(i)
		for j := range v {
			switch s.Kind {
			case plan.Gamma:
				v[j] = float32(1 + 0.2*r.NormFloat64())
			case plan.Beta, plan.MovingMean, plan.Biases:
				v[j] = float32(0.2 * r.NormFloat64())
			case plan.MovingVariance:
				v[j] = float32(0.5 + r.Float64())
			}
		}
	}
	return p
}

// cpuLogits runs inference plan p on the CPU backend.
func cpuLogits(t *testing.T, p *plan.Plan, trained func(string) ([]float32, bool), eps float32, x []float32, n int) []float32 {
	t.Helper()
	ex, err := runtime.CPU{}.Compile(p, n, runtime.Options{BatchNormEpsilon: eps, BatchNormDecay: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	if err := runtime.LoadFolded(p, ex.Params(), trained, eps); err != nil {
		t.Fatal(err)
	}
	ex.SetTraining(false)
	logits, _ := ex.Forward(x, n, 1)
	return append([]float32(nil), logits...)
}

func images(n int, s ir.Shape, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*s.Elems())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// ortNodePath is the node_modules folder holding onnxruntime-node:
// $CELLC_ORT_DIR/node_modules, by default ~/.cache/cellc-ort/node_modules
// (where scripts/install-onnx-deps.sh installs it).
func ortNodePath(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed (Node.js runs onnxruntime-node); run scripts/install-onnx-deps.sh")
	}
	dir := os.Getenv("CELLC_ORT_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("no home directory to find onnxruntime-node in: %v", err)
		}
		dir = filepath.Join(home, ".cache", "cellc-ort")
	}
	mods := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "onnxruntime-node", "package.json")); err != nil {
		t.Skipf("onnxruntime-node is not installed in %s; run scripts/install-onnx-deps.sh", dir)
	}
	return mods
}

// onnxPython is a python3 that imports onnx (Debian's python3-onnx is
// installed for /usr/bin/python3, which a pyenv python3 on PATH may
// hide).
func onnxPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(py, "-c", "import onnx.checker").Run(); err == nil {
			return py
		}
	}
	t.Skip("no python3 with the onnx package (Debian's python3-onnx); run scripts/install-onnx-deps.sh")
	return ""
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("%s: %d bytes, not float32s", path, len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(fmt.Errorf("writing %s: %v", path, err))
	}
}
