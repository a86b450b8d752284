package kernels

import "cellc/runtime/kernels/internal/tile"

// The weight gradient of a stride-1 1×1 conv, dw += dy·xᵀ, is a product
// whose reduction runs along the pixels, the contiguous axis of both dy
// (cout×p) and x (cin×p). OpenBLAS (which runs its Haswell kernels on
// this CPU) and the tile kernel both want one operand with that axis
// strided, so they transpose (pack) a whole image first. On AVX-512 CPUs
// each output is instead a dot product of two rows: tile.Dots4x4 keeps a
// 4×4 block of dw in 16 of the 32 vector registers, reads four rows of dy
// and four of x 16 floats at a time (eight loads for sixteen FMAs), reads
// the last partial vector with masked loads, and folds its accumulators
// into one vector of 16 sums once per block.

// vecWeightGrad adds dy·xᵀ to dw (cout×cin, row stride cin): dy is cout×p
// and x cin×p, both row-major; relu rectifies x as it is read (the input
// of a ReLU → 1×1 conv), which saves writing a rectified copy. It reports
// false, doing nothing, where the tile path v (tileVec) is not AVX-512 or
// p is below wgradMinP, leaving the product to the BLAS.
func vecWeightGrad(v Vec, cout, cin, p int, dy, x []float32, relu bool, dw []float32) bool {
	if tileVec(v) != VecAVX512 || p < wgradMinP || cout <= 0 || cin <= 0 {
		return false
	}
	dy, x, dw = dy[:cout*p], x[:cin*p], dw[:cout*cin] // every row read below lies inside
	n := p &^ 15
	tail := 1<<(p-n) - 1
	r := 0
	if relu {
		r = 1
	}
	idx := tile.FoldIndices()
	var out [16]float32
	var py, px [4]*float32
	for o := 0; o < cout; o += 4 {
		// A block past the last row or column reads the last one again and
		// drops those sums: no copies, no second kernel for the edges.
		for i := range py {
			py[i] = &dy[min(o+i, cout-1)*p]
		}
		for c := 0; c < cin; c += 4 {
			for j := range px {
				px[j] = &x[min(c+j, cin-1)*p]
			}
			tile.Dots4x4(n, &py, &px, tail, r, &idx, &out)
			for i := range min(4, cout-o) {
				row := dw[(o+i)*cin+c:]
				for j := range min(4, cin-c) {
					row[j] += out[i*4+j]
				}
			}
		}
	}
	return true
}

// wgradMinP is the fewest pixels per image for which vecWeightGrad beats
// OpenBLAS (BenchmarkWeightGrad, 2-core EPYC with AVX-512, GFLOP/s, BLAS
// against Dots4x4): 72–78 against 160–166 at p = 1024, 42 against 93 at
// 196, but 96 against 66 at 64 and 58 against 40 at 49, where the fold
// of each block costs as much as its 64 FMAs.
const wgradMinP = 128
