package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCIFAR10(t *testing.T) {
	dir := t.TempDir()
	const perBatch, nTest = 20, 7
	writeCIFAR(t, dir, perBatch, nTest)

	train, val, test, err := CIFAR10(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 90 || val.Len() != 10 || test.Len() != nTest {
		t.Fatalf("sizes %d/%d/%d, want 90/10/%d", train.Len(), val.Len(), test.Len(), nTest)
	}
	if got := train.Shape(); got != (Shape{3, 32, 32}) {
		t.Errorf("shape %v", got)
	}
	if !slices.Equal(train.ClassNames(), CIFAR10Names) || train.Classes() != 10 {
		t.Errorf("class names %v", train.ClassNames())
	}

	// Every training record lands in exactly one of train and val: find
	// each example's record by its first pixels.
	recOf := func(x []float32, norm Norm) (file, rec int) {
		raw := func(j int) int { return int(math.Round(float64((x[j]*norm.Std[0] + norm.Mean[0]) * 255))) }
		for f := 1; f <= 5; f++ {
			for r := 0; r < perBatch; r++ {
				if raw(0) == (f*31+r*13)%256 && raw(1) == (f*31+r*13+1)%256 && raw(2) == (f*31+r*13+2)%256 {
					return f, r
				}
			}
		}
		return -1, -1
	}
	norm, ok := Normalization(train)
	if !ok {
		t.Fatal("CIFAR-10 reports no normalisation")
	}
	seen := map[[2]int]string{}
	x := make([]float32, 3072)
	for name, ds := range map[string]Dataset{"train": train, "val": val} {
		for i := 0; i < ds.Len(); i++ {
			label, err := ds.Example(i, x)
			if err != nil {
				t.Fatal(err)
			}
			f, r := recOf(x, norm)
			if f < 0 {
				t.Fatalf("%s example %d matches no record", name, i)
			}
			if want := (f*7 + r) % 10; label != want {
				t.Errorf("%s example %d: label %d, want %d", name, i, label, want)
			}
			if prev, dup := seen[[2]int{f, r}]; dup {
				t.Errorf("record %d/%d in %s and %s", f, r, prev, name)
			}
			seen[[2]int{f, r}] = name
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d records seen, want 100", len(seen))
	}

	// The normalisation is the training split's: its images have mean 0
	// and variance 1 per channel.
	var sum, sq [3]float64
	for i := 0; i < train.Len(); i++ {
		train.Example(i, x)
		for c := 0; c < 3; c++ {
			for _, v := range x[c*1024 : (c+1)*1024] {
				sum[c] += float64(v)
				sq[c] += float64(v) * float64(v)
			}
		}
	}
	for c := 0; c < 3; c++ {
		n := float64(train.Len() * 1024)
		if m, v := sum[c]/n, sq[c]/n; math.Abs(m) > 1e-4 || math.Abs(v-1) > 1e-3 {
			t.Errorf("channel %d: normalised train mean %g, variance %g", c, m, v)
		}
	}

	// Test example 3 is record 3 of test_batch.bin.
	label, err := test.Example(3, x)
	if err != nil || label != 3 {
		t.Fatalf("test example 3: label %d, %v", label, err)
	}
	for _, j := range []int{0, 1500, 3071} {
		want := (float32((3*13+j)%256)/255 - norm.Mean[j/1024]) / norm.Std[j/1024]
		if math.Abs(float64(x[j]-want)) > 1e-5 {
			t.Errorf("test example 3 value %d = %g, want %g", j, x[j], want)
		}
	}

	// The split is fixed: reading again gives the same validation set.
	_, val2, _, err := CIFAR10(dir)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, 3072)
	for i := 0; i < val.Len(); i++ {
		val.Example(i, x)
		val2.Example(i, y)
		if !slices.Equal(x, y) {
			t.Fatalf("validation example %d differs between reads", i)
		}
	}

	if _, err := train.Example(90, x); err == nil {
		t.Error("Example(90) of 90: no error")
	}
	if _, err := train.Example(0, x[:10]); err == nil {
		t.Error("Example into a short slice: no error")
	}
}

func TestCIFAR10MetaAndSubfolder(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cifar-10-batches-bin")
	writeCIFAR(t, dir, 10, 10)
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n"))
	train, _, _, err := CIFAR10(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(train.ClassNames(), names) {
		t.Errorf("class names %v, want %v", train.ClassNames(), names)
	}
}

func TestCIFAR10Errors(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(dir string) error
		file   string
		words  []string
	}{
		{"missing", func(dir string) error {
			return os.Remove(filepath.Join(dir, "data_batch_3.bin"))
		}, "data_batch_3.bin", []string{"no such file"}},
		{"truncated", func(dir string) error {
			return os.Truncate(filepath.Join(dir, "test_batch.bin"), 5*cifarRecord-100)
		}, "test_batch.bin", []string{"wrong size", "3073-byte records"}},
		{"empty", func(dir string) error {
			return os.Truncate(filepath.Join(dir, "data_batch_5.bin"), 0)
		}, "data_batch_5.bin", []string{"empty"}},
		{"bad label", func(dir string) error {
			b := cifarRecords(2, 5)
			b[3*cifarRecord] = 12
			return os.WriteFile(filepath.Join(dir, "data_batch_2.bin"), b, 0o644)
		}, "data_batch_2.bin", []string{"record 3", "label 12"}},
		{"bad meta", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "batches.meta.txt"), []byte("cat\ndog\n"), 0o644)
		}, "batches.meta.txt", []string{"2 class names"}},
		{"directory", func(dir string) error {
			p := filepath.Join(dir, "data_batch_4.bin")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o755)
		}, "data_batch_4.bin", []string{"not a regular file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCIFAR(t, dir, 5, 5)
			if err := tc.mangle(dir); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := CIFAR10(dir)
			wantFileError(t, err, tc.file, tc.words...)
		})
	}
}

// TestCIFAR10Split: the real 50,000 training records split 45,000/5,000,
// disjoint, the same every time.
func TestCIFAR10Split(t *testing.T) {
	train, val := splitTrainVal(50000)
	if len(train) != 45000 || len(val) != 5000 {
		t.Fatalf("split %d/%d, want 45000/5000", len(train), len(val))
	}
	seen := make([]bool, 50000)
	for _, i := range append(slices.Clone(train), val...) {
		if seen[i] {
			t.Fatalf("record %d in both sets", i)
		}
		seen[i] = true
	}
	_, val2 := splitTrainVal(50000)
	if !slices.Equal(val, val2) {
		t.Error("the split changed between calls")
	}
}

// TestCIFAR10Real reads the real CIFAR-10 binary set from $CELLC_CIFAR10,
// when set (no Debian package ships it).
func TestCIFAR10Real(t *testing.T) {
	dir := os.Getenv("CELLC_CIFAR10")
	if dir == "" {
		t.Skip("CIFAR-10 not available, skipping: set $CELLC_CIFAR10 to the cifar-10-batches-bin folder to run")
	}
	train, val, test, err := CIFAR10(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 45000 || val.Len() != 5000 || test.Len() != 10000 {
		t.Fatalf("sizes %d/%d/%d, want 45000/5000/10000", train.Len(), val.Len(), test.Len())
	}
	norm, _ := Normalization(train)
	t.Logf("training mean %v, std %v", norm.Mean, norm.Std)
	for c, want := range []float32{0.491, 0.482, 0.447} {
		if math.Abs(float64(norm.Mean[c]-want)) > 0.005 {
			t.Errorf("channel %d mean %g, want about %g", c, norm.Mean[c], want)
		}
	}
}
