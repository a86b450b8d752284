package data

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFashionMNISTFixture(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeIDXSet(t, dir, 30, 12, 28, gz)
			train, test, err := FashionMNIST(dir)
			if err != nil {
				t.Fatal(err)
			}
			if train.Len() != 30 || test.Len() != 12 {
				t.Fatalf("sizes %d/%d, want 30/12", train.Len(), test.Len())
			}
			if train.Shape() != (Shape{1, 28, 28}) || train.Classes() != 10 {
				t.Fatalf("shape %v, %d classes", train.Shape(), train.Classes())
			}
			if !slices.Equal(test.ClassNames(), FashionMNISTNames) {
				t.Errorf("class names %v", test.ClassNames())
			}
			norm, _ := Normalization(train)
			x := make([]float32, 784)
			label, err := test.Example(11, x)
			if err != nil || label != 1 {
				t.Fatalf("test example 11: label %d, %v", label, err)
			}
			for _, j := range []int{0, 100, 783} {
				want := (float32((11*17+j*3)%256)/255 - norm.Mean[0]) / norm.Std[0]
				if math.Abs(float64(x[j]-want)) > 1e-5 {
					t.Errorf("value %d = %g, want %g", j, x[j], want)
				}
			}
		})
	}
}

func TestMNISTNames(t *testing.T) {
	dir := t.TempDir()
	writeIDXSet(t, dir, 3, 3, 4, false)
	train, _, err := MNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Shape() != (Shape{1, 4, 4}) || train.ClassNames()[7] != "7" {
		t.Errorf("shape %v, names %v", train.Shape(), train.ClassNames())
	}
}

func TestIDXErrors(t *testing.T) {
	pix, labels := idxImages(4, 28)
	images := idxBytes([]int{4, 28, 28}, pix)
	tests := []struct {
		name  string
		file  string // written over the fixture's
		data  []byte
		words []string
	}{
		{"bad magic", "train-images-idx3-ubyte", append([]byte{0, 0, 8, 1}, images[4:]...), []string{"bad magic 0x00000801", "0x00000803"}},
		{"float magic", "train-labels-idx1-ubyte", append([]byte{0, 0, 0x0d, 1}, idxBytes([]int{4}, labels)[4:]...), []string{"bad magic"}},
		{"empty", "t10k-images-idx3-ubyte", nil, []string{"empty file"}},
		{"truncated header", "train-images-idx3-ubyte", images[:9], []string{"truncated header"}},
		{"truncated data", "train-images-idx3-ubyte", images[:len(images)-5], []string{"truncated", "3131 bytes", "3136"}},
		{"trailing data", "train-images-idx3-ubyte", append(slices.Clone(images), 1, 2, 3), []string{"wrong size"}},
		{"zero dimension", "train-images-idx3-ubyte", idxBytes([]int{4, 0, 28}, nil), []string{"dimension 1 is 0"}},
		{"huge header", "train-images-idx3-ubyte", idxBytes([]int{1 << 30, 1 << 30, 28}, pix[:10]), []string{"declares more than"}},
		{"label count", "train-labels-idx1-ubyte", idxBytes([]int{3}, labels[:3]), []string{"3 labels", "4 images"}},
		{"label range", "train-labels-idx1-ubyte", idxBytes([]int{4}, []byte{1, 2, 10, 3}), []string{"label 10 of item 2"}},
		{"truncated gzip", "train-images-idx3-ubyte.gz", gzipBytes(images)[:200], []string{"truncated"}},
		{"corrupt gzip", "train-images-idx3-ubyte.gz", corruptGzip(gzipBytes(images)), []string{"train-images-idx3-ubyte.gz"}},
		{"not gzip", "train-images-idx3-ubyte.gz", images, []string{"not gzip"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeIDXSet(t, dir, 4, 4, 28, false)
			if filepath.Ext(tc.file) == ".gz" {
				os.Remove(filepath.Join(dir, tc.file[:len(tc.file)-3]))
			}
			writeFile(t, filepath.Join(dir, tc.file), tc.data)
			_, _, err := FashionMNIST(dir)
			wantFileError(t, err, tc.file, tc.words...)
		})
	}

	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		writeIDXSet(t, dir, 4, 4, 28, true)
		os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
		_, _, err := FashionMNIST(dir)
		wantFileError(t, err, "t10k-labels-idx1-ubyte[.gz]", "does not exist")
	})
}

// corruptGzip flips bytes in the middle of the deflate stream.
func corruptGzip(b []byte) []byte {
	b = slices.Clone(b)
	for i := len(b) / 2; i < len(b)/2+8; i++ {
		b[i] ^= 0x5a
	}
	return b
}

func TestFindFashionMNISTEnv(t *testing.T) {
	dir := t.TempDir()
	writeIDXSet(t, dir, 2, 2, 28, true)
	t.Setenv(FashionMNISTEnv, dir)
	got, err := FindFashionMNIST()
	if err != nil || got != dir {
		t.Fatalf("FindFashionMNIST() = %q, %v; want %q", got, err, dir)
	}
	t.Setenv(FashionMNISTEnv, t.TempDir())
	if _, err := FindFashionMNIST(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty $%s: error %v, want ErrNotFound", FashionMNISTEnv, err)
	}
}

// TestFashionMNISTReal reads the real data set where Debian's
// dataset-fashion-mnist (or $CELLC_FASHION_MNIST) provides it.
func TestFashionMNISTReal(t *testing.T) {
	dir, err := FindFashionMNIST()
	if err != nil {
		t.Skipf("Fashion-MNIST not installed, skipping (apt-get install dataset-fashion-mnist, or set $%s): %v", FashionMNISTEnv, err)
	}
	train, test, err := FashionMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("sizes %d/%d, want 60000/10000", train.Len(), test.Len())
	}
	if train.Shape() != (Shape{1, 28, 28}) || test.Shape() != (Shape{1, 28, 28}) {
		t.Fatalf("shapes %v, %v", train.Shape(), test.Shape())
	}
	// The published training statistics.
	norm, _ := Normalization(train)
	if math.Abs(float64(norm.Mean[0])-0.2860) > 5e-4 || math.Abs(float64(norm.Std[0])-0.3530) > 5e-4 {
		t.Errorf("training mean %g, std %g; want about 0.2860, 0.3530", norm.Mean[0], norm.Std[0])
	}
	// Both sets are balanced: 6,000 and 1,000 images a class.
	x := make([]float32, 784)
	for _, set := range []struct {
		ds   Dataset
		want int
	}{{train, 6000}, {test, 1000}} {
		counts := make([]int, 10)
		for i := 0; i < set.ds.Len(); i++ {
			label, err := set.ds.Example(i, x)
			if err != nil {
				t.Fatal(err)
			}
			counts[label]++
		}
		for c, n := range counts {
			if n != set.want {
				t.Errorf("class %d (%s): %d images, want %d", c, FashionMNISTNames[c], n, set.want)
			}
		}
	}

	// A loader epoch over it, augmented, yields every image once.
	l := NewLoader(train, LoaderConfig{BatchSize: 256, Shuffle: true, Seed: 1, Augment: Augment{PadCrop: 2, Flip: true}})
	defer l.Close()
	it := l.Epoch(0)
	n := 0
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		n += b.N
	}
	if it.Err() != nil || n != 60000 {
		t.Errorf("loader epoch: %d images, %v", n, it.Err())
	}
}
