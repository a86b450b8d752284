// Package data feeds images to cellc's CPU training runtime: readers for
// the data sets the NASNet paper uses (CIFAR-10's binary batches, the IDX
// files of MNIST and Fashion-MNIST, and an ImageNet-style folder of JPEG and
// PNG files), a learnable synthetic set for fast tests, and a Loader that
// shuffles, augments and batches them ahead of the compute.
//
// Every reader returns a Dataset: a fixed, indexable list of labelled
// images whose Example writes one image as float32 C×H×W values, already
// normalised per channel. Which mean and standard deviation a reader uses is
// part of its documentation and can be read back with Normalization:
//
//   - CIFAR10: computed from its 45,000-image training split, used for the
//     training, validation and test sets alike.
//   - FashionMNIST and MNIST: computed from the 60,000 training images.
//   - ImageFolder: fixed, the usual ImageNet RGB statistics (computing them
//     would mean decoding every file).
//   - Synthetic: none; its images are generated with mean 0 and roughly unit
//     variance.
//
// Readers check what they read and report problems as a *FileError naming
// the file (missing, wrong size, bad magic, truncated, bad label); corrupt
// input never panics. Images are held in memory as bytes where they fit
// (CIFAR, IDX) and decoded on demand where they do not (ImageFolder).
//
// The Loader (see NewLoader) runs a small pipeline of goroutines ahead of
// its consumer. Its output is a pure function of (Seed, epoch, example):
// the shuffle order comes from (Seed, epoch) and each example's
// augmentation from (Seed, epoch, dataset index), so batches are the same
// whatever the number of workers, and an epoch can be resumed at any step
// without touching the examples before it.
package data

import (
	"errors"
	"fmt"
	"sync"
)

// Shape is the shape of one image: channels, height, width. Batches are
// laid out N, C, H, W with the batch outermost. It converts to
// kernels.Shape, which has the same fields.
type Shape struct{ C, H, W int }

// Elems is C*H*W, the number of float32 values of one image.
func (s Shape) Elems() int { return s.C * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// Dataset is a fixed list of labelled images.
//
// Example writes image i (0 <= i < Len()) into dst[:Shape().Elems()] as
// float32 in C, H, W order, normalised per channel, and returns its label
// in [0, Classes()). dst must hold at least Shape().Elems() values. Example
// must be safe to call from several goroutines at once; the Loader does.
type Dataset interface {
	Len() int
	Shape() Shape
	Classes() int
	ClassNames() []string
	Example(i int, dst []float32) (label int, err error)
}

// Norm is the per-channel normalisation a data set applies: a raw value v
// in [0, 1] becomes (v - Mean[c]) / Std[c].
type Norm struct {
	Mean, Std []float32
}

// Normalization returns the per-channel normalisation ds applies, if ds (or
// the data set it wraps) reports one. Synthetic data reports none.
func Normalization(ds Dataset) (Norm, bool) {
	if n, ok := ds.(interface{ Norm() Norm }); ok {
		return n.Norm(), true
	}
	return Norm{}, false
}

// FileError is a problem with one input file: it could not be read, or
// its contents are not what the format requires.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return "data: " + e.Path + ": " + e.Err.Error() }

func (e *FileError) Unwrap() error { return e.Err }

func fileErr(path, format string, args ...any) error {
	return &FileError{Path: path, Err: fmt.Errorf(format, args...)}
}

// ErrNotFound reports that a data set is not installed where it was looked
// for.
var ErrNotFound = errors.New("data set not found")

// ErrClosed is returned by EpochIter.Err when the iterator or its Loader
// was closed before the epoch ended.
var ErrClosed = errors.New("data: loader closed")

func checkExample(ds Dataset, i int, dst []float32) error {
	if i < 0 || i >= ds.Len() {
		return fmt.Errorf("data: example %d out of range [0, %d)", i, ds.Len())
	}
	if n := ds.Shape().Elems(); len(dst) < n {
		return fmt.Errorf("data: destination holds %d values, an image needs %d", len(dst), n)
	}
	return nil
}

// Subset returns the examples of ds at the given indices, in that order.
// Indices out of range are reported by Example.
func Subset(ds Dataset, indices []int) Dataset {
	return &subset{ds: ds, idx: append([]int(nil), indices...)}
}

type subset struct {
	ds  Dataset
	idx []int
}

func (s *subset) Len() int             { return len(s.idx) }
func (s *subset) Shape() Shape         { return s.ds.Shape() }
func (s *subset) Classes() int         { return s.ds.Classes() }
func (s *subset) ClassNames() []string { return s.ds.ClassNames() }

func (s *subset) Norm() Norm {
	n, _ := Normalization(s.ds)
	return n
}

func (s *subset) Example(i int, dst []float32) (int, error) {
	if err := checkExample(s, i, dst); err != nil {
		return 0, err
	}
	return s.ds.Example(s.idx[i], dst)
}

// CenterCrop returns ds with every image cut to its central size×size
// square: the evaluation-time counterpart of the Loader's random Crop (see
// ImageFolder). Images smaller than size are reported by Example.
func CenterCrop(ds Dataset, size int) Dataset {
	c := &centerCrop{ds: ds, size: size}
	in := ds.Shape()
	c.pool.New = func() any { s := make([]float32, in.Elems()); return &s }
	return c
}

type centerCrop struct {
	ds   Dataset
	size int
	pool sync.Pool
}

func (c *centerCrop) Len() int             { return c.ds.Len() }
func (c *centerCrop) Shape() Shape         { return Shape{c.ds.Shape().C, c.size, c.size} }
func (c *centerCrop) Classes() int         { return c.ds.Classes() }
func (c *centerCrop) ClassNames() []string { return c.ds.ClassNames() }

func (c *centerCrop) Norm() Norm {
	n, _ := Normalization(c.ds)
	return n
}

func (c *centerCrop) Example(i int, dst []float32) (int, error) {
	in := c.ds.Shape()
	if c.size <= 0 || c.size > in.H || c.size > in.W {
		return 0, fmt.Errorf("data: center crop %d does not fit %v images", c.size, in)
	}
	if err := checkExample(c, i, dst); err != nil {
		return 0, err
	}
	sp := c.pool.Get().(*[]float32)
	defer c.pool.Put(sp)
	src := *sp
	label, err := c.ds.Example(i, src)
	if err != nil {
		return 0, err
	}
	oy, ox := (in.H-c.size)/2, (in.W-c.size)/2
	o := 0
	for ch := 0; ch < in.C; ch++ {
		for y := 0; y < c.size; y++ {
			row := src[(ch*in.H+oy+y)*in.W+ox:]
			o += copy(dst[o:o+c.size], row[:c.size])
		}
	}
	return label, nil
}
