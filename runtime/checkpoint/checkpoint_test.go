package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cellc/compiler/plan"
)

func sample() ([]Tensor, map[string]string) {
	ts := []Tensor{
		{Name: "stem/conv/weights", Shape: []int{4, 3, 3, 3}, Data: seq(4*3*3*3, 0.5)},
		{Name: "cell_0/bn/gamma", Shape: []int{4}, Data: []float32{1, 2, float32(math.Inf(1)), float32(math.NaN())}},
		{Name: "cell_0/bn/gamma/momentum", Shape: []int{4}, Data: []float32{0, -0.25, 1e-38, -3e38}},
		{Name: "empty", Shape: []int{0, 5}, Data: []float32{}},
		{Name: "scalar", Shape: []int{}, Data: []float32{42}},
	}
	meta := map[string]string{
		KeySpec:          "cell normal {\n  <html> & \"quotes\" ✓\n}\n",
		KeyFormatVersion: FormatVersion,
		KeyStep:          "1200",
		KeyTrainState:    `{"lr":0.1,"best_top1":0.93}`,
	}
	return ts, meta
}

func seq(n int, scale float32) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i)*scale - 3
	}
	return d
}

// sameTensors compares tensors bit for bit (NaN included), treating nil and
// empty slices as equal.
func sameTensors(t *testing.T, got, want []Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || len(g.Shape) != len(w.Shape) || (len(w.Shape) > 0 && !reflect.DeepEqual(g.Shape, w.Shape)) {
			t.Fatalf("tensor %d: got %q %v, want %q %v", i, g.Name, g.Shape, w.Name, w.Shape)
		}
		if len(g.Data) != len(w.Data) {
			t.Fatalf("tensor %q: got %d values, want %d", w.Name, len(g.Data), len(w.Data))
		}
		for j := range w.Data {
			if math.Float32bits(g.Data[j]) != math.Float32bits(w.Data[j]) {
				t.Fatalf("tensor %q value %d: got %v, want %v", w.Name, j, g.Data[j], w.Data[j])
			}
		}
	}
}

func sortedByName(ts []Tensor) []Tensor {
	out := append([]Tensor(nil), ts...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Name < out[i].Name {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	ts, meta := sample()
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	got, gotMeta, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, sortedByName(ts))
	if !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("metadata: got %v, want %v", gotMeta, meta)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
}

func TestNoMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := Save(path, []Tensor{{Name: "x", Shape: []int{1}, Data: []float32{1}}}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(metadataKey)) {
		t.Errorf("file has %s with no metadata: %q", metadataKey, b)
	}
	_, meta, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta == nil || len(meta) != 0 {
		t.Errorf("metadata %v, want empty map", meta)
	}
}

// TestFormat checks the bytes against the safetensors rules by hand: the
// exact layout of a tiny file, then the structure of a larger one.
func TestFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.safetensors")
	if err := Save(path, []Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1, -2}}}, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	h := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	for (8+len(h))%8 != 0 {
		h += " "
	}
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(h)))
	want = append(want, h...)
	want = append(want, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0) // 1.0, -2.0
	if !bytes.Equal(got, want) {
		t.Fatalf("tiny file:\ngot  %q\nwant %q", got, want)
	}

	ts, meta := sample()
	path = filepath.Join(dir, "sample.safetensors")
	if err := Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(b)
	if (8+n)%8 != 0 {
		t.Errorf("data starts at %d, not 8-byte aligned", 8+n)
	}
	if b[8] != '{' {
		t.Errorf("header starts with %q, want '{'", b[8])
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	var gotMeta map[string]string
	if err := json.Unmarshal(header[metadataKey], &gotMeta); err != nil || !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("metadata %v (%v), want %v", gotMeta, err, meta)
	}
	data := b[8+n:]
	var end int64
	for _, want := range sortedByName(ts) {
		var info struct {
			Dtype       string  `json:"dtype"`
			Shape       []int   `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(header[want.Name], &info); err != nil {
			t.Fatalf("%s: %v", want.Name, err)
		}
		if info.Dtype != "F32" || info.Shape == nil || len(info.Shape) != len(want.Shape) || info.DataOffsets[0] != end {
			t.Errorf("%s: entry %+v (expected contiguous F32 from %d)", want.Name, info, end)
		}
		end = info.DataOffsets[1]
		raw := data[info.DataOffsets[0]:end]
		for i, v := range want.Data {
			if bits := binary.LittleEndian.Uint32(raw[4*i:]); bits != math.Float32bits(v) {
				t.Errorf("%s[%d]: bits %#x, want %#x", want.Name, i, bits, math.Float32bits(v))
			}
		}
	}
	if end != int64(len(data)) {
		t.Errorf("tensors cover %d of %d data bytes", end, len(data))
	}
	if len(header) != len(ts)+1 {
		t.Errorf("header has %d entries, want %d", len(header), len(ts)+1)
	}
}

// TestPythonSafetensors reads a file with the reference implementation,
// where one is installed.
func TestPythonSafetensors(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if err := exec.Command(py, "-c", "import safetensors.numpy").Run(); err != nil {
		t.Skip("python3 has no safetensors (with numpy)")
	}
	ts, meta := sample()
	path := filepath.Join(t.TempDir(), "py.safetensors")
	if err := Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, json
from safetensors import safe_open
out = {}
with safe_open(sys.argv[1], framework="numpy") as f:
    out["meta"] = f.metadata()
    for k in f.keys():
        a = f.get_tensor(k)
        out[k] = [str(a.dtype), list(a.shape), [float(x) for x in a.reshape(-1)[:3]]]
print(json.dumps(out))
`
	b, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, b)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("python output %q: %v", b, err)
	}
	var gotMeta map[string]string
	json.Unmarshal(out["meta"], &gotMeta)
	if !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("python metadata %v, want %v", gotMeta, meta)
	}
	var w []any
	json.Unmarshal(out["stem/conv/weights"], &w)
	if len(w) != 3 || w[0] != "float32" || !reflect.DeepEqual(w[1], []any{4.0, 3.0, 3.0, 3.0}) || !reflect.DeepEqual(w[2], []any{-3.0, -2.5, -2.0}) {
		t.Errorf("python read stem/conv/weights as %v", w)
	}
}

// build assembles a file from a raw header and data.
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func f32s(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestCorrupt(t *testing.T) {
	good := build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32s(1, 2))
	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<40)
	hugeLen = append(hugeLen, "{}"...)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "too short for the 8-byte header length"},
		{"truncated length", []byte{1, 2, 3}, "too short"},
		{"header beyond file", hugeLen, "header length 1099511627776 runs past the end of the file (2 bytes after the length)"},
		{"truncated header", good[:20], "runs past the end of the file"},
		{"bad json", build(`{"a":{"dtype":"F32",`, nil), "header is not valid JSON"},
		{"not an object", build(`[1,2]`, nil), "header is not a JSON object"},
		{"trailing garbage", build(`{} x`, nil), "header is not valid JSON"},
		{"second object", build(`{}{}`, nil), "after its JSON object"},
		{"duplicate name", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32s(1, 2)), `header has "a" twice`},
		{"entry not object", build(`{"a":3}`, nil), `tensor "a": bad header entry`},
		{"no dtype", build(`{"a":{"shape":[0],"data_offsets":[0,0]}}`, nil), `tensor "a": header entry has no dtype`},
		{"no shape", build(`{"a":{"dtype":"F32","data_offsets":[0,0]}}`, nil), "has no shape"},
		{"no offsets", build(`{"a":{"dtype":"F32","shape":[0]}}`, nil), "has no data_offsets"},
		{"unknown dtype", build(`{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, f32s(1)), `tensor "a": unknown dtype "F31"`},
		{"unsupported dtype", build(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, f32s(1, 2)), "dtype I64 is not supported"},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32s(1)), "negative dimension"},
		{"one offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, f32s(1)), "data_offsets has 1 values, want 2"},
		{"reversed offsets", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, f32s(1)), "invalid data_offsets [4, 0]"},
		{"negative offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32s(1)), "invalid data_offsets"},
		{"offset out of range", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32s(1)), "data_offsets [0, 8] run past the end of the data (4 bytes)"},
		{"shape mismatch", build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32s(1, 2)), "shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] span 8 bytes"},
		{"huge shape", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}`, f32s(1, 2)), "needs more than 2^63 bytes"},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32s(1, 2, 3)), `tensor "b" (bytes 4 to 12) overlaps tensor "a"`},
		{"hole", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32s(1, 2, 3)), "hole in the data: no tensor covers bytes 4 to 8"},
		{"trailing data", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32s(1, 2)), "the data section is 8 bytes but the tensors cover 4"},
		{"metadata not strings", build(`{"__metadata__":{"step":3}}`, nil), "__metadata__ is not an object of strings"},
		{"empty name", build(`{"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), "tensor with an empty name"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "checkpoint "+path+": ") {
				t.Errorf("error %q, want %q prefixed with the path", msg, tc.want)
			}
		})
	}
	if _, _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestOtherDtypes(t *testing.T) {
	var data []byte
	data = binary.LittleEndian.AppendUint16(data, 0x3c00) // F16 1
	data = binary.LittleEndian.AppendUint16(data, 0xc000) // F16 -2
	data = binary.LittleEndian.AppendUint16(data, 0x0001) // F16 smallest subnormal
	data = binary.LittleEndian.AppendUint16(data, 0x7c00) // F16 +Inf
	data = binary.LittleEndian.AppendUint16(data, 0x3f80) // BF16 1
	data = binary.LittleEndian.AppendUint16(data, 0xc040) // BF16 -3
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(0.1))
	file := build(`{"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"d":{"dtype":"F64","shape":[1],"data_offsets":[12,20]}}`, data)
	ts, _, err := decode(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, -3}},
		{Name: "d", Shape: []int{1}, Data: []float32{0.1}},
		{Name: "h", Shape: []int{2, 2}, Data: []float32{1, -2, float32(math.Ldexp(1, -24)), float32(math.Inf(1))}},
	}
	sameTensors(t, ts, want)
}

func TestSaveInvalid(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"empty name", []Tensor{{Shape: []int{1}, Data: []float32{1}}}, "empty name"},
		{"reserved", []Tensor{{Name: metadataKey, Data: []float32{1}}}, "reserved"},
		{"duplicate", []Tensor{{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{2}}}, `two tensors named "a"`},
		{"size", []Tensor{{Name: "a", Shape: []int{2, 2}, Data: []float32{1}}}, `tensor "a" has shape [2 2] (4 values) but 1 values of data`},
		{"negative", []Tensor{{Name: "a", Shape: []int{-1}}}, "invalid shape"},
		{"bad utf8", []Tensor{{Name: "a\xff", Data: []float32{1}}}, "not valid UTF-8"},
	}
	for _, tc := range tests {
		path := filepath.Join(dir, "x.safetensors")
		err := Save(path, tc.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("invalid saves left %d files", len(ents))
	}
}

// failAfter fails every write once n bytes have been written.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		n, _ := f.w.Write(b[:f.n])
		f.n = 0
		return n, errors.New("disk full")
	}
	f.n -= len(b)
	return f.w.Write(b)
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	old := []Tensor{{Name: "old", Shape: []int{2}, Data: []float32{1, 2}}}
	if err := Save(path, old, map[string]string{KeyStep: "1"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	big := []Tensor{{Name: "new", Shape: []int{1 << 20}, Data: make([]float32, 1<<20)}}
	err := save(path, big, nil, func(w io.Writer) io.Writer { return &failAfter{w: w, n: 100 << 10} })
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), path) {
		t.Fatalf("failing write: error %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed save changed the existing file")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("failed save left %d entries in the directory, want 1", len(ents))
	}

	// Saving over a directory fails at the rename and leaves no temp file.
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	if err := Save(sub, old, nil); err == nil {
		t.Error("Save over a directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("Save over a directory left %d entries, want 2", len(ents))
	}

	// A missing directory.
	if err := Save(filepath.Join(dir, "nope", "x.safetensors"), old, nil); err == nil {
		t.Error("Save into a missing directory succeeded")
	}

	// A read-only directory (meaningless as root, who may write anyway).
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o555)
		defer os.Chmod(dir, 0o755)
		if err := Save(path, big, nil); err == nil {
			t.Error("Save into a read-only directory succeeded")
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Error("failed save into a read-only directory changed the existing file")
		}
	}
}

func TestCheckParams(t *testing.T) {
	params := []plan.Param{
		{Name: "stem/conv/weights", Kind: plan.Weights, Dims: []int{4, 3, 3, 3}},
		{Name: "stem/bn/gamma", Kind: plan.Gamma, Dims: []int{4}},
		{Name: "stem/bn/beta", Kind: plan.Beta, Dims: []int{4}},
	}
	ok := []Tensor{
		{Name: "stem/conv/weights", Shape: []int{4, 3, 3, 3}},
		{Name: "stem/bn/gamma", Shape: []int{4}},
		{Name: "stem/bn/beta", Shape: []int{4}},
		{Name: SlotName("stem/bn/beta", SlotMomentum), Shape: []int{4}},
	}
	if err := CheckParams(params, ok); err != nil {
		t.Fatal(err)
	}
	bad := []Tensor{
		{Name: "stem/conv/weights", Shape: []int{4, 3, 1, 1}},
		{Name: "stem/bn/gamma", Shape: []int{4}},
		{Name: "stray", Shape: []int{1}},
	}
	err := CheckParams(params, bad)
	want := "checkpoint does not match the plan:\n" +
		"\tparameter \"stem/conv/weights\" has shape [4 3 1 1], the plan wants [4 3 3 3]\n" +
		"\tmissing parameter \"stem/bn/beta\" (beta [4])\n" +
		"\ttensor \"stray\" is neither a parameter of the plan nor an optimizer slot of one"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestLarge crosses the read and write chunk sizes.
func TestLarge(t *testing.T) {
	ts := []Tensor{
		{Name: "a", Shape: []int{3, 100001}, Data: seq(300003, 0.25)},
		{Name: "b", Shape: []int{7}, Data: seq(7, 1)},
	}
	path := filepath.Join(t.TempDir(), "large.safetensors")
	if err := Save(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, ts)
}
