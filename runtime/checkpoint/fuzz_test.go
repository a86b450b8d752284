package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzLoad checks that no input makes decoding panic, and that whatever
// decodes survives a Save/Load round trip unchanged.
func FuzzLoad(f *testing.F) {
	ts, meta := sample()
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := Save(path, ts, meta); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-1])
	f.Add(build(`{}`, nil))
	f.Add(build(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"__metadata__":{"k":"v"}}`, []byte{0, 0x3c}))
	f.Add(build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32s(1, 2, 3)))
	f.Add(build(`{"a":{"dtype":"BF16","shape":[99999999999],"data_offsets":[0,2]}}`, []byte{0, 0}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'})

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, meta, err := decode(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		out := filepath.Join(dir, "out.safetensors")
		if err := Save(out, ts, meta); err != nil {
			t.Fatalf("Save of a decoded file: %v", err)
		}
		ts2, meta2, err := Load(out)
		if err != nil {
			t.Fatalf("Load of a saved file: %v", err)
		}
		sameTensors(t, ts2, ts)
		if !reflect.DeepEqual(meta2, meta) {
			t.Fatalf("metadata changed: %v, then %v", meta, meta2)
		}
	})
}
