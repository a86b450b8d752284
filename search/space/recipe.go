package space

import (
	"fmt"
	"math"
	"strings"

	"cellc/compiler"
	"cellc/runtime"
)

// Recipe is how a child network is built and trained: the data set, the
// network's size and the training schedule. Field names follow `cellc
// train`'s flags. The network is stacked into the space's skeleton:
// NASNet's CIFAR skeleton (a 3x3 stem, N normal cells per stage, two
// reduction cells) unless the space names another.
type Recipe struct {
	// Dataset is one `cellc train --data` reads: cifar10, fashion-mnist,
	// mnist, folder or synthetic.
	Dataset string `yaml:"dataset"`
	// DataDir is where it lives (cifar10: the cifar-10-batches-bin folder;
	// folder: train/ and val/ class folders; fashion-mnist: found when
	// empty). It is checked when the data is opened, not here, so that a
	// command-line flag can supply it.
	DataDir string `yaml:"data_dir"`
	// Val is the number of training images held out for the reward
	// (fashion-mnist, mnist). cifar10 always holds out 5,000 of its
	// 50,000 (the paper's 45k/5k split).
	Val int `yaml:"val"`
	// TrainImages, when positive, trains on the first TrainImages images
	// of the training split only (a cheap proxy for small machines).
	TrainImages int `yaml:"train_images"`
	// SyntheticSize is the number of training images of the synthetic
	// data set.
	SyntheticSize int `yaml:"synthetic_size"`
	// ImageSize, Channels and Classes describe the input; 0 takes the
	// data set's (folder needs image_size and classes).
	ImageSize int `yaml:"image_size"`
	Channels  int `yaml:"channels"`
	Classes   int `yaml:"classes"`

	// N is the number of normal cells per stage (paper's search: 2),
	// for skeletons that count cells per stage (NASNet's).
	N int `yaml:"n"`
	// Layers is the number of cells in all, for skeletons that count
	// layers (DARTS'); 0 = the skeleton's default.
	Layers int `yaml:"layers,omitempty"`
	// BaseFilters is TF-slim's num_conv_filters, the first stage's F.
	BaseFilters int `yaml:"base_filters"`
	// AuxHead adds the auxiliary head; AuxWeight weighs its loss.
	AuxHead   bool    `yaml:"aux_head"`
	AuxWeight float64 `yaml:"aux_weight"`
	// DropPathKeepProb is ScheduledDropPath's final keep probability;
	// 1 turns drop path off.
	DropPathKeepProb float64 `yaml:"drop_path_keep_prob"`

	Epochs      int     `yaml:"epochs"`
	Batch       int     `yaml:"batch"`
	LR          float64 `yaml:"lr"`
	Schedule    string  `yaml:"schedule"` // cosine, exponential or constant
	Momentum    float64 `yaml:"momentum"`
	WeightDecay float64 `yaml:"weight_decay"`
	ClipNorm    float64 `yaml:"clip_norm"` // 0 = off
	Seed        uint64  `yaml:"seed"`
	// Workers is the compute workers of one child (0 = all cores).
	Workers int `yaml:"workers"`
}

// ChildRecipe is the paper's child training (appendix A.1, A.6): CIFAR-10
// with 5,000 training images held out, N = 2, 20 epochs, single-period
// cosine decay, momentum 0.9, L2 weight decay. The paper gives neither the
// children's width nor their batch and learning rate; those are TF-slim's
// CIFAR values (32 filters, batch 32, lr 0.025, clipping at 5). Children
// are trained without the aux head and without drop path.
func ChildRecipe() Recipe {
	return Recipe{
		Dataset: "cifar10", Val: 5000, SyntheticSize: 2048,
		N: 2, BaseFilters: 32, AuxWeight: 0.4, DropPathKeepProb: 1,
		Epochs: 20, Batch: 32, LR: 0.025, Schedule: "cosine", Momentum: 0.9,
		WeightDecay: 5e-4, ClipNorm: 5, Seed: 1,
	}
}

// datasetInput is the input shape and classes of the data sets whose
// shape is known without reading them.
func datasetInput(name string) (size, channels, classes int, known bool) {
	switch name {
	case "cifar10":
		return 32, 3, 10, true
	case "fashion-mnist", "mnist":
		return 28, 1, 10, true
	case "synthetic":
		return 32, 3, 10, true
	case "folder":
		return 0, 3, 0, true
	}
	return 0, 0, 0, false
}

// Datasets are the data set names a recipe accepts.
var Datasets = []string{"cifar10", "fashion-mnist", "mnist", "folder", "synthetic"}

// Input is the image size, channels and classes the child takes: the
// recipe's where set, else the data set's.
func (r Recipe) Input() (size, channels, classes int) {
	size, channels, classes, _ = datasetInput(r.Dataset)
	if r.ImageSize > 0 {
		size = r.ImageSize
	}
	if r.Channels > 0 {
		channels = r.Channels
	}
	if r.Classes > 0 {
		classes = r.Classes
	}
	return size, channels, classes
}

// Validate reports a field that cannot work.
func (r Recipe) Validate() error {
	if _, _, _, ok := datasetInput(r.Dataset); !ok {
		return fmt.Errorf("unknown dataset %q (want %s)", r.Dataset, strings.Join(Datasets, ", "))
	}
	if r.Dataset == "folder" && (r.ImageSize == 0 || r.Classes == 0) {
		return fmt.Errorf("dataset folder needs image_size and classes")
	}
	switch {
	case r.Val < 0 || r.TrainImages < 0 || r.SyntheticSize < 0:
		return fmt.Errorf("val, train_images and synthetic_size must not be negative")
	case r.Dataset == "synthetic" && r.SyntheticSize < 1:
		return fmt.Errorf("dataset synthetic needs synthetic_size of at least 1")
	case r.BaseFilters < 2 || r.BaseFilters%2 != 0:
		return fmt.Errorf("base_filters must be even and at least 2 (factorized reduction halves it), got %d", r.BaseFilters)
	case r.Layers < 0 || r.Layers > 1000:
		return fmt.Errorf("layers must be between 1 and 1000 (0 = the skeleton's), got %d", r.Layers)
	case r.Workers < 0:
		return fmt.Errorf("workers must not be negative")
	}
	if _, err := r.CompilerConfig(); err != nil {
		return err
	}
	return r.TrainRecipe().Validate()
}

// CompilerConfig is the compiler configuration a child is built with:
// TF-slim's CIFAR config with the recipe's N, width, input, aux head and
// drop path, for training.
func (r Recipe) CompilerConfig() (compiler.Config, error) {
	cfg, err := compiler.Preset("cifar")
	if err != nil {
		return cfg, err
	}
	cfg.N, cfg.Layers, cfg.BaseFilters, cfg.Filters = r.N, r.Layers, r.BaseFilters, 0
	cfg.ImageSize, cfg.Channels, cfg.Classes = r.Input()
	cfg.AuxHead = r.AuxHead
	cfg.DropPathKeepProb = r.DropPathKeepProb
	cfg.Training = true
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Depth says how deep r builds a child in the space's skeleton: "N=2"
// for one that counts cells per stage, "5 layers" for one that counts
// layers ("default layers" where r leaves it to the skeleton).
func (s *Space) Depth(r Recipe) string {
	params, err := skeletonParams(s.Skeleton)
	switch {
	case err != nil || !params["layers"]:
		return fmt.Sprintf("N=%d", r.N)
	case r.Layers == 0:
		return "the skeleton's default layers"
	}
	return fmt.Sprintf("%d layers", r.Layers)
}

// TrainRecipe is the runtime's training recipe for a child: the CIFAR
// recipe (SGD with momentum) with the recipe's fields.
func (r Recipe) TrainRecipe() runtime.Recipe {
	t := runtime.CIFARRecipe()
	t.Epochs, t.BatchSize, t.LR, t.Schedule = r.Epochs, r.Batch, r.LR, r.Schedule
	t.Momentum, t.WeightDecay, t.ClipNorm, t.Seed = r.Momentum, r.WeightDecay, r.ClipNorm, r.Seed
	t.AuxWeight = 0
	if r.AuxHead {
		t.AuxWeight = r.AuxWeight
	}
	return t
}

// Retrain is the last phase: the best Top architectures of the search are
// trained again with a full recipe.
type Retrain struct {
	// Top is how many of the best architectures to retrain (paper: 250).
	Top    int `yaml:"top"`
	Recipe `yaml:",inline"`
}

// DefaultRetrain is the paper's: the top 250, trained to convergence with
// TF-slim's CIFAR recipe (N = 6, 32 filters, 600 epochs, aux head 0.4,
// drop path 0.6).
func DefaultRetrain() Retrain {
	r := ChildRecipe()
	r.N, r.Epochs, r.AuxHead, r.DropPathKeepProb = 6, 600, true, 0.6
	return Retrain{Top: 250, Recipe: r}
}

// Validate reports a field that cannot work.
func (r Retrain) Validate() error {
	if r.Top < 0 {
		return fmt.Errorf("top must not be negative, got %d", r.Top)
	}
	if r.Top == 0 {
		return nil
	}
	return r.Recipe.Validate()
}

// Strategy names.
const (
	PPO       = "ppo"
	REINFORCE = "reinforce"
	Random    = "random"
	Evolution = "evolution"
)

// Strategies lists the strategy names.
var Strategies = []string{PPO, REINFORCE, Random, Evolution}

// StrategyConfig is the search strategy and its hyper-parameters. The
// controller fields apply to ppo and reinforce, population and sample to
// evolution; random uses only the seed.
type StrategyConfig struct {
	Name string `yaml:"name"` // ppo, reinforce, random or evolution
	Seed uint64 `yaml:"seed"` // all of the strategy's randomness

	// The controller (paper A.2): a one-layer LSTM of LSTMUnits units,
	// weights initialised uniformly in [-InitRange, InitRange].
	LSTMUnits int     `yaml:"lstm_units"`
	InitRange float64 `yaml:"init_range"`
	// Its training: Adam at LR, the entropy bonus weight, the baseline (an
	// exponential moving average of rewards with weight BaselineDecay),
	// one update per Minibatch architectures.
	LR            float64 `yaml:"lr"`
	EntropyWeight float64 `yaml:"entropy_weight"`
	BaselineDecay float64 `yaml:"baseline_decay"`
	Minibatch     int     `yaml:"minibatch"`
	// PPO only: the clipping range of the probability ratio and the
	// number of Adam steps taken on each minibatch.
	Clip   float64 `yaml:"clip"`
	Epochs int     `yaml:"epochs"`

	// Evolution (AmoebaNet's aging evolution): the population size P and
	// the tournament sample size S.
	Population int `yaml:"population"`
	Sample     int `yaml:"sample"`
}

// DefaultStrategy is the paper's PPO (A.2, A.3): 100 LSTM units, init
// range 0.1, Adam lr 0.00035, entropy weight 0.00001, baseline decay
// 0.95, minibatches of 20 architectures. The clip range (0.2) and the 5
// epochs per minibatch are not in the paper; they are the PPO paper's and
// NNI's defaults. Population 100 and sample 25 are AmoebaNet's.
func DefaultStrategy() StrategyConfig {
	return StrategyConfig{
		Name: PPO, Seed: 1,
		LSTMUnits: 100, InitRange: 0.1,
		LR: 0.00035, EntropyWeight: 0.00001, BaselineDecay: 0.95, Minibatch: 20,
		Clip: 0.2, Epochs: 5,
		Population: 100, Sample: 25,
	}
}

// Validate reports a field that cannot work.
func (c StrategyConfig) Validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case c.Name != PPO && c.Name != REINFORCE && c.Name != Random && c.Name != Evolution:
		return fmt.Errorf("unknown strategy %q (want %s)", c.Name, strings.Join(Strategies, ", "))
	case c.LSTMUnits < 1 || c.LSTMUnits > 4096:
		return fmt.Errorf("lstm_units must be between 1 and 4096, got %d", c.LSTMUnits)
	case !finite(c.InitRange) || c.InitRange <= 0:
		return fmt.Errorf("init_range must be positive, got %g", c.InitRange)
	case !finite(c.LR) || c.LR <= 0:
		return fmt.Errorf("lr must be positive, got %g", c.LR)
	case !finite(c.EntropyWeight) || c.EntropyWeight < 0:
		return fmt.Errorf("entropy_weight must not be negative, got %g", c.EntropyWeight)
	case !finite(c.BaselineDecay) || c.BaselineDecay < 0 || c.BaselineDecay >= 1:
		return fmt.Errorf("baseline_decay must be in [0, 1), got %g", c.BaselineDecay)
	case c.Minibatch < 1:
		return fmt.Errorf("minibatch must be at least 1, got %d", c.Minibatch)
	case !finite(c.Clip) || c.Clip <= 0 || c.Clip >= 1:
		return fmt.Errorf("clip must be in (0, 1), got %g", c.Clip)
	case c.Epochs < 1:
		return fmt.Errorf("epochs must be at least 1, got %d", c.Epochs)
	case c.Population < 2:
		return fmt.Errorf("population must be at least 2, got %d", c.Population)
	case c.Sample < 1 || c.Sample > c.Population:
		return fmt.Errorf("sample must be between 1 and population (%d), got %d", c.Population, c.Sample)
	}
	return nil
}
