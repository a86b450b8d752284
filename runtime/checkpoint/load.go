package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// maxHeader is the reference implementation's limit on the header length.
const maxHeader = 100_000_000

// Load reads a safetensors file written by Save or by any other
// safetensors writer. It returns the tensors sorted by name and the
// metadata (empty, not nil, when the file has none). Every error names the
// file and what is wrong with it; no input makes Load panic, and Load
// allocates no more than the file's size warrants.
func Load(path string) ([]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("checkpoint %s: not a regular file", path)
	}
	ts, meta, err := decode(f, fi.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return ts, meta, nil
}

// dtypeSizes are the element sizes of the safetensors dtypes.
var dtypeSizes = map[string]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// entry is a validated tensor header entry.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64
}

// decode reads a safetensors file of size bytes from r.
func decode(r io.ReaderAt, size int64) ([]Tensor, map[string]string, error) {
	if size < 8 {
		return nil, nil, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", size)
	}
	var nb [8]byte
	if _, err := r.ReadAt(nb[:], 0); err != nil {
		return nil, nil, fmt.Errorf("reading the header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(nb[:])
	if hlen > uint64(size-8) {
		return nil, nil, fmt.Errorf("header length %d runs past the end of the file (%d bytes after the length)", hlen, size-8)
	}
	if hlen > maxHeader {
		return nil, nil, fmt.Errorf("header length %d exceeds the limit of %d bytes", hlen, maxHeader)
	}
	header := make([]byte, hlen)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, nil, fmt.Errorf("reading the header: %w", err)
	}
	dataStart := 8 + int64(hlen)
	dataSize := size - dataStart

	entries, meta, err := parseHeader(header, dataSize)
	if err != nil {
		return nil, nil, err
	}

	// The tensors' byte ranges must tile the data exactly.
	byOffset := slices.Clone(entries)
	slices.SortFunc(byOffset, func(a, b entry) int {
		if a.begin != b.begin {
			return cmpInt64(a.begin, b.begin)
		}
		return cmpInt64(a.end, b.end)
	})
	var pos int64
	prev := ""
	for _, e := range byOffset {
		switch {
		case e.begin < pos:
			return nil, nil, fmt.Errorf("tensor %q (bytes %d to %d) overlaps tensor %q (which ends at %d)", e.name, e.begin, e.end, prev, pos)
		case e.begin > pos:
			return nil, nil, fmt.Errorf("hole in the data: no tensor covers bytes %d to %d (before tensor %q)", pos, e.begin, e.name)
		}
		pos, prev = e.end, e.name
	}
	if pos != dataSize {
		return nil, nil, fmt.Errorf("the data section is %d bytes but the tensors cover %d", dataSize, pos)
	}

	tensors := make([]Tensor, len(entries))
	scratch := make([]byte, 0, 1<<20)
	for i, e := range entries {
		t := Tensor{Name: e.name, Shape: e.shape}
		t.Data, scratch, err = readData(r, dataStart, e, scratch)
		if err != nil {
			return nil, nil, fmt.Errorf("reading tensor %q: %w", e.name, err)
		}
		tensors[i] = t
	}
	return tensors, meta, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseHeader parses and checks the JSON header. It returns the tensor
// entries sorted by name.
func parseHeader(header []byte, dataSize int64) ([]entry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	bad := func(err error) error { return fmt.Errorf("header is not valid JSON: %w", err) }
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, bad(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("header is not a JSON object")
	}
	meta := map[string]string{}
	var entries []entry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, bad(fmt.Errorf("unexpected %v", tok))
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("header has %q twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, bad(err)
		}
		if name == metadataKey {
			var m map[string]string
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, nil, fmt.Errorf("%s is not an object of strings: %w", metadataKey, err)
			}
			for k, v := range m {
				meta[k] = v
			}
			continue
		}
		e, err := parseEntry(name, raw, dataSize)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, bad(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, bad(err)
		}
		return nil, nil, fmt.Errorf("header has %v after its JSON object", tok)
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return entries, meta, nil
}

// parseEntry checks one tensor's header entry against the data size.
func parseEntry(name string, raw json.RawMessage, dataSize int64) (entry, error) {
	if name == "" {
		return entry{}, errors.New("tensor with an empty name")
	}
	var info struct {
		Dtype       *string  `json:"dtype"`
		Shape       *[]int   `json:"shape"`
		DataOffsets *[]int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return entry{}, fmt.Errorf("tensor %q: bad header entry: %w", name, err)
	}
	switch {
	case info.Dtype == nil:
		return entry{}, fmt.Errorf("tensor %q: header entry has no dtype", name)
	case info.Shape == nil:
		return entry{}, fmt.Errorf("tensor %q: header entry has no shape", name)
	case info.DataOffsets == nil:
		return entry{}, fmt.Errorf("tensor %q: header entry has no data_offsets", name)
	}
	e := entry{name: name, dtype: *info.Dtype, shape: *info.Shape}
	esize, ok := dtypeSizes[e.dtype]
	switch {
	case !ok:
		return entry{}, fmt.Errorf("tensor %q: unknown dtype %q", name, e.dtype)
	case e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16" && e.dtype != "F64":
		return entry{}, fmt.Errorf("tensor %q: dtype %s is not supported (checkpoints hold F32; F16, BF16 and F64 are converted)", name, e.dtype)
	}
	for _, d := range e.shape {
		if d < 0 {
			return entry{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.shape)
		}
	}
	offs := *info.DataOffsets
	if len(offs) != 2 {
		return entry{}, fmt.Errorf("tensor %q: data_offsets has %d values, want 2 (begin, end)", name, len(offs))
	}
	e.begin, e.end = offs[0], offs[1]
	switch {
	case e.begin < 0 || e.end < e.begin:
		return entry{}, fmt.Errorf("tensor %q: invalid data_offsets [%d, %d]", name, e.begin, e.end)
	case e.end > dataSize:
		return entry{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the end of the data (%d bytes)", name, e.begin, e.end, dataSize)
	}
	n := elems(e.shape, math.MaxInt64/esize)
	if n < 0 || n*esize != e.end-e.begin {
		want := "more than 2^63 bytes"
		if n >= 0 {
			want = fmt.Sprint(n*esize, " bytes")
		}
		return entry{}, fmt.Errorf("tensor %q: shape %v of %s needs %s, but data_offsets [%d, %d] span %d bytes", name, e.shape, e.dtype, want, e.begin, e.end, e.end-e.begin)
	}
	return e, nil
}

// readData reads and converts one tensor's data through scratch, which it
// returns for reuse.
func readData(r io.ReaderAt, dataStart int64, e entry, scratch []byte) ([]float32, []byte, error) {
	esize := dtypeSizes[e.dtype]
	out := make([]float32, (e.end-e.begin)/esize)
	chunk := int64(cap(scratch)) / esize * esize
	for i, off := 0, e.begin; off < e.end; {
		m := min(chunk, e.end-off)
		b := scratch[:m]
		if _, err := r.ReadAt(b, dataStart+off); err != nil {
			return nil, scratch, err
		}
		switch e.dtype {
		case "F32":
			for j := 0; j < len(b); j, i = j+4, i+1 {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[j:]))
			}
		case "F64":
			for j := 0; j < len(b); j, i = j+8, i+1 {
				out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[j:])))
			}
		case "F16":
			for j := 0; j < len(b); j, i = j+2, i+1 {
				out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[j:]))
			}
		case "BF16":
			for j := 0; j < len(b); j, i = j+2, i+1 {
				out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[j:])) << 16)
			}
		}
		off += m
	}
	return out, scratch, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // zero
		return math.Float32frombits(sign)
	}
	// Subnormal: value = frac * 2^-24.
	f := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}
