package tile

import (
	"math/rand/v2"
	"testing"
)

// TestTranspose16 compares the assembly Transpose16 with Transpose16Go on
// strided rows, scattered destination rows and every combination of
// flags.
func TestTranspose16(t *testing.T) {
	if !Available512() {
		t.Skip("no AVX-512 on this CPU: Transpose16 is not checked")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, stride := range []int{16, 21, 64} {
		src := make([]float32, 15*stride+16)
		for i := range src {
			src[i] = rng.Float32()*2 - 1
		}
		var off [16]int
		for i := range off {
			off[i] = (15-i)*40 + i%3 // rows out of order, unaligned
		}
		mask := make([]float32, 16*40)
		for i := range mask {
			mask[i] = float32(i%3 - 1) // below, at and above zero
		}
		for flags := range 8 {
			got, want := make([]float32, 16*40), make([]float32, 16*40)
			for i := range got {
				got[i] = float32(i)
				want[i] = got[i]
			}
			Transpose16(&src[0], stride, &got[0], &off, flags, &mask[0])
			Transpose16Go(&src[0], stride, &want[0], &off, flags, &mask[0])
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("stride %d flags %d: [%d] = %v, want %v", stride, flags, i, got[i], want[i])
				}
			}
		}
		// No offsets: rows one after another, with and without ReLU.
		for _, flags := range []int{0, TransposeReLU} {
			got, want := make([]float32, 256+8), make([]float32, 256+8)
			for i := range got {
				got[i], want[i] = float32(i), float32(i)
			}
			Transpose16(&src[0], stride, &got[4], nil, flags, nil)
			Transpose16Go(&src[0], stride, &want[4], nil, flags, nil)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("stride %d flags %d, no offsets: [%d] = %v, want %v", stride, flags, i, got[i], want[i])
				}
			}
		}
	}
}

// TestDWTaps8 compares the assembly DWTaps8 with DWTaps8Go for the NAS
// kernels' sizes, dilation 1 and 2.
func TestDWTaps8(t *testing.T) {
	if !Available512() {
		t.Skip("no AVX-512 on this CPU: DWTaps8 is not checked")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 3, 5, 7} {
		for _, d := range []int{1, 2} {
			s := d // stride 2 with dilation 2
			wp := 8*s + (k-1)*d + 6
			plane := make([]float32, (k-1)*d*wp*16+wp*16+16)
			for i := range plane {
				plane[i] = rng.Float32()*2 - 1
			}
			taps, bias := make([]float32, k*k*16), make([]float32, 16)
			for i := range taps {
				taps[i] = rng.Float32()*2 - 1
			}
			for i := range bias {
				bias[i] = rng.Float32()
			}
			var got, want [256]float32
			DWTaps8(&got[0], &plane[16], &taps[0], &bias[0], k, k, 4*16*wp*d, 4*16*d, 64*s)
			DWTaps8Go(&want[0], &plane[16], &taps[0], &bias[0], k, k, 4*16*wp*d, 4*16*d, 64*s)
			for i := range want[:128] {
				if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("k %d: [%d] = %v, want %v", k, i, got[i], want[i])
				}
			}
			// Sixteen: the second eight from three pixels on.
			DWTaps16(&got[0], 0, &plane[16], &plane[16+48], &taps[0], &bias[0], k, k, 4*16*wp*d, 4*16*d, 64*s)
			DWTaps16Go(&want[0], 0, &plane[16], &plane[16+48], &taps[0], &bias[0], k, k, 4*16*wp*d, 4*16*d, 64*s)
			for i := range want {
				if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("k %d, sixteen: [%d] = %v, want %v", k, i, got[i], want[i])
				}
			}
			// Transposed, rows 19 floats apart; what lies between them
			// stays.
			const stride = 19
			var gotT, wantT [15*stride + 16]float32
			for i := range gotT {
				gotT[i], wantT[i] = float32(i), float32(i)
			}
			DWTaps16(&gotT[0], stride, &plane[16], &plane[16+48], &taps[0], &bias[0], k, k, 4*16*wp*d, 4*16*d, 64*s)
			DWTaps16Go(&wantT[0], stride, &plane[16], &plane[16+48], &taps[0], &bias[0], k, k, 4*16*wp*d, 4*16*d, 64*s)
			for i := range wantT {
				if d := gotT[i] - wantT[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("k %d, sixteen transposed: [%d] = %v, want %v", k, i, gotT[i], wantT[i])
				}
			}
			for j := range 16 {
				for p := range 16 {
					if wantT[j*stride+p] != want[16*p+j] {
						t.Fatalf("k %d: the reference's transposed channel %d pixel %d is %v, its plain output %v", k, j, p, wantT[j*stride+p], want[16*p+j])
					}
				}
			}
		}
	}
}

// TestDWGrad compares the assembly DWGrad kernels with DWGradGo, dilation
// 1 and 2.
func TestDWGrad(t *testing.T) {
	if !Available512() {
		t.Skip("no AVX-512 on this CPU: the DWGrad kernels are not checked")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct {
		r, k int
		f    func(acc, dy, win *float32, n, rowStep, tapStep int)
	}{{3, 3, DWGrad3x3}, {5, 5, DWGrad5x5}, {4, 7, DWGrad4x7}, {3, 7, DWGrad3x7}} {
		for _, d := range []int{1, 2} {
			const n = 11
			wp := n + (s.k-1)*d
			plane := make([]float32, (s.r-1)*d*wp*16+wp*16+16)
			dy := make([]float32, n*16)
			for _, v := range [][]float32{plane, dy} {
				for i := range v {
					v[i] = rng.Float32()*2 - 1
				}
			}
			got, want := make([]float32, s.r*s.k*16), make([]float32, s.r*s.k*16)
			for i := range got {
				got[i] = float32(i)
				want[i] = got[i]
			}
			s.f(&got[0], &dy[0], &plane[16], n, 4*16*wp*d, 4*16*d)
			DWGradGo(s.r, s.k, &want[0], &dy[0], &plane[16], n, 4*16*wp*d, 4*16*d)
			for i := range want {
				if e := got[i] - want[i]; e > 1e-4 || e < -1e-4 {
					t.Fatalf("%dx%d d %d: [%d] = %v, want %v", s.r, s.k, d, i, got[i], want[i])
				}
			}
		}
	}
}
