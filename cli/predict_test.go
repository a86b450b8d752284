package cli

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// predict reads a PNG, runs the checkpoint's folded inference plan and
// prints the top classes with probabilities.
func TestPredict(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	var out, errb bytes.Buffer
	args := []string{"train", "../specs/nasnet_a.cell", "--n", "1", "--base-filters", "4", "--data", "synthetic",
		"--synthetic-size", "64", "--image-size", "16", "--channels", "1", "--classes", "4", "--epochs", "1", "--batch", "16", "--out", run}
	if code := run_(args, &out, &errb); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errb.String())
	}
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			img.SetGray(x, y, color.Gray{Y: uint8(x * 6)})
		}
	}
	pic := filepath.Join(dir, "x.png")
	var buf bytes.Buffer
	png.Encode(&buf, img)
	os.WriteFile(pic, buf.Bytes(), 0o644)
	out.Reset()
	if code := run_([]string{"predict", filepath.Join(run, "checkpoint.safetensors"), pic, "--top", "2"}, &out, &errb); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errb.String())
	}
	line := strings.TrimSpace(out.String())
	if !strings.HasPrefix(line, pic+":") || strings.Count(line, "%") != 2 {
		t.Fatalf("predict printed %q", line)
	}
	out.Reset()
	if code := run_([]string{"predict", filepath.Join(run, "checkpoint.safetensors"), filepath.Join(dir, "missing.png")}, &out, &errb); code != 1 {
		t.Fatalf("missing image: exit %d", code)
	}
}

func run_(args []string, out, errb *bytes.Buffer) int {
	return run(args, strings.NewReader(""), out, errb)
}
