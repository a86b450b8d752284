package data

import (
	"fmt"
	"math"
)

// SyntheticNoise is the standard deviation of the noise Synthetic adds to
// its unit-variance class patterns.
const SyntheticNoise = 0.5

// Synthetic returns n generated images of the given shape in the given
// number of classes, for fast tests that need something learnable. Each
// class has a fixed random pattern: per channel, a sum of three random
// low-frequency 2-D waves scaled to mean 0 and variance 1, smooth enough to
// survive the Loader's shifts and flips. Example i has label i % classes
// and is its class's pattern plus independent noise (SyntheticNoise). The
// values already have mean near 0 and variance near 1, so no further
// normalisation is applied (Normalization reports none). Everything
// follows from seed: the same arguments give the same images. Example
// allocates nothing.
//
// Invalid arguments (n < 0, an empty shape, classes < 1) give a set whose
// Example reports them.
func Synthetic(n int, shape Shape, classes int, seed uint64) Dataset {
	s := &synthetic{n: n, shape: shape, classes: classes, seed: seed}
	switch {
	case n < 0:
		s.err = fmt.Errorf("data: Synthetic: n = %d", n)
	case shape.C <= 0 || shape.H <= 0 || shape.W <= 0:
		s.err = fmt.Errorf("data: Synthetic: bad shape %v", shape)
	case classes < 1:
		s.err = fmt.Errorf("data: Synthetic: %d classes", classes)
	}
	if s.err != nil {
		s.n = 0
		return s
	}
	s.patterns = make([]float32, classes*shape.Elems())
	hw := shape.H * shape.W
	for k := 0; k < classes; k++ {
		r := rng{seedOf(seed, streamPattern, uint64(k))}
		for c := 0; c < shape.C; c++ {
			p := s.patterns[(k*shape.C+c)*hw : (k*shape.C+c+1)*hw]
			for wave := 0; wave < 3; wave++ {
				fy := float64(r.intn(3)) - 1 // cycles over the image, -1..1
				fx := float64(r.intn(3)) - 1
				if fx == 0 && fy == 0 {
					fx = 1
				}
				phase := 2 * math.Pi * float64(r.float())
				amp := 0.5 + float64(r.float())
				for y := 0; y < shape.H; y++ {
					for x := 0; x < shape.W; x++ {
						a := 2*math.Pi*(fy*float64(y)/float64(shape.H)+fx*float64(x)/float64(shape.W)) + phase
						p[y*shape.W+x] += float32(amp * math.Sin(a))
					}
				}
			}
			standardise(p)
		}
	}
	return s
}

func standardise(p []float32) {
	var sum, sq float64
	for _, v := range p {
		sum += float64(v)
	}
	mean := sum / float64(len(p))
	for _, v := range p {
		d := float64(v) - mean
		sq += d * d
	}
	std := math.Sqrt(sq / float64(len(p)))
	if std < 1e-9 {
		std = 1
	}
	for i, v := range p {
		p[i] = float32((float64(v) - mean) / std)
	}
}

type synthetic struct {
	n        int
	shape    Shape
	classes  int
	seed     uint64
	patterns []float32
	err      error
}

func (s *synthetic) Len() int     { return s.n }
func (s *synthetic) Shape() Shape { return s.shape }
func (s *synthetic) Classes() int { return s.classes }

func (s *synthetic) ClassNames() []string {
	names := make([]string, max(s.classes, 0))
	for i := range names {
		names[i] = fmt.Sprintf("class%d", i)
	}
	return names
}

func (s *synthetic) Example(i int, dst []float32) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := checkExample(s, i, dst); err != nil {
		return 0, err
	}
	label := i % s.classes
	e := s.shape.Elems()
	p := s.patterns[label*e : (label+1)*e]
	r := rng{seedOf(s.seed, streamNoise, uint64(i))}
	for j, v := range p {
		dst[j] = v + SyntheticNoise*r.normal4()
	}
	return label, nil
}
