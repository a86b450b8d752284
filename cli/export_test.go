package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cellc/runtime/checkpoint"
)

// TestExportCheckpoint exports a trained checkpoint, then checks that bad
// checkpoints (truncated, not cellc's, with a spec that no longer
// compiles, missing a tensor) fail with exit 1 and an error naming the
// file, leaving an existing output untouched.
func TestExportCheckpoint(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	var out, errb bytes.Buffer
	train := []string{"train", "../specs/nasnet_a.cell", "--n", "1", "--base-filters", "4", "--data", "synthetic",
		"--synthetic-size", "32", "--image-size", "16", "--channels", "1", "--classes", "4", "--epochs", "1", "--batch", "16", "--out", runDir}
	if code := run_(train, &out, &errb); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errb.String())
	}
	ckpt := filepath.Join(runDir, "checkpoint.safetensors")
	model := filepath.Join(dir, "model.onnx")
	out.Reset()
	if code := run_([]string{"export", ckpt, "-o", model}, &out, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "wrote "+model+": nasnet_a (1 @ ") {
		t.Errorf("export printed %q", out.String())
	}
	data, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{checkpoint.KeySpec, checkpoint.KeyConfig, "cellc.classes"} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("the model's metadata has no %s", key)
		}
	}
	out.Reset()
	if code := run_([]string{"export", ckpt, "--no-fold", "-o", model}, &out, &errb); code != 0 || !strings.Contains(out.String(), "batch norms kept") {
		t.Fatalf("export --no-fold: exit %d: %s%s", code, out.String(), errb.String())
	}

	raw, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	tensors, meta, err := checkpoint.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.safetensors")
	os.WriteFile(truncated, raw[:len(raw)-100], 0o644)
	notOurs := filepath.Join(dir, "other.safetensors")
	other := map[string]string{}
	for k, v := range meta {
		if k != checkpoint.KeySpec {
			other[k] = v
		}
	}
	save(t, notOurs, tensors, other)
	stale := filepath.Join(dir, "stale.safetensors")
	changed := clone(meta)
	changed[checkpoint.KeySpec] = strings.Replace(meta[checkpoint.KeySpec], "sep5x5,", "sep9x9,", 1)
	if changed[checkpoint.KeySpec] == meta[checkpoint.KeySpec] {
		t.Fatal("the spec has no sep5x5 to break")
	}
	save(t, stale, tensors, changed)
	missing := filepath.Join(dir, "missing.safetensors")
	var fewer []checkpoint.Tensor
	for _, x := range tensors {
		if x.Name != "final_layer/FC/weights" {
			fewer = append(fewer, x)
		}
	}
	if len(fewer) == len(tensors) {
		t.Fatal("no final_layer/FC/weights in the checkpoint")
	}
	save(t, missing, fewer, meta)

	existing := filepath.Join(dir, "existing.onnx")
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "nope.safetensors"), "no such file"},
		{truncated, "truncated.safetensors"},
		{notOurs, "not a cellc checkpoint"},
		{stale, "no longer compiles"},
		{missing, "no trained parameter"},
	} {
		os.WriteFile(existing, []byte("old"), 0o644)
		out.Reset()
		errb.Reset()
		if code := run_([]string{"export", c.path, "-o", existing}, &out, &errb); code != 1 {
			t.Errorf("%s: exit %d, want 1 (%s)", filepath.Base(c.path), code, errb.String())
		}
		msg := errb.String()
		t.Logf("%s: %s", filepath.Base(c.path), strings.TrimSpace(msg))
		if !strings.Contains(msg, c.path) || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q should name the file and say %q", filepath.Base(c.path), msg, c.want)
		}
		if got, _ := os.ReadFile(existing); string(got) != "old" {
			t.Errorf("%s: the failed export changed the output file", filepath.Base(c.path))
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(entries) > 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func save(t *testing.T, path string, tensors []checkpoint.Tensor, meta map[string]string) {
	t.Helper()
	if err := checkpoint.Save(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
