package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"cellc/runtime/checkpoint"
	"cellc/runtime/metrics"
)

// trainRun is what was read from a training directory.
type trainRun struct {
	tail    tail
	records []metrics.Record
	bad     problems
	readErr string // why metrics.jsonl could not be read, if it could not
	meta    map[string]string
	metaErr string
	metaSt  stamp
	files   []string
}

func (t *trainRun) refresh(root *os.Root) bool {
	changed, err := t.tail.read(root, func() {
		t.records = nil
		t.bad.reset()
	}, func(n int, b []byte) {
		if len(bytes.TrimSpace(b)) == 0 {
			return
		}
		var rec metrics.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			t.bad.add("%s:%d: %v", metricsFile, n, err)
			return
		}
		t.records = append(t.records, rec)
	})
	t.readErr = ""
	if err != nil {
		t.readErr = fmt.Sprintf("%s: %v", metricsFile, err)
	}
	if ok, ch := t.metaSt.changed(root, checkpointFile); ch {
		changed = true
		t.meta, t.metaErr = nil, ""
		if ok {
			t.meta, err = readSafetensorsMeta(root, checkpointFile)
			if err != nil {
				t.metaErr = err.Error()
			}
		}
	}
	if files := available(root, kindTrain); !slices.Equal(files, t.files) {
		t.files, changed = files, true
	}
	return changed
}

// maxHeader bounds a safetensors header: NASNet-A Large's, with its
// optimiser slots, is well under 1 MiB.
const maxHeader = 64 << 20

// readSafetensorsMeta reads only the header of a safetensors file (an
// 8-byte little-endian length, then JSON) and returns its metadata: the
// configuration without reading the tensors, which may be gigabytes.
func readSafetensorsMeta(root *os.Root, name string) (map[string]string, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return nil, fmt.Errorf("%s: header: %v", name, err)
	}
	if n > maxHeader {
		return nil, fmt.Errorf("%s: header of %d bytes: not a safetensors file?", name, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%s: header: %v", name, err)
	}
	var head struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(buf, &head); err != nil {
		return nil, fmt.Errorf("%s: header: %v", name, err)
	}
	return head.Meta, nil
}

func (t *trainRun) last(split string) *metrics.Record {
	for i := len(t.records) - 1; i >= 0; i-- {
		if t.records[i].Split == split {
			return &t.records[i]
		}
	}
	return nil
}

func (t *trainRun) headline() string {
	var parts []string
	if n := t.meta[checkpoint.KeyNetwork]; n != "" {
		parts = append(parts, n)
	}
	if r := t.last(metrics.Train); r != nil {
		parts = append(parts, fmt.Sprintf("epoch %g", r.Epoch))
	}
	if r := t.last(metrics.Val); r != nil {
		parts = append(parts, fmt.Sprintf("val top-1 %.2f%%", 100*r.Top1))
	}
	if r := t.last(metrics.Test); r != nil {
		parts = append(parts, fmt.Sprintf("test top-1 %.2f%%", 100*r.Top1))
	}
	return strings.Join(parts, " · ")
}

// recordJSON is a metrics.Record with non-finite values as null.
type recordJSON struct {
	Split        string `json:"split"`
	Epoch        num    `json:"epoch"`
	Step         int64  `json:"step"`
	Loss         num    `json:"loss"`
	Top1         num    `json:"top1"`
	Top5         num    `json:"top5"`
	LR           num    `json:"lr"`
	ImagesPerSec num    `json:"images_per_sec"`
}

func toJSON(r *metrics.Record) *recordJSON {
	if r == nil {
		return nil
	}
	return &recordJSON{Split: r.Split, Epoch: num(r.Epoch), Step: r.Step, Loss: num(r.Loss), Top1: num(r.Top1),
		Top5: num(r.Top5), LR: num(r.LR), ImagesPerSec: num(r.ImagesPerSec)}
}

// chartJSON is one chart: a line per split.
type chartJSON struct {
	Name   string          `json:"name"`
	Title  string          `json:"title"`
	Lines  map[string][]xy `json:"lines"`
	Format string          `json:"format"` // "percent" or "number"
}

type trainSummary struct {
	Network  string            `json:"network"`
	Config   string            `json:"config"`
	Spec     string            `json:"spec"`
	Meta     map[string]string `json:"meta"`
	Records  int               `json:"records"`
	Train    *recordJSON       `json:"train"`
	Val      *recordJSON       `json:"val"`
	Test     *recordJSON       `json:"test"`
	Charts   []chartJSON       `json:"charts"`
	Files    []string          `json:"files"`
	Problems []string          `json:"problems"`
}

// maxCurvePoints bounds a training curve on the page.
const maxCurvePoints = 1000

func (t *trainRun) summary() trainSummary {
	out := trainSummary{Meta: map[string]string{}, Records: len(t.records), Files: t.files, Problems: t.bad.all(),
		Train: toJSON(t.last(metrics.Train)), Val: toJSON(t.last(metrics.Val)), Test: toJSON(t.last(metrics.Test))}
	for k, v := range t.meta {
		switch k {
		case checkpoint.KeyNetwork:
			out.Network = v
		case checkpoint.KeyConfig:
			out.Config = v
		case checkpoint.KeySpec:
			out.Spec = v
		default:
			out.Meta[k] = v
		}
	}
	if t.readErr != "" {
		out.Problems = append(out.Problems, t.readErr)
	}
	if t.metaErr != "" {
		out.Problems = append(out.Problems, t.metaErr)
	} else if t.meta == nil {
		out.Problems = append(out.Problems, "no "+checkpointFile+" yet: the configuration is written with the first epoch's checkpoint")
	}
	charts := []struct {
		name, title, format string
		get                 func(*metrics.Record) float64
	}{
		{"loss", "loss", "number", func(r *metrics.Record) float64 { return r.Loss }},
		{"top1", "top-1 accuracy", "percent", func(r *metrics.Record) float64 { return r.Top1 }},
		{"top5", "top-5 accuracy", "percent", func(r *metrics.Record) float64 { return r.Top5 }},
		{"lr", "learning rate", "number", func(r *metrics.Record) float64 { return r.LR }},
		{"images_per_sec", "images/s (training)", "number", func(r *metrics.Record) float64 { return r.ImagesPerSec }},
	}
	for _, c := range charts {
		ch := chartJSON{Name: c.name, Title: c.title, Format: c.format, Lines: map[string][]xy{}}
		used := map[string]bool{}
		for i := range t.records {
			r := &t.records[i]
			if v := c.get(r); v != 0 || math.IsNaN(v) {
				used[r.Split] = true
			}
		}
		for i := range t.records {
			r := &t.records[i]
			if used[r.Split] {
				ch.Lines[r.Split] = append(ch.Lines[r.Split], xy{r.Epoch, c.get(r)})
			}
		}
		for k, pts := range ch.Lines {
			ch.Lines[k] = downsample(pts, maxCurvePoints)
		}
		out.Charts = append(out.Charts, ch)
	}
	if out.Files == nil {
		out.Files = []string{}
	}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	return out
}
