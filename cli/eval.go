package cli

import (
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // predict reads JPEG
	_ "image/png"  // and PNG
	"math"
	"os"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
	"cellc/runtime"
	"cellc/runtime/checkpoint"
	"cellc/runtime/data"
	"cellc/runtime/kernels"
	"cellc/runtime/train"
)

// loaded is a network rebuilt from a self-describing checkpoint.
type loaded struct {
	cfg     compiler.Config
	exec    runtime.Executable
	stepper *runtime.Stepper
	meta    map[string]string
	plan    *plan.Plan
}

// loadCheckpoint rebuilds the network a checkpoint was trained as (its
// spec text and config are inside), compiles it on backend and loads its
// weights.
func loadCheckpoint(path string, batch int, backend runtime.Backend) (*loaded, error) {
	tensors, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, fail(err)
	}
	src, ok := meta[checkpoint.KeySpec]
	if !ok {
		return nil, failf("%s: the checkpoint does not record its spec (not written by cellc train)", path)
	}
	var cfg compiler.Config
	if err := yaml.Unmarshal([]byte(meta[checkpoint.KeyConfig]), &cfg); err != nil {
		return nil, failf("%s: bad config in checkpoint: %v", path, err)
	}
	name := path + "#spec"
	f, diags := lang.Parse(name, []byte(src))
	if diags.HasErrors() {
		return nil, failf("%s: the recorded spec does not parse: %v", path, diags)
	}
	cfg.Network = meta[checkpoint.KeyNetwork]
	// The inference plan: BN folded into the convs, no aux head, buffers
	// shared by liveness. Its parameters are built from the trained ones.
	cfg.Training = false
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	if diags.HasErrors() {
		return nil, failf("%s: the recorded spec does not build: %v", path, diags)
	}
	p, err := plan.Lower(res.Graph)
	if err != nil {
		return nil, failf("%v", err)
	}
	exec, err := backend.Compile(p, batch, runtime.Options{BatchNormEpsilon: float32(cfg.BatchNormEpsilon), BatchNormDecay: float32(cfg.BatchNormDecay)})
	if err != nil {
		return nil, failf("%v", err)
	}
	byName := make(map[string][]float32, len(tensors))
	for _, t := range tensors {
		byName[t.Name] = t.Data
	}
	lookup := func(name string) ([]float32, bool) { v, ok := byName[name]; return v, ok }
	if err := runtime.LoadFolded(p, exec.Params(), lookup, float32(cfg.BatchNormEpsilon)); err != nil {
		exec.Close()
		return nil, failf("%s: %v", path, err)
	}
	exec.SetTraining(false)
	st := runtime.NewStepper(exec, nil, runtime.Recipe{}, cfg.Classes, batch)
	return &loaded{cfg: cfg, exec: exec, stepper: st, meta: meta, plan: p}, nil
}

func newEvalCmd() *cobra.Command {
	var df dataFlags
	var batch int
	var device string
	cmd := &cobra.Command{
		Use:   "eval CHECKPOINT",
		Short: "Print top-1 and top-5 accuracy of a checkpoint on a data set's test split",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			backend, closeDevice, err := openDevice(device)
			if err != nil {
				return err
			}
			defer closeDevice()
			l, err := loadCheckpoint(args[0], batch, backend)
			if err != nil {
				return err
			}
			defer l.exec.Close()
			_, val, test, _, err := openData(&df, l.cfg.ImageSize, l.cfg.Channels, l.cfg.Classes)
			if err != nil {
				return fail(err)
			}
			ds, split := test, "test"
			if ds == nil {
				ds, split = val, "validation"
			}
			if s := ds.Shape(); s.H != l.cfg.ImageSize || s.C != l.cfg.Channels {
				return failf("the checkpoint takes %dx%dx%d images; %s has %v", l.cfg.ImageSize, l.cfg.ImageSize, l.cfg.Channels, df.name, s)
			}
			sc, err := train.Evaluate(l.stepper, ds, batch)
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: top-1 %.2f%%, top-5 %.2f%%, loss %.4f (%d images)\n", df.name, split, 100*sc.Top1, 100*sc.Top5, sc.Loss, sc.Images)
			return nil
		},
	}
	addDataFlags(cmd, &df)
	cmd.Flags().IntVar(&batch, "batch", 64, "evaluation batch size")
	addDeviceFlag(cmd, &device)
	return cmd
}

func newPredictCmd() *cobra.Command {
	var top int
	var device string
	cmd := &cobra.Command{
		Use:   "predict CHECKPOINT IMAGE...",
		Short: "Print the top classes a checkpoint predicts for PNG or JPEG images",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			backend, closeDevice, err := openDevice(device)
			if err != nil {
				return err
			}
			defer closeDevice()
			l, err := loadCheckpoint(args[0], 1, backend)
			if err != nil {
				return err
			}
			defer l.exec.Close()
			var names []string
			json.Unmarshal([]byte(l.meta["cellc.classes"]), &names)
			var norm data.Norm
			json.Unmarshal([]byte(l.meta["cellc.norm"]), &norm)
			size, ch := l.cfg.ImageSize, l.cfg.Channels
			x := make([]float32, ch*size*size)
			idx := make([]int, top)
			w := cmd.OutOrStdout()
			for _, path := range args[1:] {
				if err := readImage(path, size, ch, norm, x); err != nil {
					return fail(err)
				}
				logits, err := forwardOne(l.exec, x)
				if err != nil {
					return fail(err)
				}
				probs := softmax(logits)
				kernels.TopK(logits, top, idx)
				fmt.Fprintf(w, "%s:", path)
				for _, k := range idx[:min(top, len(logits))] {
					name := fmt.Sprint(k)
					if k < len(names) {
						name = names[k]
					}
					fmt.Fprintf(w, " %s %.1f%%", name, 100*probs[k])
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&top, "top", 3, "how many classes to print")
	addDeviceFlag(cmd, &device)
	return cmd
}

// readImage decodes an image, resizes it to size×size (bilinear, after a
// centre square crop), converts to ch channels and normalises it.
func readImage(path string, size, ch int, norm data.Norm, x []float32) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	img, _, err := image.Decode(fh)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	for i := 0; i < size; i++ {
		for j := 0; j < size; j++ {
			sx := x0 + min(side-1, (2*j+1)*side/(2*size))
			sy := y0 + min(side-1, (2*i+1)*side/(2*size))
			r, g, bl, _ := img.At(sx, sy).RGBA()
			rgb := [3]float32{float32(r) / 65535, float32(g) / 65535, float32(bl) / 65535}
			for c := 0; c < ch; c++ {
				v := rgb[min(c, 2)]
				if ch == 1 {
					v = 0.299*rgb[0] + 0.587*rgb[1] + 0.114*rgb[2]
				}
				if c < len(norm.Mean) && norm.Std[c] != 0 {
					v = (v - norm.Mean[c]) / norm.Std[c]
				}
				x[c*size*size+i*size+j] = v
			}
		}
	}
	return nil
}

func softmax(logits []float32) []float64 {
	m := float64(logits[0])
	for _, v := range logits {
		m = max(m, float64(v))
	}
	out := make([]float64, len(logits))
	var s float64
	for i, v := range logits {
		out[i] = expf(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func expf(x float64) float64 { return math.Exp(x) }

// forwardOne runs one image, a device failure returned as an error.
func forwardOne(exec runtime.Executable, x []float32) (logits []float32, err error) {
	defer runtime.CatchDeviceError(&err)
	logits, _ = exec.Forward(x, 1, 1)
	return logits, nil
}
