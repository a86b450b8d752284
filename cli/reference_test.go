package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
	"cellc/runtime"
	"cellc/runtime/checkpoint"
	"cellc/runtime/train"
)

// referencePython is Debian's interpreter, where python3-torch installs.
const referencePython = "/usr/bin/python3"

// TestTFSlimReference checks cellc's NASNet-A wiring against an
// independent forward reference: testdata/reference/tfslim_nasnet.py, a
// PyTorch NASNet-A written from TF-slim's nasnet.py and nasnet_utils.py
// (cell op lists and hidden-state indices, _reduce_prev_layer, the
// factorized reduction with its shifted path, the output concat with the
// previous layer, the CIFAR stem and classifier), not from cellc's
// compiler. cellc train writes a real checkpoint of a small CIFAR-skeleton
// network (two: even and odd image sizes); its batch-norm parameters and
// the classifier's biases are redrawn with a fixed seed and its moving
// statistics recalibrated (perturbCheckpoint), so every one of them shows;
// cellc's inference path (loadCheckpoint: the BN-folded inference plan,
// as eval and predict use) and the reference, which takes every parameter
// by name and fails on any it does not consume, compute logits for the
// same images: they must agree within 1e-4 of the logits' scale. The
// reference is also run with deliberate wiring mistakes (swapped
// hidden-state indices, the factorized reduction's shift dropped,
// symmetric instead of TF SAME padding, the previous-layer input rule
// flipped, the previous layer left out of the concat), each of which must
// be caught, and on checkpoints with a tensor too many or too few, which
// it must refuse naming the tensor. Needs Debian's python3-torch (run by
// /usr/bin/python3); skips naming it otherwise.
func TestTFSlimReference(t *testing.T) {
	if out, err := exec.Command(referencePython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("python3-torch is not installed (%s -c 'import torch': %v %s); as root: apt-get install -y python3-torch", referencePython, err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	type net struct {
		name  string
		flags []string
	}
	nets := []net{
		// Even sizes: 16 → 8 → 4.
		{"n2_f8_16px", []string{"--n", "2", "--base-filters", "8", "--image-size", "16", "--channels", "3", "--classes", "5"}},
		// Odd sizes at every stage (15 → 8 → 4): asymmetric SAME pads
		// and the shifted path's padding; stem multiplier 3 on 6 filters.
		{"n1_f6_15px", []string{"--n", "1", "--base-filters", "6", "--image-size", "15", "--channels", "2", "--classes", "7"}},
	}
	mutations := []string{"reduction-idx", "normal-idx", "no-shift", "symmetric-pad", "skip-reduction-input", "no-prev-concat"}
	type job struct {
		Checkpoint string `json:"checkpoint"`
		Input      string `json:"input"`
		Dims       []int  `json:"dims"`
		Output     string `json:"output"`
		Mutate     string `json:"mutate"`

		name    string
		ref     []float32
		wantErr string // the reference must fail saying this
	}
	var jobs []*job
	const batch = 3
	for i, nt := range nets {
		runDir := filepath.Join(dir, nt.name)
		args := append([]string{"train", "../specs/nasnet_a.cell", "--aux-head=false", "--data", "synthetic",
			"--synthetic-size", "32", "--epochs", "1", "--batch", "16", "--lr", "1e-4", "--out", runDir}, nt.flags...)
		var out, errb bytes.Buffer
		if code := run_(args, &out, &errb); code != 0 {
			t.Fatalf("%s: train: exit %d: %s", nt.name, code, errb.String())
		}
		ckpt := perturbCheckpoint(t, filepath.Join(runDir, "checkpoint.safetensors"), filepath.Join(dir, nt.name+".safetensors"), uint64(7+i))
		l, err := loadCheckpoint(ckpt, batch, runtime.CPU{})
		if err != nil {
			t.Fatalf("%s: %v", nt.name, err)
		}
		c, s := l.cfg.Channels, l.cfg.ImageSize
		r := rand.New(rand.NewPCG(uint64(11+i), 1))
		x := make([]float32, batch*c*s*s)
		for k := range x {
			x[k] = float32(r.NormFloat64())
		}
		logits, _ := l.exec.Forward(x, batch, 1)
		ref := append([]float32(nil), logits...)
		l.exec.Close()
		input := filepath.Join(dir, nt.name+".in")
		if err := os.WriteFile(input, f32LE(x), 0o644); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// A checkpoint with a tensor the reference does not consume,
			// and one without a parameter it needs: both must fail loudly,
			// naming the tensor.
			tensors, meta, err := checkpoint.Load(ckpt)
			if err != nil {
				t.Fatal(err)
			}
			extra := filepath.Join(dir, "extra.safetensors")
			save(t, extra, append(tensors, checkpoint.Tensor{Name: "cell_0/comb_iter_9/left/extra/weights", Shape: []int{2}, Data: []float32{1, 2}}), meta)
			var fewer []checkpoint.Tensor
			for _, x := range tensors {
				if x.Name != "cell_1/comb_iter_4/left/sep3x3/bn_2/moving_variance" {
					fewer = append(fewer, x)
				}
			}
			if len(fewer) == len(tensors) {
				t.Fatal("no cell_1/comb_iter_4/left/sep3x3/bn_2/moving_variance in the checkpoint")
			}
			missing := filepath.Join(dir, "missing.safetensors")
			save(t, missing, fewer, meta)
			for _, bad := range []struct{ path, name string }{
				{extra, "not consumed by the reference: cell_0/comb_iter_9/left/extra/weights"},
				{missing, "missing cell_1/comb_iter_4/left/sep3x3/bn_2/moving_variance"},
			} {
				jobs = append(jobs, &job{Checkpoint: bad.path, Input: input, Dims: []int{batch, c, s, s},
					Output: filepath.Join(dir, filepath.Base(bad.path)+".out"), name: nt.name + "/" + filepath.Base(bad.path), wantErr: bad.name})
			}
		}
		for _, m := range append([]string{""}, mutations...) {
			name := nt.name
			if m != "" {
				name += "/mutated/" + m
			}
			jobs = append(jobs, &job{Checkpoint: ckpt, Input: input, Dims: []int{batch, c, s, s},
				Output: filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".out"), Mutate: m, name: name, ref: ref})
		}
	}
	jobFile := filepath.Join(dir, "jobs.json")
	data, _ := json.Marshal(jobs)
	if err := os.WriteFile(jobFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("../testdata/reference/tfslim_nasnet.py")
	if out, err := exec.Command(referencePython, script, jobFile).CombinedOutput(); err != nil {
		t.Fatalf("the reference: %v\n%s", err, out)
	}
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			got, rel, failure := referenceResult(j.Output, j.ref)
			if j.wantErr != "" {
				if !strings.Contains(failure, j.wantErr) {
					t.Fatalf("the reference should fail with %q; got %q (relative difference %.3g)", j.wantErr, failure, rel)
				}
				t.Logf("failed as it should: …%s…", j.wantErr)
				return
			}
			if j.Mutate == "" {
				if failure != "" {
					t.Fatalf("%s\ncellc %v", failure, j.ref)
				}
				t.Logf("max |reference − cellc| / max |cellc| = %.3g (logits' scale %.3g)", rel, maxAbs(j.ref))
				if rel > 1e-4 {
					t.Errorf("the TF-slim reference's logits differ from cellc's by %.3g of their scale (limit 1e-4)\nreference %v\ncellc     %v", rel, got, j.ref)
				}
				return
			}
			// A deliberate wiring mistake must be caught: either the
			// parameters no longer fit, or the logits differ.
			switch {
			case strings.Contains(failure, "checkpoint and reference disagree") || strings.Contains(failure, "RuntimeError"):
				t.Logf("caught: %s", firstLine(failure))
			case failure != "":
				t.Errorf("mutation %s broke the reference instead of its wiring: %s", j.Mutate, failure)
			case rel > 1e-4:
				t.Logf("caught: logits differ by %.3g of their scale", rel)
			default:
				t.Errorf("mutation %s was not caught (relative difference %.3g)", j.Mutate, rel)
			}
		})
	}
}

// referenceResult reads a reference job's logits and their largest
// difference from ref relative to ref's largest magnitude, or the reason
// it failed.
func referenceResult(path string, ref []float32) ([]float32, float64, string) {
	if e, err := os.ReadFile(path + ".err"); err == nil {
		var msg struct{ Error string }
		json.Unmarshal(e, &msg)
		return nil, 0, "the reference failed: " + msg.Error
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err.Error()
	}
	got := make([]float32, len(raw)/4)
	for i := range got {
		got[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	if len(got) != len(ref) {
		return got, 0, "the reference gave " + strconv.Itoa(len(got)) + " logits, cellc " + strconv.Itoa(len(ref))
	}
	var diff float64
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(ref[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		diff = max(diff, d)
	}
	return got, diff / max(maxAbs(ref), 1e-30), ""
}

// perturbCheckpoint rewrites a checkpoint's parameters (optimizer slots
// dropped, metadata kept) so that every batch-norm parameter and the
// classifier's biases show in the logits: gammas, betas and biases are
// drawn at random with a fixed seed, the moving statistics are set to the
// batch statistics of the training plan on random images (so that
// activations stay of order one through the cells) and then moved off
// them a little.
func perturbCheckpoint(t *testing.T, src, dst string, seed uint64) string {
	t.Helper()
	tensors, meta, err := checkpoint.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg compiler.Config
	if err := yaml.Unmarshal([]byte(meta[checkpoint.KeyConfig]), &cfg); err != nil {
		t.Fatal(err)
	}
	f, diags := lang.Parse(src+"#spec", []byte(meta[checkpoint.KeySpec]))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg.Network = meta[checkpoint.KeyNetwork]
	cfg.Training, cfg.DropPathKeepProb, cfg.DenseDropoutKeepProb = true, 1, 1
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, err := plan.Lower(res.Graph)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 16
	// A decay of (nearly) 0 makes the moving statistics the last batch's
	// (0 itself means the default).
	ex, err := runtime.CPU{}.Compile(p, batch, runtime.Options{BatchNormEpsilon: float32(cfg.BatchNormEpsilon), BatchNormDecay: 1e-6, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	if err := train.LoadParams(ex.Params(), tensors, src); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	P := ex.Params()
	perturb := func(final bool) {
		for i, sp := range P.Specs {
			v := P.Value(i)
			for k := range v {
				switch {
				case !final && strings.HasSuffix(sp.Name, "/gamma"):
					v[k] = float32(1 + 0.3*r.NormFloat64())
				case !final && (strings.HasSuffix(sp.Name, "/beta") || strings.HasSuffix(sp.Name, "/biases")):
					v[k] = float32(0.3 * r.NormFloat64())
				case final && strings.HasSuffix(sp.Name, "/moving_mean"):
					v[k] += float32(0.1 * r.NormFloat64())
				case final && strings.HasSuffix(sp.Name, "/moving_variance"):
					v[k] *= float32(0.7 + 0.6*r.Float64())
				}
			}
		}
	}
	perturb(false)
	x := make([]float32, batch*p.Input.Shape.Elems())
	for k := range x {
		x[k] = float32(r.NormFloat64())
	}
	ex.SetTraining(true)
	ex.Forward(x, batch, 0)
	perturb(true)
	out := train.ParamTensors(P)
	if err := checkpoint.Save(dst, out, meta); err != nil {
		t.Fatal(err)
	}
	return dst
}

func f32LE(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
