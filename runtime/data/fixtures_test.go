package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// cifarRecords returns n CIFAR-10 records whose label and pixels follow
// from (file, record): label (file*7+r)%10, pixel j = (file*31+r*13+j)%256.
func cifarRecords(file, n int) []byte {
	b := make([]byte, 0, n*cifarRecord)
	for r := 0; r < n; r++ {
		b = append(b, byte((file*7+r)%10))
		for j := 0; j < cifarPixels; j++ {
			b = append(b, byte((file*31+r*13+j)%256))
		}
	}
	return b
}

// writeCIFAR writes a CIFAR-10 binary directory: five training batches of
// perBatch records (files 1..5) and a test batch of nTest (file 0).
func writeCIFAR(t testing.TB, dir string, perBatch, nTest int) {
	t.Helper()
	for i := 1; i <= 5; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)), cifarRecords(i, perBatch))
	}
	writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarRecords(0, nTest))
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// idxBytes encodes an IDX file of unsigned bytes.
func idxBytes(dims []int, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(0x0800|len(dims)))
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(body)
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// idxImages returns n side×side images, pixel (i, j) = (i*17 + j*3) % 256,
// and labels i%10.
func idxImages(n, side int) (pix, labels []byte) {
	for i := 0; i < n; i++ {
		for j := 0; j < side*side; j++ {
			pix = append(pix, byte((i*17+j*3)%256))
		}
		labels = append(labels, byte(i%10))
	}
	return pix, labels
}

// writeIDXSet writes the four IDX files, gzip'd (with .gz names) or plain.
func writeIDXSet(t testing.TB, dir string, nTrain, nTest, side int, gz bool) {
	t.Helper()
	for _, set := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		pix, labels := idxImages(set.n, side)
		img := idxBytes([]int{set.n, side, side}, pix)
		lbl := idxBytes([]int{set.n}, labels)
		ext := ""
		if gz {
			img, lbl, ext = gzipBytes(img), gzipBytes(lbl), ".gz"
		}
		writeFile(t, filepath.Join(dir, set.prefix+"-images-idx3-ubyte"+ext), img)
		writeFile(t, filepath.Join(dir, set.prefix+"-labels-idx1-ubyte"+ext), lbl)
	}
}

// wantFileError checks that err is a *FileError for the file named base
// (a suffix of its path) whose message mentions each of words.
func wantFileError(t *testing.T, err error, base string, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %s", base)
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q (%T) is not a *FileError", err, err)
	}
	if !strings.HasSuffix(fe.Path, base) || !strings.Contains(err.Error(), base) {
		t.Errorf("error %q does not name %s (path %q)", err, base, fe.Path)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// gridDS is a test data set whose every value tells where it came from:
// image i, channel c, row y, column x holds 1 + i*4096 + c*1024 + y*32 + x
// (never 0, so padding shows), label i%classes. W and H must be <= 32.
type gridDS struct {
	n       int
	shape   Shape
	classes int
	calls   atomic.Int64
	failAt  int // Example fails for this index when >= 0
}

func newGrid(n int, shape Shape) *gridDS {
	return &gridDS{n: n, shape: shape, classes: 10, failAt: -1}
}

func gridValue(i, c, y, x int) float32 { return float32(1 + i*4096 + c*1024 + y*32 + x) }

func (g *gridDS) Len() int             { return g.n }
func (g *gridDS) Shape() Shape         { return g.shape }
func (g *gridDS) Classes() int         { return g.classes }
func (g *gridDS) ClassNames() []string { return make([]string, g.classes) }

func (g *gridDS) Example(i int, dst []float32) (int, error) {
	g.calls.Add(1)
	if i == g.failAt {
		return 0, errors.New("broken example")
	}
	if err := checkExample(g, i, dst); err != nil {
		return 0, err
	}
	s := g.shape
	for c := 0; c < s.C; c++ {
		for y := 0; y < s.H; y++ {
			for x := 0; x < s.W; x++ {
				dst[(c*s.H+y)*s.W+x] = gridValue(i, c, y, x)
			}
		}
	}
	return i % g.classes, nil
}

// gridIndex decodes the image index from a gridDS value.
func gridIndex(v float32) int { return (int(v) - 1) / 4096 }
