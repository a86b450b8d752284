package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FashionMNISTNames are Fashion-MNIST's class names in label order.
var FashionMNISTNames = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// MNISTNames are MNIST's class names in label order.
var MNISTNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// FashionMNISTEnv names the environment variable FindFashionMNIST reads
// first.
const FashionMNISTEnv = "CELLC_FASHION_MNIST"

// FashionMNISTDebianDir is where Debian's dataset-fashion-mnist package
// installs the four gzip'd IDX files.
const FashionMNISTDebianDir = "/usr/share/datasets/fashion-mnist"

// FashionMNIST reads Fashion-MNIST from dir: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each plain or gzip'd (with a .gz suffix, as
// Debian ships them). Images are 1×28×28 with 10 classes. Both sets are
// normalised with the mean and standard deviation of the 60,000 training
// images. The paper's data sets have no Fashion-MNIST validation split;
// take one with Subset if needed.
func FashionMNIST(dir string) (train, test Dataset, err error) {
	return readIDXPair(dir, FashionMNISTNames)
}

// MNIST reads MNIST from dir; the files and layout are FashionMNIST's.
func MNIST(dir string) (train, test Dataset, err error) {
	return readIDXPair(dir, MNISTNames)
}

// FindFashionMNIST returns the folder holding Fashion-MNIST: the one named
// by $CELLC_FASHION_MNIST when that is set (an error if it lacks the
// files), else Debian's /usr/share/datasets/fashion-mnist (apt-get install
// dataset-fashion-mnist). The error wraps ErrNotFound when neither has it.
func FindFashionMNIST() (dir string, err error) {
	if d := os.Getenv(FashionMNISTEnv); d != "" {
		if err := hasIDX(d); err != nil {
			return "", fmt.Errorf("data: $%s=%s: %w (%v)", FashionMNISTEnv, d, ErrNotFound, err)
		}
		return d, nil
	}
	if err := hasIDX(FashionMNISTDebianDir); err != nil {
		return "", fmt.Errorf("data: Fashion-MNIST: %w in %s (apt-get install dataset-fashion-mnist, or set $%s): %v",
			ErrNotFound, FashionMNISTDebianDir, FashionMNISTEnv, err)
	}
	return FashionMNISTDebianDir, nil
}

var idxFiles = []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

func hasIDX(dir string) error {
	for _, f := range idxFiles {
		if _, err := findIDX(dir, f); err != nil {
			return err
		}
	}
	return nil
}

// findIDX returns dir/name, or dir/name.gz when only that exists.
func findIDX(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	for _, c := range []string{p, p + ".gz"} {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", &FileError{Path: c, Err: unwrapPath(err)}
		}
	}
	return "", &FileError{Path: p + "[.gz]", Err: fs.ErrNotExist}
}

func readIDXPair(dir string, names []string) (train, test Dataset, err error) {
	trainImgs, err := readIDXSet(dir, "train", len(names))
	if err != nil {
		return nil, nil, err
	}
	testImgs, err := readIDXSet(dir, "t10k", len(names))
	if err != nil {
		return nil, nil, err
	}
	if testImgs.shape != trainImgs.shape {
		return nil, nil, fmt.Errorf("data: %s: test images are %v, training images %v", dir, testImgs.shape, trainImgs.shape)
	}
	norm := trainImgs.stats(nil)
	return newU8Set(trainImgs, nil, names, norm), newU8Set(testImgs, nil, names, norm), nil
}

func readIDXSet(dir, prefix string, classes int) (*u8Images, error) {
	imgPath, err := findIDX(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lblPath, err := findIDX(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	idims, pix, err := readIDX(imgPath, 3)
	if err != nil {
		return nil, err
	}
	ldims, labels, err := readIDX(lblPath, 1)
	if err != nil {
		return nil, err
	}
	if idims[0] != ldims[0] {
		return nil, fileErr(lblPath, "has %d labels but %s has %d images", ldims[0], imgPath, idims[0])
	}
	for i, l := range labels {
		if int(l) >= classes {
			return nil, fileErr(lblPath, "label %d of item %d out of range 0..%d", l, i, classes-1)
		}
	}
	return &u8Images{pix: pix, labels: labels, shape: Shape{1, idims[1], idims[2]}}, nil
}

// maxIDXBytes bounds what a header may declare (the largest real IDX file
// of these sets is 47 MB).
const maxIDXBytes = 1 << 32

// readIDX reads an IDX file of unsigned bytes with ndim dimensions. The
// header is magic 0x00 0x00 0x08 ndim, then ndim big-endian uint32 sizes;
// the data, sizes[0]*…*sizes[ndim-1] bytes, follows and must end the file.
// A file starting with gzip's magic is decompressed first.
func readIDX(path string, ndim int) (dims []int, body []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &FileError{Path: path, Err: unwrapPath(err)}
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fileErr(path, "bad gzip header: %v", err)
		}
		defer zr.Close()
		r = zr
	} else if strings.HasSuffix(path, ".gz") {
		return nil, nil, fileErr(path, "named .gz but not gzip data (bad gzip magic)")
	}
	wrap := func(what string, err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fileErr(path, "truncated %s", what)
		}
		return fileErr(path, "reading %s: %v", what, err)
	}

	hdr := make([]byte, 4+4*ndim)
	if n, err := io.ReadFull(r, hdr[:4]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, nil, fileErr(path, "empty file, want an IDX header")
		}
		return nil, nil, wrap("header", err)
	}
	want := uint32(0x0800 | ndim)
	if magic := binary.BigEndian.Uint32(hdr); magic != want {
		return nil, nil, fileErr(path, "bad magic 0x%08x, want 0x%08x (unsigned bytes, %d dimensions)", magic, want, ndim)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return nil, nil, wrap("header", err)
	}
	size := int64(1)
	for i := 0; i < ndim; i++ {
		d := int64(binary.BigEndian.Uint32(hdr[4+4*i:]))
		if d == 0 {
			return nil, nil, fileErr(path, "dimension %d is 0", i)
		}
		size *= d
		if size > maxIDXBytes {
			return nil, nil, fileErr(path, "header declares more than %d bytes of data", int64(maxIDXBytes))
		}
		dims = append(dims, int(d))
	}
	// ReadAll grows with the data actually present, so a header that lies
	// about the size costs no more memory than the file holds.
	body, err = io.ReadAll(io.LimitReader(r, size+1))
	if err != nil {
		return nil, nil, wrap(fmt.Sprintf("data (got %d of %d bytes)", len(body), size), err)
	}
	switch {
	case int64(len(body)) < size:
		return nil, nil, fileErr(path, "truncated: %d bytes of data, header %v declares %d", len(body), dims, size)
	case int64(len(body)) > size:
		return nil, nil, fileErr(path, "wrong size: data runs past the %d bytes header %v declares", size, dims)
	}
	return dims, body, nil
}
