package runtime

import (
	"fmt"
	"math"

	"cellc/compiler/plan"
)

// Recipe is a training recipe: optimiser, schedule and regularisation.
// The defaults for CIFAR and ImageNet are TF-slim's (nasnet.py comments and
// train_image_classifier flags); every field can be set from YAML.
type Recipe struct {
	Epochs         int     `yaml:"epochs"`
	BatchSize      int     `yaml:"batch_size"`
	Optimizer      string  `yaml:"optimizer"` // sgd (momentum) or rmsprop
	LR             float64 `yaml:"lr"`
	Momentum       float64 `yaml:"momentum"`
	RMSDecay       float64 `yaml:"rmsprop_decay"`
	RMSEpsilon     float64 `yaml:"rmsprop_epsilon"`
	WeightDecay    float64 `yaml:"weight_decay"` // L2 on conv and dense weights
	Schedule       string  `yaml:"schedule"`     // cosine, exponential or constant
	DecayRate      float64 `yaml:"decay_rate"`   // exponential: factor per DecayEpochs
	DecayEpochs    float64 `yaml:"decay_epochs"`
	WarmupEpochs   float64 `yaml:"warmup_epochs"`
	LabelSmoothing float64 `yaml:"label_smoothing"`
	AuxWeight      float64 `yaml:"aux_weight"`
	ClipNorm       float64 `yaml:"clip_norm"` // global gradient norm; 0 = off
	EMADecay       float64 `yaml:"ema_decay"` // moving average of weights for evaluation; 0 = off
	Seed           uint64  `yaml:"seed"`
}

// CIFARRecipe is the paper's CIFAR-10 recipe (A.5 and TF-slim): SGD with
// momentum 0.9, L2 5e-4, single-period cosine decay from 0.025, batch 32,
// aux head weight 0.4, gradient clipping at norm 5.
func CIFARRecipe() Recipe {
	return Recipe{Epochs: 600, BatchSize: 32, Optimizer: "sgd", LR: 0.025, Momentum: 0.9,
		WeightDecay: 5e-4, Schedule: "cosine", AuxWeight: 0.4, ClipNorm: 5, Seed: 1}
}

// ImageNetRecipe is TF-slim's ImageNet recipe: RMSProp (decay 0.9,
// momentum 0.9, epsilon 1.0), exponential decay 0.97 every 2.4 epochs,
// label smoothing 0.1, EMA of weights 0.9999 for evaluation.
func ImageNetRecipe() Recipe {
	return Recipe{Epochs: 312, BatchSize: 32, Optimizer: "rmsprop", LR: 0.04, Momentum: 0.9,
		RMSDecay: 0.9, RMSEpsilon: 1.0, WeightDecay: 4e-5, Schedule: "exponential",
		DecayRate: 0.97, DecayEpochs: 2.4, LabelSmoothing: 0.1, AuxWeight: 0.4, ClipNorm: 10,
		EMADecay: 0.9999, Seed: 1}
}

// Validate reports a recipe field that cannot work.
func (r Recipe) Validate() error {
	switch {
	case r.Epochs < 1:
		return fmt.Errorf("epochs must be at least 1, got %d", r.Epochs)
	case r.BatchSize < 1:
		return fmt.Errorf("batch size must be at least 1, got %d", r.BatchSize)
	case r.Optimizer != "sgd" && r.Optimizer != "rmsprop":
		return fmt.Errorf("unknown optimizer %q (want sgd or rmsprop)", r.Optimizer)
	case r.LR <= 0 || r.LR > 100:
		return fmt.Errorf("learning rate %g is out of range", r.LR)
	case r.Schedule != "cosine" && r.Schedule != "exponential" && r.Schedule != "constant":
		return fmt.Errorf("unknown schedule %q (want cosine, exponential or constant)", r.Schedule)
	case r.Schedule == "exponential" && (r.DecayEpochs <= 0 || r.DecayRate <= 0):
		return fmt.Errorf("exponential decay needs decay_rate and decay_epochs > 0")
	case r.LabelSmoothing < 0 || r.LabelSmoothing >= 1:
		return fmt.Errorf("label smoothing %g must be in [0, 1)", r.LabelSmoothing)
	case r.EMADecay < 0 || r.EMADecay >= 1:
		return fmt.Errorf("ema_decay %g must be in [0, 1)", r.EMADecay)
	}
	return nil
}

// LRAt is the learning rate at a point of training, given as the epoch
// (fractional) out of the recipe's total.
func (r Recipe) LRAt(epoch float64) float64 {
	lr := r.LR
	switch r.Schedule {
	case "cosine":
		lr = r.LR * 0.5 * (1 + math.Cos(math.Pi*math.Min(1, epoch/float64(r.Epochs))))
	case "exponential":
		lr = r.LR * math.Pow(r.DecayRate, math.Floor(epoch/r.DecayEpochs)) // staircase, as TF-slim
	}
	if r.WarmupEpochs > 0 && epoch < r.WarmupEpochs {
		lr *= epoch / r.WarmupEpochs
	}
	return lr
}

// Optimizer updates parameters from their gradients. Its state (moments,
// EMA) is parameter-shaped and saved with checkpoints.
type Optimizer struct {
	recipe Recipe
	params *Params
	// Slot holds the momentum (SGD) or the mean square and momentum
	// (RMSProp) and the EMA shadow, each laid out like Params.Data.
	Slots map[string][]float32
	Step  int64
}

// Recipe is the recipe the optimiser follows.
func (o *Optimizer) Recipe() Recipe { return o.recipe }

// NewOptimizer prepares optimiser state for params.
func NewOptimizer(r Recipe, p *Params) *Optimizer {
	o := &Optimizer{recipe: r, params: p, Slots: map[string][]float32{}}
	o.Slots["momentum"] = make([]float32, len(p.Data))
	if r.Optimizer == "rmsprop" {
		ms := make([]float32, len(p.Data))
		for i := range ms {
			ms[i] = 1 // TF initialises the mean square to 1
		}
		o.Slots["ms"] = ms
	}
	if r.EMADecay > 0 {
		o.Slots["ema"] = append([]float32(nil), p.Data...)
	}
	return o
}

// Apply adds weight decay to the gradients, clips them by global norm,
// takes one step at learning rate lr, and updates the EMA. It returns the
// gradient norm before clipping.
func (o *Optimizer) Apply(lr float64) float64 {
	p, r := o.params, o.recipe
	wd := float32(r.WeightDecay)
	var norm2 float64
	for i, s := range p.Specs {
		if !s.Trainable {
			continue
		}
		g := p.Gradient(i)
		if s.Kind == plan.Weights && wd > 0 {
			w := p.Value(i)
			for j := range g {
				g[j] += wd * w[j]
			}
		}
		for _, v := range g {
			norm2 += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(norm2)
	scale := float32(1)
	if r.ClipNorm > 0 && norm > r.ClipNorm {
		scale = float32(r.ClipNorm / norm)
	}
	mom := o.Slots["momentum"]
	m, l := float32(r.Momentum), float32(lr)
	for i, s := range p.Specs {
		if !s.Trainable {
			continue
		}
		off, n := p.Off[i], int(s.Elems())
		w, g, a := p.Data[off:off+n], p.Grad[off:off+n], mom[off:off+n]
		switch r.Optimizer {
		case "rmsprop":
			ms := o.Slots["ms"][off : off+n]
			d, eps := float32(r.RMSDecay), float32(r.RMSEpsilon)
			for j := range w {
				gj := g[j] * scale
				ms[j] = d*ms[j] + (1-d)*gj*gj
				a[j] = m*a[j] + l*gj/float32(math.Sqrt(float64(ms[j]+eps)))
				w[j] -= a[j]
			}
		default: // TF MomentumOptimizer: accum = m·accum + g; w -= lr·accum
			for j := range w {
				a[j] = m*a[j] + g[j]*scale
				w[j] -= l * a[j]
			}
		}
	}
	if ema := o.Slots["ema"]; ema != nil {
		// TF's ExponentialMovingAverage with num_updates: the decay is
		// min(decay, (1+step)/(10+step)) so early averages track quickly.
		d := math.Min(r.EMADecay, float64(1+o.Step)/float64(10+o.Step))
		df := float32(d)
		for j, v := range p.Data {
			ema[j] = df*ema[j] + (1-df)*v
		}
	}
	o.Step++
	return norm
}

// SwapEMA exchanges the parameters with their moving average (call twice
// to swap back); a no-op without EMA.
func (o *Optimizer) SwapEMA() {
	ema := o.Slots["ema"]
	if ema == nil {
		return
	}
	for j := range ema {
		o.params.Data[j], ema[j] = ema[j], o.params.Data[j]
	}
}
