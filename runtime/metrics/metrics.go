// Package metrics records and shows how training goes: a JSON Lines log of
// Records (one object per line, each written whole so a crash keeps every
// earlier line), PNG plots of the curves (gonum/plot), and a terminal
// progress bar (mpb) that falls back to one plain line per epoch for logs.
//
// A Record is one measurement: the running training loss every few steps,
// or an evaluation on a split at the end of an epoch. Accuracies are
// fractions in [0, 1]. Epoch is a float so that records inside an epoch can
// sit at fractional positions (epoch 2.5 is half way through the third);
// an end-of-epoch record for epoch e has Epoch e, counting from 1.
// Non-finite values (a diverged loss) are written as the JSON strings
// "NaN", "+Inf" and "-Inf" and read back as the numbers.
package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Splits the trainer uses in Record.Split.
const (
	Train = "train"
	Val   = "val"
	Test  = "test"
)

// Record is one line of the metrics log. Zero fields other than Epoch and
// Step are left out of the JSON and read back as zero.
type Record struct {
	Time         time.Time // when it was measured
	Split        string    // Train, Val, Test, or another data split
	Epoch        float64   // see the package comment
	Step         int64     // global optimizer step
	Loss         float64   // mean cross-entropy (training: running mean)
	Top1         float64   // top-1 accuracy, a fraction
	Top5         float64   // top-5 accuracy, a fraction
	LR           float64   // learning rate
	ImagesPerSec float64   // throughput
	// Extra holds any other named value (aux loss, gradient norm, a search
	// reward); nil when empty.
	Extra map[string]float64
}

// wire is Record's JSON form.
type wire struct {
	Time         time.Time         `json:"time,omitzero"`
	Split        string            `json:"split,omitempty"`
	Epoch        jfloat            `json:"epoch"`
	Step         int64             `json:"step"`
	Loss         jfloat            `json:"loss,omitempty"`
	Top1         jfloat            `json:"top1,omitempty"`
	Top5         jfloat            `json:"top5,omitempty"`
	LR           jfloat            `json:"lr,omitempty"`
	ImagesPerSec jfloat            `json:"images_per_sec,omitempty"`
	Extra        map[string]jfloat `json:"extra,omitempty"`
}

// MarshalJSON writes r as one JSON object with the keys time, split, epoch,
// step, loss, top1, top5, lr, images_per_sec and extra.
func (r Record) MarshalJSON() ([]byte, error) {
	w := wire{
		Time: r.Time, Split: r.Split, Epoch: jfloat(r.Epoch), Step: r.Step,
		Loss: jfloat(r.Loss), Top1: jfloat(r.Top1), Top5: jfloat(r.Top5),
		LR: jfloat(r.LR), ImagesPerSec: jfloat(r.ImagesPerSec),
	}
	if len(r.Extra) > 0 {
		w.Extra = make(map[string]jfloat, len(r.Extra))
		for k, v := range r.Extra {
			w.Extra[k] = jfloat(v)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// UnmarshalJSON reads what MarshalJSON writes. Unknown keys are ignored.
func (r *Record) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Record{
		Time: w.Time, Split: w.Split, Epoch: float64(w.Epoch), Step: w.Step,
		Loss: float64(w.Loss), Top1: float64(w.Top1), Top5: float64(w.Top5),
		LR: float64(w.LR), ImagesPerSec: float64(w.ImagesPerSec),
	}
	if len(w.Extra) > 0 {
		r.Extra = make(map[string]float64, len(w.Extra))
		for k, v := range w.Extra {
			r.Extra[k] = float64(v)
		}
	}
	return nil
}

// jfloat is a float64 whose JSON form can also be "NaN", "+Inf" or "-Inf".
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

func (f *jfloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN":
			*f = jfloat(math.NaN())
		case "+Inf", "Inf", "Infinity":
			*f = jfloat(math.Inf(1))
		case "-Inf", "-Infinity":
			*f = jfloat(math.Inf(-1))
		default:
			return fmt.Errorf("%q is not a number", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jfloat(v)
	return nil
}
