package data

import "math"

// u8Images holds n images of one shape as bytes (C, H, W per image) with
// their labels: the in-memory form of CIFAR-10 and IDX files.
type u8Images struct {
	pix    []byte
	labels []byte
	shape  Shape
}

func (m *u8Images) len() int { return len(m.labels) }

// stats returns the per-channel mean and standard deviation, on the [0, 1]
// scale, of the images at idx (all images when idx is nil). Sums are exact
// integers, so the result does not depend on summation order.
func (m *u8Images) stats(idx []int32) Norm {
	c, hw := m.shape.C, m.shape.H*m.shape.W
	sum := make([]uint64, c)
	sq := make([]uint64, c)
	add := func(i int) {
		img := m.pix[i*c*hw : (i+1)*c*hw]
		for ch := 0; ch < c; ch++ {
			var s, q uint64
			for _, v := range img[ch*hw : (ch+1)*hw] {
				s += uint64(v)
				q += uint64(v) * uint64(v)
			}
			sum[ch] += s
			sq[ch] += q
		}
	}
	n := 0
	if idx == nil {
		for i := 0; i < m.len(); i++ {
			add(i)
		}
		n = m.len()
	} else {
		for _, i := range idx {
			add(int(i))
		}
		n = len(idx)
	}
	norm := Norm{Mean: make([]float32, c), Std: make([]float32, c)}
	for ch := 0; ch < c; ch++ {
		cnt := float64(n) * float64(hw)
		mean := float64(sum[ch]) / cnt / 255
		v := float64(sq[ch])/cnt/(255*255) - mean*mean
		std := 1.0
		if v > 1e-12 {
			std = math.Sqrt(v)
		}
		norm.Mean[ch], norm.Std[ch] = float32(mean), float32(std)
	}
	return norm
}

// u8Set is a view of some of a u8Images' images, normalised with norm.
type u8Set struct {
	imgs  *u8Images
	idx   []int32 // nil: all images in order
	names []string
	norm  Norm
	lut   [][256]float32 // per channel: byte -> normalised value
}

func newU8Set(imgs *u8Images, idx []int32, names []string, norm Norm) *u8Set {
	s := &u8Set{imgs: imgs, idx: idx, names: names, norm: norm}
	s.lut = make([][256]float32, imgs.shape.C)
	for c := range s.lut {
		for v := 0; v < 256; v++ {
			s.lut[c][v] = (float32(v)/255 - norm.Mean[c]) / norm.Std[c]
		}
	}
	return s
}

func (s *u8Set) Len() int {
	if s.idx == nil {
		return s.imgs.len()
	}
	return len(s.idx)
}

func (s *u8Set) Shape() Shape         { return s.imgs.shape }
func (s *u8Set) Classes() int         { return len(s.names) }
func (s *u8Set) ClassNames() []string { return append([]string(nil), s.names...) }

func (s *u8Set) Norm() Norm {
	return Norm{Mean: append([]float32(nil), s.norm.Mean...), Std: append([]float32(nil), s.norm.Std...)}
}

func (s *u8Set) Example(i int, dst []float32) (int, error) {
	if err := checkExample(s, i, dst); err != nil {
		return 0, err
	}
	if s.idx != nil {
		i = int(s.idx[i])
	}
	sh := s.imgs.shape
	hw := sh.H * sh.W
	img := s.imgs.pix[i*sh.C*hw : (i+1)*sh.C*hw]
	for c := 0; c < sh.C; c++ {
		lut := &s.lut[c]
		d := dst[c*hw : (c+1)*hw]
		for j, v := range img[c*hw : (c+1)*hw] {
			d[j] = lut[v]
		}
	}
	return int(s.imgs.labels[i]), nil
}
