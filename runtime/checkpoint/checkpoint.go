// Package checkpoint reads and writes cellc checkpoints: safetensors files
// (the Hugging Face format) of float32 tensors plus string metadata.
//
// # File format
//
// A file is an 8-byte little-endian header length N, then N bytes of a JSON
// object, then the raw data. Each key of the object except "__metadata__"
// names a tensor:
//
//	{"cell_0/bn/gamma": {"dtype": "F32", "shape": [32], "data_offsets": [0, 128]}, ...,
//	 "__metadata__": {"cellc.format_version": "1", ...}}
//
// data_offsets are byte offsets [begin, end) into the data that follows the
// header. Save writes tensors sorted by name with contiguous data, pads the
// header with spaces so the data starts 8-byte aligned (as the reference
// implementation does) and writes the whole file atomically. Load checks
// everything the reference implementation checks: the header is a JSON
// object with unique keys, every tensor's byte length matches its shape and
// dtype, and the tensors' byte ranges tile the data exactly (in range, no
// overlaps, no holes, nothing after the last). Tensors are returned as
// float32: F32 as is, F16, BF16 and F64 converted; any other dtype is an
// error. Save and Load are generic: they know nothing about networks.
//
// # Conventions
//
// What the trainer stores, by convention rather than by this package's
// code:
//
//   - parameters under their plan names (plan.Param.Name, e.g.
//     "cell_3/comb_iter_0/left/separable_3x3_1/weights") with their plan
//     dims (plan.Param.Dims); CheckParams compares a file against a plan;
//   - optimizer state as extra tensors named SlotName(param, slot), that is
//     "<param>/<slot>": "<param>/momentum", "<param>/adam_m",
//     "<param>/adam_v", ...;
//   - metadata under the Key* constants below: the .cell source (KeySpec),
//     the build config as YAML (KeyConfig), the network's name
//     (KeyNetwork), this layout's version (KeyFormatVersion, currently
//     FormatVersion), the global step and epoch as decimal integers
//     (KeyStep, KeyEpoch) and any other training state (learning-rate
//     schedule position, RNG seeds, best accuracy so far) as one free-form
//     JSON object (KeyTrainState).
//
// Keys outside the "cellc." prefix are left to other tools and kept as they
// are by a Load/Save round trip.
package checkpoint

import (
	"fmt"
	"slices"
	"strings"

	"cellc/compiler/plan"
)

// Tensor is a named float32 tensor, row-major (the last dimension varies
// fastest). An empty Shape is a scalar with one value.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Metadata keys the trainer stores; see the package comment.
const (
	KeySpec          = "cellc.spec"           // the .cell source text
	KeyConfig        = "cellc.config"         // the build config, as YAML
	KeyNetwork       = "cellc.network"        // the network's name
	KeyFormatVersion = "cellc.format_version" // FormatVersion
	KeyStep          = "cellc.step"           // global optimizer step, decimal
	KeyEpoch         = "cellc.epoch"          // completed epochs, decimal
	KeyTrainState    = "cellc.train_state"    // free-form JSON object
)

// FormatVersion is the current value of KeyFormatVersion. It changes when
// the naming or meaning of what the trainer stores changes, not with the
// file format (safetensors) itself.
const FormatVersion = "1"

// Well-known optimizer slots for SlotName.
const (
	SlotMomentum = "momentum"
	SlotAdamM    = "adam_m"
	SlotAdamV    = "adam_v"
)

// SlotName is the name of an optimizer slot's tensor for a parameter:
// param + "/" + slot.
func SlotName(param, slot string) string { return param + "/" + slot }

// metadataKey is the header key that holds the metadata, not a tensor.
const metadataKey = "__metadata__"

// CheckParams reports whether tensors hold every parameter of params with
// the parameter's dims. Tensors that are not parameters are allowed only as
// optimizer slots of a parameter ("<param>/<slot>"). All problems are
// reported together, one per line, in the order of params.
func CheckParams(params []plan.Param, tensors []Tensor) error {
	byName := make(map[string]Tensor, len(tensors))
	for _, t := range tensors {
		byName[t.Name] = t
	}
	known := make(map[string]bool, len(params))
	var probs []string
	for _, p := range params {
		known[p.Name] = true
		t, ok := byName[p.Name]
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("missing parameter %q (%s %v)", p.Name, p.Kind, p.Dims))
		case !sameDims(t.Shape, p.Dims):
			probs = append(probs, fmt.Sprintf("parameter %q has shape %v, the plan wants %v", p.Name, t.Shape, p.Dims))
		}
	}
	var extra []string
	for _, t := range tensors {
		if known[t.Name] {
			continue
		}
		if i := strings.LastIndexByte(t.Name, '/'); i > 0 && known[t.Name[:i]] {
			continue
		}
		extra = append(extra, t.Name)
	}
	slices.Sort(extra)
	for _, n := range extra {
		probs = append(probs, fmt.Sprintf("tensor %q is neither a parameter of the plan nor an optimizer slot of one", n))
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("checkpoint does not match the plan:\n\t%s", strings.Join(probs, "\n\t"))
}

func sameDims(shape, dims []int) bool {
	if len(shape) == 0 && len(dims) == 0 {
		return true
	}
	return slices.Equal(shape, dims)
}

// elems is the number of values of shape, or -1 if a dim is negative or the
// product exceeds max.
func elems(shape []int, max int64) int64 {
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d == 0 {
			return 0
		}
	}
	n := int64(1)
	for _, d := range shape {
		if int64(d) > max/n {
			return -1
		}
		n *= int64(d)
	}
	return n
}
