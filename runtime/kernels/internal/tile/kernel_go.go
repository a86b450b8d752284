package tile

import "unsafe"

// KernelGo is Kernel6x16 in plain Go: the reference its tests compare
// with, and what runs where the assembly cannot.
func KernelGo(k int, a, b *float32, ldb int, c *float32, ldc int, bias, mask *float32, ldm, mr, accumulate int) {
	as := unsafe.Slice(a, Rows*k)
	bs := unsafe.Slice(b, max((k-1)*ldb+Cols, 0))
	cs := unsafe.Slice(c, (mr-1)*ldc+Cols)
	var biases, masks []float32
	if bias != nil {
		biases = unsafe.Slice(bias, mr)
	}
	if mask != nil {
		masks = unsafe.Slice(mask, (mr-1)*ldm+Cols)
	}
	for r := range mr {
		for j := range Cols {
			var s float32
			for kk := range k {
				s += as[kk*Rows+r] * bs[kk*ldb+j]
			}
			if biases != nil {
				s += biases[r]
			}
			if masks != nil && !(masks[r*ldm+j] > 0) {
				s = 0
			}
			if accumulate != 0 {
				s += cs[r*ldc+j]
			}
			cs[r*ldc+j] = s
		}
	}
}

// PackStripsGo is PackStrips in plain Go.
func PackStripsGo(dst, src *float32, ldb, rows, strips, relu int) {
	d := unsafe.Slice(dst, strips*rows*Cols)
	s := unsafe.Slice(src, (rows-1)*ldb+strips*Cols)
	for r := range rows {
		for st := range strips {
			out := d[(st*rows+r)*Cols : (st*rows+r+1)*Cols]
			copy(out, s[r*ldb+st*Cols:])
			if relu != 0 {
				for j, v := range out {
					out[j] = max(v, 0)
				}
			}
		}
	}
}

// Kernel8x32Go is Kernel8x32 in plain Go: the reference its tests compare
// with.
func Kernel8x32Go(k int, a, b *float32, ldb, sb int, c *float32, ldc int, bias, mask *float32, ldm, mr, cols, flags int, pk *float32) {
	as := unsafe.Slice(a, Rows512*k)
	if flags&Pack != 0 {
		half := Cols
		if cols>>Cols != 0 {
			half = Cols512
		}
		ps := unsafe.Slice(pk, Cols512*k)
		for kk := range k {
			for j := range half {
				v := float32(0)
				if cols>>j&1 != 0 {
					v = *(*float32)(unsafe.Add(unsafe.Pointer(b), 4*(j%Cols+j/Cols*sb+kk*ldb)))
					if flags&2 != 0 {
						v = max(v, 0)
					}
				}
				ps[kk*Cols512+j] = v
			}
		}
	}
	for r := range mr {
		for j := range Cols512 {
			if cols>>j&1 == 0 {
				continue
			}
			// Only the columns in cols are touched, of c, mask and b.
			bj := unsafe.Add(unsafe.Pointer(b), 4*(j%Cols+j/Cols*sb))
			var s float32
			for kk := range k {
				v := *(*float32)(unsafe.Add(bj, 4*kk*ldb))
				if flags&2 != 0 {
					v = max(v, 0)
				}
				s += as[kk*Rows512+r] * v
			}
			if bias != nil {
				s += *(*float32)(unsafe.Add(unsafe.Pointer(bias), 4*r))
			}
			if mask != nil && !(*(*float32)(unsafe.Add(unsafe.Pointer(mask), 4*(r*ldm+j))) > 0) {
				s = 0
			}
			cp := (*float32)(unsafe.Add(unsafe.Pointer(c), 4*(r*ldc+j)))
			if flags&1 != 0 {
				s += *cp
			}
			*cp = s
		}
	}
}

// FoldIndices are the permutes with which Dots4x4 folds its 16
// accumulators into one vector: at level l each vector holds 2^l
// accumulators' partial sums in groups of s = 16>>l lanes; idx[l] picks,
// from two such vectors x and y (lanes 16..31 are y's), the first halves
// of every group, x's then y's, and idx[4+l] the second halves, so that
// adding the two leaves groups of s/2 in the same order.
func FoldIndices() [8][16]uint32 {
	var idx [8][16]uint32
	for l := range 4 {
		s := 16 >> l
		h := s / 2
		for r := range 16 {
			src := r % 8
			i := src/h*s + src%h
			if r >= 8 {
				i += 16
			}
			idx[l][r] = uint32(i)
			idx[4+l][r] = uint32(i + h)
		}
	}
	return idx
}

// Dots4x4Go is the reference for Dots4x4 (idx is unused).
func Dots4x4Go(n int, py, px *[4]*float32, tail, relu, imgs, sy, sx int, idx *[8][16]uint32, out *[16]float32) {
	m := n
	for tail>>(m-n)&1 != 0 {
		m++
	}
	for i := range 4 {
		y := unsafe.Slice(py[i], (imgs-1)*sy+m)
		for j := range 4 {
			x := unsafe.Slice(px[j], (imgs-1)*sx+m)
			s := float32(0)
			for im := range imgs {
				for l := range m {
					v := x[im*sx+l]
					if relu != 0 {
						v = max(v, 0)
					}
					s += y[im*sy+l] * v
				}
			}
			out[4*i+j] = s
		}
	}
}

// Transpose16's flags.
const (
	TransposeReLU = 1 << iota
	TransposeMask
	TransposeAdd
)

// Transpose16Go is the reference for Transpose16.
func Transpose16Go(src *float32, srcStride int, dst *float32, off *[16]int, flags int, mask *float32) {
	s := unsafe.Slice(src, 15*srcStride+16)
	if off == nil {
		off = &[16]int{0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240}
	}
	for i := range 16 {
		d := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(dst), 4*off[i])), 16)
		var m []float32
		if flags&TransposeMask != 0 {
			m = unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(mask), 4*off[i])), 16)
		}
		for j := range 16 {
			v := s[j*srcStride+i]
			if flags&TransposeReLU != 0 {
				v = max(v, 0)
			}
			if m != nil && !(m[j] > 0) {
				v = 0
			}
			if flags&TransposeAdd != 0 {
				v += d[j]
			}
			d[j] = v
		}
	}
}

// DWTaps8Go is the reference for DWTaps8.
func DWTaps8Go(out, win, taps, bias *float32, kh, kw, rowStep, tapStep, pixStep int) {
	o := unsafe.Slice(out, 8*16)
	b := unsafe.Slice(bias, 16)
	for i := range 8 {
		copy(o[16*i:16*i+16], b)
	}
	t := unsafe.Slice(taps, kh*kw*16)
	for ky := range kh {
		for kx := range kw {
			wt := t[(ky*kw+kx)*16:][:16]
			p := unsafe.Add(unsafe.Pointer(win), ky*rowStep+kx*tapStep)
			for i := range 8 {
				px := unsafe.Slice((*float32)(unsafe.Add(p, pixStep*i)), 16)
				for c := range 16 {
					o[16*i+c] += wt[c] * px[c]
				}
			}
		}
	}
}

// DWGradGo is the reference for the DWGrad kernels: r×k taps.
func DWGradGo(r, k int, acc, dy, win *float32, n, rowStep, tapStep int) {
	a := unsafe.Slice(acc, r*k*16)
	d := unsafe.Slice(dy, n*16)
	for p := range n {
		for i := range r {
			for j := range k {
				px := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(win), 64*p+i*rowStep+j*tapStep)), 16)
				for c := range 16 {
					a[(i*k+j)*16+c] += d[16*p+c] * px[c]
				}
			}
		}
	}
}

// DWTaps16Go is the reference for DWTaps16: DWTaps8Go twice, then the
// transpose when outStride is not 0.
func DWTaps16Go(out *float32, outStride int, win0, win1, taps, bias *float32, kh, kw, rowStep, tapStep, pixStep int) {
	var px [256]float32
	DWTaps8Go(&px[0], win0, taps, bias, kh, kw, rowStep, tapStep, pixStep)
	DWTaps8Go(&px[128], win1, taps, bias, kh, kw, rowStep, tapStep, pixStep)
	if outStride == 0 {
		copy(unsafe.Slice(out, 256), px[:])
		return
	}
	o := unsafe.Slice(out, 15*outStride+16)
	for j := range 16 {
		for p := range 16 {
			o[j*outStride+p] = px[16*p+j]
		}
	}
}
