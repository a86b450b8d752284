package space

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/lang"
	"cellc/stdlib"
)

// PaperOps are the paper's 13 operations (section 2), by their names in
// stdlib/ops.cell, in the order the paper lists them.
var PaperOps = []string{
	"identity",    // identity
	"conv1x3_3x1", // 1x3 then 3x1 convolution
	"conv1x7_7x1", // 1x7 then 7x1 convolution
	"dil3x3",      // 3x3 dilated convolution
	"avg3x3",      // 3x3 average pooling
	"max3x3",      // 3x3 max pooling
	"max5x5",      // 5x5 max pooling
	"max7x7",      // 7x7 max pooling
	"conv1x1",     // 1x1 convolution
	"conv3x3",     // 3x3 convolution
	"sep3x3",      // 3x3 depthwise-separable conv
	"sep5x5",      // 5x5 depthwise-separable conv
	"sep7x7",      // 7x7 depthwise-separable conv
}

// Combiners are the combiners the .cell language knows. The paper searches
// over add and concat; add_ln and add_in are NASNet-B/C's (Appendix B).
var Combiners = []string{"add", "concat", "add_ln", "add_in"}

// MaxInputs is the number of cell inputs the language can name: h_i,
// h_i-1, h_i-2, h_i-3.
const MaxInputs = 4

// Space is one search-space file: the cells' search space (ops, blocks,
// combiners, inputs), the child-training recipe, the search strategy and
// its budget. The zero value is not useful; start from DefaultSpace or
// LoadSpace.
type Space struct {
	// Ops are the operations a block may apply, by stdlib name.
	Ops []string `yaml:"ops"`
	// Blocks is B, the blocks per cell (paper: 5).
	Blocks int `yaml:"blocks"`
	// Combiners are how a block joins its two branches (paper: add,
	// concat).
	Combiners []string `yaml:"combiners"`
	// Inputs is the number of cell inputs a block may read: 2 = h_i and
	// h_i-1 (the paper), up to 4.
	Inputs int `yaml:"inputs"`
	// SeparateReduction searches the reduction cell separately from the
	// normal cell (the paper's 2 x 5B decisions). When false there are 5B
	// decisions and the reduction cell is the normal cell, strided.
	SeparateReduction bool `yaml:"separate_reduction"`
	// Skeleton names the stdlib skeleton the children are stacked into
	// (stdlib/skeletons.cell); "" is NASNet's CIFAR skeleton. A skeleton
	// that counts layers (darts_cifar) takes the recipes' layers, one
	// that counts cells per stage their n.
	Skeleton string `yaml:"skeleton"`

	// Child is the recipe every sampled architecture is trained with.
	Child Recipe `yaml:"child"`
	// Strategy chooses the search strategy and its hyper-parameters.
	Strategy StrategyConfig `yaml:"strategy"`
	// Architectures is how many architectures the search samples in all
	// (paper: 20,000).
	Architectures int `yaml:"architectures"`
	// InvalidReward is the reward of an architecture that does not
	// compile; it is recorded with its error and the strategy learns from
	// it like any other.
	InvalidReward float64 `yaml:"invalid_reward"`
	// Retrain says how many of the best architectures to retrain when
	// the search is over, and with which recipe.
	Retrain Retrain `yaml:"retrain"`
}

// DefaultSpace is the paper's search: the 13 operations, B = 5, add and
// concat, 2 inputs, separate normal and reduction cells, children trained
// 20 epochs at N = 2 on CIFAR-10 (45k/5k split, cosine decay), PPO with the
// paper's hyper-parameters, 20,000 architectures, the best 250 retrained.
func DefaultSpace() *Space {
	return &Space{
		Ops:               slices.Clone(PaperOps),
		Blocks:            5,
		Combiners:         []string{"add", "concat"},
		Inputs:            2,
		SeparateReduction: true,
		Child:             ChildRecipe(),
		Strategy:          DefaultStrategy(),
		Architectures:     20000,
		InvalidReward:     0,
		Retrain:           DefaultRetrain(),
	}
}

// LoadSpace reads a search-space YAML file over DefaultSpace: a field the
// file leaves out keeps its default, a list the file gives replaces the
// default list, and an unknown key is an error (so a misspelt field is
// never silently ignored). Errors name the file.
func LoadSpace(path string) (*Space, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpace(path, data)
}

// ParseSpace is LoadSpace on data already read; name is used in errors.
func ParseSpace(name string, data []byte) (*Space, error) {
	s := DefaultSpace()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: holds more than one YAML document", name)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if err := s.checkDepthKeys(name, data); err != nil {
		return nil, err
	}
	return s, nil
}

// checkDepthKeys refuses, at its position, a recipe's n under a skeleton
// that counts layers and its layers under one that counts cells per
// stage: the child would be built without it.
func (s *Space) checkDepthKeys(name string, data []byte) error {
	sk, err := skeletonParams(s.Skeleton)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	skName := s.Skeleton
	if skName == "" {
		skName = defaultSkeleton
	}
	var errs []string
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		section, m := top[i].Value, top[i+1]
		if (section != "child" && section != "retrain") || m.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(m.Content); j += 2 {
			k := m.Content[j]
			if (k.Value == "n" || k.Value == "layers") && !sk[k.Value] {
				other := map[string]string{"n": "layers", "layers": "n"}[k.Value]
				errs = append(errs, fmt.Sprintf("%s:%d:%d: %s: %s: skeleton %s has no parameter %s; set %s", name, k.Line, k.Column, section, k.Value, skName, k.Value, other))
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// defaultSkeleton is the skeleton children use when the space names none.
const defaultSkeleton = "nasnet_cifar"

// skeletonParams is the parameters of the stdlib skeleton name ("" is
// defaultSkeleton), or an error naming the skeletons there are.
func skeletonParams(name string) (map[string]bool, error) {
	if name == "" {
		name = defaultSkeleton
	}
	prog, diags := compiler.CheckFile(&lang.File{Name: "space.cell"})
	if diags.HasErrors() {
		return nil, fmt.Errorf("the standard library: %v", diags)
	}
	sk := prog.Skeletons[name]
	if sk == nil {
		names := make([]string, 0, len(prog.Skeletons))
		for n := range prog.Skeletons {
			names = append(names, n)
		}
		slices.Sort(names)
		msg := fmt.Sprintf("skeleton: unknown skeleton %q", name)
		if d := lang.Suggest(name, names); d != "" {
			msg += fmt.Sprintf("; did you mean %q?", d)
		}
		return nil, fmt.Errorf("%s (the skeletons: %s)", msg, strings.Join(names, ", "))
	}
	params := map[string]bool{}
	for p := range sk.Params {
		params[p] = true
	}
	return params, nil
}

var notFoundRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type space\.(\w+)$`)

// yamlError rewrites a YAML decoding error as "file:line: message", one
// line per problem, and an unknown key as such with the keys its section
// has ("did you mean").
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if n, m, ok := strings.Cut(rest, ": "); ok {
				return fmt.Errorf("%s:%s: %s", name, n, m)
			}
		}
		return fmt.Errorf("%s: %s", name, msg)
	}
	var lines []string
	for _, e := range te.Errors {
		m := notFoundRE.FindStringSubmatch(e)
		if m == nil {
			if rest, ok := strings.CutPrefix(e, "line "); ok {
				if n, msg, ok := strings.Cut(rest, ": "); ok {
					lines = append(lines, fmt.Sprintf("%s:%s: %s", name, n, msg))
					continue
				}
			}
			lines = append(lines, name+": "+e)
			continue
		}
		keys := yamlKeys(m[3])
		msg := fmt.Sprintf("%s:%s: unknown key %q", name, m[1], m[2])
		if d := lang.Suggest(m[2], keys); d != "" {
			msg += fmt.Sprintf("; did you mean %q?", d)
		} else if len(keys) > 0 {
			msg += " (keys: " + strings.Join(keys, ", ") + ")"
		}
		lines = append(lines, msg)
	}
	return errors.New(strings.Join(lines, "\n"))
}

// yamlKeys lists the YAML keys of one of this package's structs.
func yamlKeys(typeName string) []string {
	var t reflect.Type
	switch typeName {
	case "Space":
		t = reflect.TypeFor[Space]()
	case "Recipe":
		t = reflect.TypeFor[Recipe]()
	case "Retrain":
		t = reflect.TypeFor[Retrain]()
	case "StrategyConfig":
		t = reflect.TypeFor[StrategyConfig]()
	default:
		return nil
	}
	var keys []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if opts == "inline" {
				walk(f.Type)
				continue
			}
			if tag != "" && tag != "-" {
				keys = append(keys, tag)
			}
		}
	}
	walk(t)
	return keys
}

// Validate checks the whole file: the cell space, the recipes, the
// strategy and the budget.
func (s *Space) Validate() error {
	if err := s.ValidateCells(); err != nil {
		return err
	}
	if _, err := skeletonParams(s.Skeleton); err != nil {
		return err
	}
	if err := s.Child.Validate(); err != nil {
		return fmt.Errorf("child: %v", err)
	}
	if err := s.Strategy.Validate(); err != nil {
		return fmt.Errorf("strategy: %v", err)
	}
	if s.Architectures < 1 {
		return fmt.Errorf("architectures must be at least 1, got %d", s.Architectures)
	}
	if math.IsNaN(s.InvalidReward) || math.IsInf(s.InvalidReward, 0) {
		return fmt.Errorf("invalid_reward must be a finite number")
	}
	if err := s.Retrain.Validate(); err != nil {
		return fmt.Errorf("retrain: %v", err)
	}
	return nil
}

// ValidateCells checks the cells' search space alone: ops, blocks,
// combiners and inputs.
func (s *Space) ValidateCells() error {
	if len(s.Ops) == 0 {
		return fmt.Errorf("ops: list at least one operation")
	}
	known, err := stdlibOps()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, op := range s.Ops {
		if !slices.Contains(known, op) {
			msg := fmt.Sprintf("ops: unknown operation %q", op)
			if d := lang.Suggest(op, known); d != "" {
				msg += fmt.Sprintf("; did you mean %q?", d)
			}
			return errors.New(msg + " (`cellc ops` lists them)")
		}
		if seen[op] {
			return fmt.Errorf("ops: %q is listed twice", op)
		}
		seen[op] = true
	}
	if s.Blocks < 1 || s.Blocks > 16 {
		return fmt.Errorf("blocks must be between 1 and 16, got %d", s.Blocks)
	}
	if len(s.Combiners) == 0 {
		return fmt.Errorf("combiners: list at least one (add, concat)")
	}
	seen = map[string]bool{}
	for _, c := range s.Combiners {
		if !slices.Contains(Combiners, c) {
			msg := fmt.Sprintf("combiners: unknown combiner %q", c)
			if d := lang.Suggest(c, Combiners); d != "" {
				msg += fmt.Sprintf("; did you mean %q?", d)
			}
			return fmt.Errorf("%s (want %s)", msg, strings.Join(Combiners, ", "))
		}
		if seen[c] {
			return fmt.Errorf("combiners: %q is listed twice", c)
		}
		seen[c] = true
	}
	if s.Inputs < 1 || s.Inputs > MaxInputs {
		return fmt.Errorf("inputs must be between 1 and %d (h_i .. h_i-3), got %d", MaxInputs, s.Inputs)
	}
	return nil
}

// stdlibOps lists the operations the standard library declares.
func stdlibOps() ([]string, error) {
	f, err := stdlib.File()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range f.Decls {
		if op, ok := d.(*lang.OpDecl); ok {
			names = append(names, op.Name.Name)
		}
	}
	return names, nil
}

// Kind is what one decision chooses.
type Kind int

const (
	InputA  Kind = iota // the state the block's first op reads
	InputB              // the state the block's second op reads
	OpA                 // the op applied to input A
	OpB                 // the op applied to input B
	Combine             // how the two branches are joined
)

// Kinds is the number of decision kinds, the 5 steps of a block.
const Kinds = 5

var kindNames = [Kinds]string{"input A", "input B", "op A", "op B", "combine"}

func (k Kind) String() string {
	if k < 0 || int(k) >= Kinds {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Decision is one softmax of the controller: which cell and block it is
// for, what it chooses, and the names of its choices. Choices is the
// number of valid values (0 .. Choices-1): for an input of block b it is
// Inputs+b (the cell inputs, then the earlier blocks), so the controller
// masks its softmax per block.
type Decision struct {
	Cell    lang.CellKind
	Block   int
	Kind    Kind
	Choices int
	Names   []string // Names[v] is the .cell text for value v
}

func (d Decision) String() string {
	return fmt.Sprintf("%s b%d %s", d.Cell, d.Block, d.Kind)
}

// Decisions lists the decisions an architecture is made of, in the
// controller's order: per block input A, input B, op A, op B, combiner;
// blocks in order; the normal cell first, then (with SeparateReduction)
// the reduction cell. That is 2 x 5B decisions for the paper's space.
func (s *Space) Decisions() []Decision {
	cells := []lang.CellKind{lang.Normal}
	if s.SeparateReduction {
		cells = append(cells, lang.Reduction)
	}
	var ds []Decision
	for _, cell := range cells {
		for b := 0; b < s.Blocks; b++ {
			states := s.stateNames(b)
			ds = append(ds,
				Decision{Cell: cell, Block: b, Kind: InputA, Choices: len(states), Names: states},
				Decision{Cell: cell, Block: b, Kind: InputB, Choices: len(states), Names: states},
				Decision{Cell: cell, Block: b, Kind: OpA, Choices: len(s.Ops), Names: slices.Clone(s.Ops)},
				Decision{Cell: cell, Block: b, Kind: OpB, Choices: len(s.Ops), Names: slices.Clone(s.Ops)},
				Decision{Cell: cell, Block: b, Kind: Combine, Choices: len(s.Combiners), Names: slices.Clone(s.Combiners)},
			)
		}
	}
	return ds
}

// NumDecisions is len(s.Decisions()).
func (s *Space) NumDecisions() int {
	n := Kinds * s.Blocks
	if s.SeparateReduction {
		n *= 2
	}
	return n
}

// MaxStates is the most choices an input decision has: the cell inputs
// and every block but the last.
func (s *Space) MaxStates() int { return s.Inputs + s.Blocks - 1 }

// stateNames names the states block b may read.
func (s *Space) stateNames(b int) []string {
	var names []string
	for i := 0; i < s.Inputs; i++ {
		names = append(names, InputName(i))
	}
	for j := 0; j < b; j++ {
		names = append(names, "b"+strconv.Itoa(j))
	}
	return names
}

// InputName is the .cell name of cell input i: h_i, h_i-1, ...
func InputName(i int) string {
	if i == 0 {
		return "h_i"
	}
	return "h_i-" + strconv.Itoa(i)
}

// Arch is one architecture: a value for each of the space's decisions, in
// the order of Decisions. Value v of an input decision is state v (the
// cell inputs, then blocks b0, b1, ...), of an op decision Ops[v], of a
// combiner decision Combiners[v].
type Arch []int

// String prints the decisions separated by spaces.
func (a Arch) String() string {
	parts := make([]string, len(a))
	for i, v := range a {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, " ")
}

// Format prints a with " | " between the normal and the reduction cell.
func (s *Space) Format(a Arch) string {
	per := Kinds * s.Blocks
	if !s.SeparateReduction || len(a) != 2*per {
		return a.String()
	}
	return a[:per].String() + " | " + a[per:].String()
}

// ParseArch reads what Arch.String and Space.Format print.
func ParseArch(text string) (Arch, error) {
	var a Arch
	for _, f := range strings.Fields(text) {
		if f == "|" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("architecture %q: %q is not a number", text, f)
		}
		a = append(a, v)
	}
	return a, nil
}

// Equal reports whether a and b make the same decisions.
func (a Arch) Equal(b Arch) bool { return slices.Equal(a, b) }

// Clone copies a.
func (a Arch) Clone() Arch { return slices.Clone(a) }

// Check reports whether a has one in-range value per decision.
func (s *Space) Check(a Arch) error {
	ds := s.Decisions()
	if len(a) != len(ds) {
		return fmt.Errorf("architecture has %d decisions, the space %d", len(a), len(ds))
	}
	for i, d := range ds {
		if a[i] < 0 || a[i] >= d.Choices {
			return fmt.Errorf("decision %d (%s) is %d, want 0..%d", i, d, a[i], d.Choices-1)
		}
	}
	return nil
}
