package kernels

import (
	"fmt"
	"testing"
)

// TestVecRows compares vecRows and vecMaskRows with plain loops on every
// width up to 64 and on strides wider than the rows, where they take the
// rows: whole vectors (AVX2 and up) and, on AVX-512 CPUs, every width
// (rows512, maskRows512), whose masked tails must leave the floats
// between the rows alone.
func TestVecRows(t *testing.T) {
	const rows = 3
	taken := 0
	for w := 1; w <= 64; w++ {
		for _, op := range []rowOp{rowCopy, rowAdd, rowReLU} {
			t.Run(fmt.Sprintf("w%d/op%d", w, op), func(t *testing.T) {
				ds, ss := w+5, w+3
				src := make([]float32, rows*ss)
				for i := range src {
					src[i] = float32(i%9) - 4
				}
				dst, want := make([]float32, rows*ds), make([]float32, rows*ds)
				for i := range dst {
					dst[i] = float32(i%5) + 0.5
				}
				copy(want, dst)
				for r := range rows {
					for j := range w {
						v := src[r*ss+j]
						switch op {
						case rowAdd:
							v += want[r*ds+j]
						case rowReLU:
							v = max(v, 0)
						}
						want[r*ds+j] = v
					}
				}
				if !vecRows(dst, src, rows, w, ds, ss, op) {
					return
				}
				taken++
				for i := range want {
					if dst[i] != want[i] {
						t.Fatalf("dst[%d] = %v, want %v", i, dst[i], want[i])
					}
				}
			})
		}
		for _, acc := range []bool{false, true} {
			t.Run(fmt.Sprintf("mask/w%d/acc=%v", w, acc), func(t *testing.T) {
				ds, ss := w+5, w+3
				src, mask := make([]float32, rows*ss), make([]float32, rows*ds)
				for i := range src {
					src[i] = float32(i%9) - 4
				}
				for i := range mask {
					mask[i] = float32(i%7) - 3
				}
				dst, want := make([]float32, rows*ds), make([]float32, rows*ds)
				for i := range dst {
					dst[i] = float32(i%5) + 0.5
				}
				copy(want, dst)
				for r := range rows {
					for j := range w {
						v := float32(0)
						if mask[r*ds+j] > 0 {
							v = src[r*ss+j]
						}
						if acc {
							v += want[r*ds+j]
						}
						want[r*ds+j] = v
					}
				}
				if !vecMaskRows(dst, src, mask, rows, w, ds, ss, acc) {
					return
				}
				taken++
				for i := range want {
					if dst[i] != want[i] {
						t.Fatalf("dst[%d] = %v, want %v", i, dst[i], want[i])
					}
				}
			})
		}
	}
	if taken == 0 {
		t.Skip("no vector row loops on this CPU (or build)")
	}
	t.Logf("%d of %d cases ran vector loops", taken, 64*5)
}
