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

// ConvWeightGrads adds the weight gradient of images lo..hi-1 of a
// stride-1 1×1 conv, Σ_i dy_i·x_iᵀ (x rectified when c.ReLU), to dw in
// one product, and reports whether it did: only on AVX-512 CPUs (the tile
// path c.Vec allows), and only for enough pixels in all (wgradMinP). The
// caller then passes dw == nil to ConvBackward for those images; where it
// reports false, nothing was added and ConvBackward computes dw image by
// image. One product for the images a worker runs folds each block of
// 16 sums once instead of once per image, which on the smaller images
// (8×8: p = 64, 7×7: 49) costs as much as the image's FMAs.
func ConvWeightGrads(c Conv, x, dy Tensor, lo, hi int, dw []float32) bool {
	if c.Depthwise || !c.pointwise() || max(c.Stride, 1) != 1 || hi <= lo {
		return false
	}
	in := x.S
	p := in.H * in.W
	xs := x.Data[lo*x.Stride+x.Off:]
	ys := dy.Data[lo*dy.Stride+dy.Off:]
	return vecWeightGrad(c.Vec, c.Cout, in.C, p, hi-lo, ys, dy.Stride, xs, x.Stride, c.ReLU, dw)
}

// vecWeightGrad adds Σ_m dy_m·x_mᵀ over imgs images to dw (cout×cin, row
// stride cin): image m's dy (cout×p) starts at m·sy in dy and its x
// (cin×p) at m·sx in x, both row-major; relu rectifies x as it is read
// (the input of a ReLU → 1×1 conv), which saves writing a rectified copy.
// It reports false, doing nothing, where the tile path v (tileVec) is not
// AVX-512 or the images hold fewer than wgradMinP pixels in all, leaving
// the product to the BLAS.
func vecWeightGrad(v Vec, cout, cin, p, imgs int, dy []float32, sy int, x []float32, sx int, relu bool, dw []float32) bool {
	if tileVec(v) != VecAVX512 || p*imgs < wgradMinP || p <= 0 || cout <= 0 || cin <= 0 {
		return false
	}
	chunk := max(1, min(imgs, wgradChunkBytes/(4*(cout+cin)*p)))
	for m := 0; m < imgs; m += chunk {
		k := min(chunk, imgs-m)
		weightGrad512(cout, cin, p, k, dy[m*sy:], sy, x[m*sx:], sx, relu, dw)
	}
	return true
}

// wgradChunkBytes bounds the images of dy and x one weightGrad512 call
// sums over: each block of four rows of dy meets every row of x, so the
// images' x should stay in the core's L2 cache between blocks (1 MiB on
// the EPYC; BenchmarkWeightGrad's batch figures at 16 images were below
// one image a call for 32×192×1024, 76 against 118 GFLOP/s, when they all
// went in one call), while folding the accumulators once per call (per
// block) for several small images saves most of the fold's cost.
const wgradChunkBytes = 512 << 10

// weightGrad512 is vecWeightGrad's product, whatever its size; only for
// CPUs with tile.Available512.
func weightGrad512(cout, cin, p, imgs int, dy []float32, sy int, x []float32, sx int, relu bool, dw []float32) {
	// Every row read below lies inside these.
	dy, x, dw = dy[:(imgs-1)*sy+cout*p], x[:(imgs-1)*sx+cin*p], dw[:cout*cin]
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
			tile.Dots4x4(n, &py, &px, tail, r, imgs, sy, sx, &idx, &out)
			for i := range min(4, cout-o) {
				row := dw[(o+i)*cin+c:]
				for j := range min(4, cin-c) {
					row[j] += out[i*4+j]
				}
			}
		}
	}
}

// wgradMinP is the fewest pixels, all images together, for which
// vecWeightGrad beats OpenBLAS (BenchmarkWeightGrad, 2-core EPYC with
// AVX-512, GFLOP/s, BLAS against Dots4x4, one image): 72–78 against
// 160–166 at p = 1024, 42 against 93 at 196, but 96 against 66 at 64 and
// 58 against 40 at 49, where the fold of each block costs as much as its
// 64 FMAs; summed over 16 images those too are faster (ConvWeightGrads).
const wgradMinP = 128
