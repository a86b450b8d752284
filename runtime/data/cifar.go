package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CIFAR10Names are CIFAR-10's class names in label order, used when the
// directory has no batches.meta.txt.
var CIFAR10Names = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFAR10SplitSeed is the fixed seed of CIFAR10's training/validation split.
const CIFAR10SplitSeed uint64 = 0x4e41534e6574 // "NASNet"

const (
	cifarSide   = 32
	cifarPixels = 3 * cifarSide * cifarSide
	cifarRecord = 1 + cifarPixels
)

// CIFAR10 reads CIFAR-10's binary version from dir (the folder holding
// data_batch_1.bin … data_batch_5.bin and test_batch.bin, or its parent
// holding cifar-10-batches-bin). Each file is a list of 3,073-byte records:
// one label byte, then 1,024 red, 1,024 green and 1,024 blue bytes, row by
// row. The real files hold 10,000 records each; any whole number of records
// is accepted so that small fixtures work.
//
// Following the paper (appendix A.1), one tenth of the training records
// (5,000 of the real 50,000), picked by a permutation seeded with
// CIFAR10SplitSeed, are held out as the validation set; the other 45,000
// are the training set. All three sets are normalised per channel with the
// mean and standard deviation of the 45,000 training images. Class names
// come from batches.meta.txt (one per line) when present, else
// CIFAR10Names.
func CIFAR10(dir string) (train, val, test Dataset, err error) {
	if _, err := os.Stat(filepath.Join(dir, "data_batch_1.bin")); errors.Is(err, fs.ErrNotExist) {
		sub := filepath.Join(dir, "cifar-10-batches-bin")
		if _, err := os.Stat(filepath.Join(sub, "data_batch_1.bin")); err == nil {
			dir = sub
		}
	}
	names, err := cifarNames(filepath.Join(dir, "batches.meta.txt"))
	if err != nil {
		return nil, nil, nil, err
	}
	var files []string
	for i := 1; i <= 5; i++ {
		files = append(files, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)))
	}
	trainAll, err := readCIFAR(files, len(names))
	if err != nil {
		return nil, nil, nil, err
	}
	testImgs, err := readCIFAR([]string{filepath.Join(dir, "test_batch.bin")}, len(names))
	if err != nil {
		return nil, nil, nil, err
	}

	trainIdx, valIdx := splitTrainVal(trainAll.len())
	norm := trainAll.stats(trainIdx)

	train = newU8Set(trainAll, trainIdx, names, norm)
	val = newU8Set(trainAll, valIdx, names, norm)
	test = newU8Set(testImgs, nil, names, norm)
	return train, val, test, nil
}

// splitTrainVal splits n training records into the training and
// validation sets: a tenth, chosen by a permutation seeded with
// CIFAR10SplitSeed, for validation. Both lists are sorted.
func splitTrainVal(n int) (train, val []int32) {
	r := rng{seedOf(CIFAR10SplitSeed, streamSplit)}
	perm := r.perm(n)
	nVal := n / 10
	val, train = perm[:nVal:nVal], perm[nVal:]
	slices.Sort(val)
	slices.Sort(train)
	return train, val
}

// cifarNames reads batches.meta.txt: one class name per non-empty line.
func cifarNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return CIFAR10Names, nil
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPath(err)}
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			names = append(names, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if len(names) != len(CIFAR10Names) {
		return nil, fileErr(path, "has %d class names, want %d (one per line)", len(names), len(CIFAR10Names))
	}
	return names, nil
}

// readCIFAR reads and checks binary batch files into one image set.
func readCIFAR(files []string, classes int) (*u8Images, error) {
	var sizes []int64
	total := int64(0)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, &FileError{Path: f, Err: unwrapPath(err)}
		}
		if !st.Mode().IsRegular() {
			return nil, fileErr(f, "not a regular file")
		}
		sz := st.Size()
		switch {
		case sz == 0:
			return nil, fileErr(f, "empty file, want 3073-byte records")
		case sz%cifarRecord != 0:
			return nil, fileErr(f, "wrong size: %d bytes is not a whole number of %d-byte records (1 label + %d pixels); truncated?",
				sz, cifarRecord, cifarPixels)
		}
		sizes = append(sizes, sz)
		total += sz / cifarRecord
	}
	m := &u8Images{
		pix:    make([]byte, 0, total*cifarPixels),
		labels: make([]byte, 0, total),
		shape:  Shape{3, cifarSide, cifarSide},
	}
	for k, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, &FileError{Path: f, Err: unwrapPath(err)}
		}
		if int64(len(b)) != sizes[k] {
			return nil, fileErr(f, "changed size while being read (%d, then %d bytes)", sizes[k], len(b))
		}
		for r := 0; r < len(b)/cifarRecord; r++ {
			rec := b[r*cifarRecord : (r+1)*cifarRecord]
			if int(rec[0]) >= classes {
				return nil, fileErr(f, "record %d (byte offset %d) has label %d, want 0..%d", r, r*cifarRecord, rec[0], classes-1)
			}
			m.labels = append(m.labels, rec[0])
			m.pix = append(m.pix, rec[1:]...)
		}
	}
	return m, nil
}

// unwrapPath drops an *fs.PathError's operation and path (FileError adds
// its own path), keeping the cause: "file does not exist", "permission
// denied".
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
