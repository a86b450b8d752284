package checkpoint

import (
	"bufio"
	"bytes"
	"cellc/internal/atomicfile"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Save writes tensors and meta to path as a safetensors file, atomically:
// it writes a temporary file in path's directory, syncs it and renames it
// over path, so path holds either its old contents or the complete new
// file, never a partial one. Tensors are stored sorted by name; names must
// be unique, non-empty and not "__metadata__", and each tensor's Data must
// have as many values as its Shape says. An empty meta writes no
// "__metadata__" entry.
func Save(path string, tensors []Tensor, meta map[string]string) error {
	return save(path, tensors, meta, nil)
}

// save is Save with a hook that wraps the file's writer (tests use it to
// make writes fail part way).
func save(path string, tensors []Tensor, meta map[string]string, wrap func(io.Writer) io.Writer) (err error) {
	header, sorted, err := encodeHeader(tensors, meta)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}

	err = atomicfile.Write(path, func(f io.Writer) error {
		w := f
		if wrap != nil {
			w = wrap(f)
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
		bw.Write(n[:])
		bw.Write(header)
		buf := make([]byte, 0, 64<<10)
		for _, t := range sorted {
			for i := 0; i < len(t.Data); {
				buf = buf[:0]
				for ; i < len(t.Data) && len(buf) < cap(buf); i++ {
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(t.Data[i]))
				}
				if _, err := bw.Write(buf); err != nil {
					return err
				}
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// tensorInfo is a tensor's header entry.
type tensorInfo struct {
	Dtype       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// encodeHeader validates tensors and builds the padded JSON header. It
// returns the tensors sorted by name, in the order of their data.
func encodeHeader(tensors []Tensor, meta map[string]string) ([]byte, []Tensor, error) {
	sorted := slices.Clone(tensors)
	slices.SortFunc(sorted, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	entries := make(map[string]any, len(sorted)+1)
	var off int64
	for i, t := range sorted {
		switch {
		case t.Name == "":
			return nil, nil, errors.New("tensor with an empty name")
		case t.Name == metadataKey:
			return nil, nil, fmt.Errorf("tensor named %q (the name is reserved for metadata)", metadataKey)
		case !utf8.ValidString(t.Name):
			return nil, nil, fmt.Errorf("tensor name %q is not valid UTF-8", t.Name)
		case i > 0 && sorted[i-1].Name == t.Name:
			return nil, nil, fmt.Errorf("two tensors named %q", t.Name)
		}
		n := elems(t.Shape, math.MaxInt64/4)
		if n < 0 {
			return nil, nil, fmt.Errorf("tensor %q has invalid shape %v", t.Name, t.Shape)
		}
		if n != int64(len(t.Data)) {
			return nil, nil, fmt.Errorf("tensor %q has shape %v (%d values) but %d values of data", t.Name, t.Shape, n, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		entries[t.Name] = tensorInfo{Dtype: "F32", Shape: shape, DataOffsets: []int64{off, off + 4*n}}
		off += 4 * n
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("metadata %q is not valid UTF-8", k)
		}
	}
	if len(meta) > 0 {
		entries[metadataKey] = meta
	}

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entries); err != nil { // maps encode with sorted keys
		return nil, nil, err
	}
	h := bytes.TrimRight(b.Bytes(), "\n")
	// Pad with spaces so the data starts 8-byte aligned, as the reference
	// implementation does; JSON parsers ignore trailing whitespace.
	for (8+len(h))%8 != 0 {
		h = append(h, ' ')
	}
	return h, sorted, nil
}
