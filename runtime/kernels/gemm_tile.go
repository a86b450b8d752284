package kernels

import "cellc/runtime/kernels/internal/tile"

// The input gradient of a 1×1 conv that reads a wide concatenation (192
// channels into 32 in a NASNet's first stage) is Wᵀ·dY with a 192×32
// weight: a tall, thin product whose k is only 32. OpenBLAS runs such
// shapes at 57 GFLOP/s of this core's 93, and its caller then needs two
// more passes over the 192-channel result, to apply the fused ReLU's mask
// and to add it into the gradient. tileGemm runs that product at about 77
// through an assembly kernel (internal/tile) and applies the mask and the
// accumulation as it stores each tile.

const (
	tileRows = tile.Rows
	tileCols = tile.Cols
	tileK    = 256 // k per packed panel of A
	tileNC   = 256 // columns of B packed at a time: 16 strips
)

// tileArgs are tileGemm's optional parts. The mask has C's shape (row
// stride ldm): where it is not positive, the product is dropped (the
// backward pass of a ReLU whose input is the mask). packedA is op(A)
// already packed by tilePackAllA (weights packed once for many images);
// reluB rectifies B as it is packed (a ReLU in front of a 1×1 conv).
// packedB is all of B already in strips (stripBlock's layout, as
// dwDest writes it), and then b is not read.
type tileArgs struct {
	bias       []float32
	mask       []float32
	ldm        int
	accumulate bool
	packedA    []float32
	reluB      bool
	packedB    []float32
}

// tilePackLen is the scratch tileGemm needs for an m×k op(A).
func tilePackLen(m, k int) int {
	kb := min(k, tileK)
	return (m+tileRows-1)/tileRows*tileRows*kb + kb*tileNC + 2*tileRows*tileCols
}

// useTileGemm reports whether tileGemm should compute an m×n×k product,
// op(A)·B with op(A) = Aᵀ when transA, instead of the BLAS: only on CPUs
// with AVX2 and FMA, and where it is faster (BenchmarkTileGemm). Against
// gonum's pure-Go BLAS that is every conv shape (4–5×: 60–66 against
// 12–15 GFLOP/s). Against OpenBLAS it is the input gradients with a short
// k (k ≤ 64: 63 against 55 GFLOP/s for 32×32 by 32×1024, 79 against 56
// for 192×32 by 32×1024), where OpenBLAS's packing costs as much as its
// multiply; its forward products run as fast in a whole network, and
// from k = 128 on it is faster.
func useTileGemm(m, n, k int, transA bool) bool {
	if !tile.Available() || m <= 0 || n < tileCols {
		return false
	}
	if blasName == "gonum" {
		return true
	}
	return transA && k <= 64
}

// tileGemm computes C = [C +] where(mask > 0, op(A)·B [+ bias], 0): op(A)
// is A (m×k, row stride lda) or, when transA, Aᵀ with A stored k×m; B is
// k×n with row stride ldb, C m×n with row stride ldc; the bias is added
// to each row. pack holds tilePackLen(m, k) floats of scratch. Only for
// CPUs where tile.Available.
func tileGemm(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, o tileArgs, pack []float32) {
	tileGemmWith(true, transA, m, n, k, a, lda, b, ldb, c, ldc, o, pack)
}

// tileGemmWith is tileGemm with the assembly kernels (asm) or their Go
// references (tile.KernelGo, tile.PackStripsGo), which the tests also run.
func tileGemmWith(asm, transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, o tileArgs, scratch []float32) {
	if m <= 0 || n <= 0 {
		return
	}
	kernel, pack := tile.KernelGo, tile.PackStripsGo
	if asm {
		kernel, pack = tile.Kernel6x16, tile.PackStrips
	}
	_ = c[(m-1)*ldc+n-1]
	if o.mask != nil {
		_ = o.mask[(m-1)*o.ldm+n-1]
	}
	if k <= 0 {
		// No product: C is the masked bias, or zero, plus C.
		for i := range m {
			for j := range n {
				v := float32(0)
				if o.bias != nil {
					v = o.bias[i]
				}
				if o.mask != nil && !(o.mask[i*o.ldm+j] > 0) {
					v = 0
				}
				if o.accumulate {
					v += c[i*ldc+j]
				}
				c[i*ldc+j] = v
			}
		}
		return
	}
	panels := (m + tileRows - 1) / tileRows
	for k0 := 0; k0 < k; k0 += tileK {
		kb := min(tileK, k-k0)
		ap := scratch[:panels*tileRows*kb]
		bp := scratch[len(ap) : len(ap)+kb*tileNC]
		tc := scratch[len(ap)+len(bp):][:tileRows*tileCols]
		tm := scratch[len(ap)+len(bp)+len(tc):][:tileRows*tileCols]
		if o.packedA != nil {
			ap = o.packedA[panels*tileRows*k0:][:len(ap)]
		} else {
			tilePackA(transA, m, a, lda, k0, kb, ap)
		}
		acc := 0
		if o.accumulate || k0 > 0 {
			acc = 1
		}
		bias := o.bias
		if k0 > 0 {
			bias = nil // added once, with the first panel
		}
		var bk []float32
		if o.packedB == nil {
			bk = b[k0*ldb:]
			_ = bk[(kb-1)*ldb+n-1]
		}
		for j0 := 0; j0 < n; j0 += tileNC {
			nb := min(tileNC, n-j0)
			if o.packedB != nil {
				base, _ := stripBlock(k0, kb, n)
				bp = o.packedB[base+j0*kb : base+(j0+(nb+tileCols-1)/tileCols*tileCols)*kb]
			} else {
				tilePackB(pack, bk, ldb, j0, nb, kb, bp, o.reluB)
			}
			for s := 0; s*tileCols < nb; s++ {
				j := j0 + s*tileCols
				nt := min(tileCols, n-j)
				strip := &bp[s*kb*tileCols]
				for p := range panels {
					i := p * tileRows
					mr := min(tileRows, m-i)
					if nt == tileCols {
						var mask *float32
						if o.mask != nil {
							mask = &o.mask[i*o.ldm+j]
						}
						kernel(kb, &ap[p*tileRows*kb], strip, tileCols, &c[i*ldc+j], ldc, biasAt(bias, i), mask, o.ldm, mr, acc)
						continue
					}
					// The last columns, fewer than 16: through tiles of C
					// and of the mask.
					var mask *float32
					for r := range mr {
						row := (i + r) * ldc
						if acc != 0 {
							copy(tc[r*tileCols:r*tileCols+nt], c[row+j:row+n])
						}
						if o.mask != nil {
							mrow := (i + r) * o.ldm
							copy(tm[r*tileCols:r*tileCols+nt], o.mask[mrow+j:mrow+n])
							mask = &tm[0]
						}
					}
					kernel(kb, &ap[p*tileRows*kb], strip, tileCols, &tc[0], tileCols, biasAt(bias, i), mask, tileCols, mr, acc)
					for r := range mr {
						row := (i + r) * ldc
						copy(c[row+j:row+n], tc[r*tileCols:r*tileCols+nt])
					}
				}
			}
		}
	}
}

// tilePackB copies columns j0..j0+nb of kb rows of B into strips of 16
// columns, each strip kb rows of 16 consecutive floats (zeros past nb):
// the kernel then reads its strip from consecutive cache lines, where B's
// own rows, often 4 KiB apart, would compete for the same L1 sets and TLB
// entries. Each row of B is read once, in order; relu rectifies it.
// packStrips is tile.PackStrips or its Go reference.
func tilePackB(packStrips func(dst, src *float32, ldb, rows, strips, relu int), bk []float32, ldb, j0, nb, kb int, bp []float32, relu bool) {
	r := 0
	if relu {
		r = 1
	}
	full := nb / tileCols
	if full > 0 {
		_ = bk[(kb-1)*ldb+j0+full*tileCols-1]
		_ = bp[full*kb*tileCols-1]
		packStrips(&bp[0], &bk[j0], ldb, kb, full, r)
	}
	if rest := nb - full*tileCols; rest > 0 {
		for kk := range kb {
			dst := bp[(full*kb+kk)*tileCols : (full*kb+kk+1)*tileCols]
			copy(dst, bk[kk*ldb+j0+full*tileCols:kk*ldb+j0+nb])
			clear(dst[rest:])
			if relu {
				for j, v := range dst[:rest] {
					dst[j] = max(v, 0)
				}
			}
		}
	}
}

// stripBlock places the block of kb rows of B starting at row k0 (a
// multiple of tileK) in all of a k×n B packed at once (tileArgs.packedB):
// the block starts at base, B's columns rounded up to whole strips times
// k0, and holds its strips one after another, each kb rows of 16 floats
// (stride floats apart), as tilePackB packs one block. For k ≤ tileK
// that is one block of strips: column 16s+j of row r at (s·k + r)·16 + j.
func stripBlock(k0, kb, n int) (base, stride int) {
	return k0 * ((n + tileCols - 1) / tileCols * tileCols), kb * tileCols
}

// biasAt is &bias[i], or nil when there is no bias.
func biasAt(bias []float32, i int) *float32 {
	if bias == nil {
		return nil
	}
	return &bias[i]
}

// tilePackAllLen is the floats tilePackAllA writes for an m×k op(A).
func tilePackAllLen(m, k int) int { return (m + tileRows - 1) / tileRows * tileRows * k }

// tilePackAllA packs all of op(A) (m×k) into ap as tileGemm would, panel
// block by panel block: tileArgs.packedA for a product whose A does not
// change between calls.
func tilePackAllA(transA bool, m, k int, a []float32, lda int, ap []float32) {
	panels := (m + tileRows - 1) / tileRows
	for k0 := 0; k0 < k; k0 += tileK {
		kb := min(tileK, k-k0)
		tilePackA(transA, m, a, lda, k0, kb, ap[panels*tileRows*k0:][:panels*tileRows*kb])
	}
}

// tilePackA copies columns k0..k0+kb of op(A) into panels of six rows:
// panel p holds, for each k, op(A)[6p+r][k0+k] for r = 0..5, zero past
// the last row.
func tilePackA(transA bool, m int, a []float32, lda, k0, kb int, ap []float32) {
	for p := 0; p*tileRows < m; p++ {
		panel := ap[p*tileRows*kb : (p+1)*tileRows*kb]
		i0, mr := p*tileRows, min(tileRows, m-p*tileRows)
		if mr < tileRows {
			clear(panel)
		}
		if transA {
			// op(A)[i][k] = a[k*lda+i]: row k of a holds the panel's
			// values for that k.
			for kk := range kb {
				copy(panel[kk*tileRows:kk*tileRows+mr], a[(k0+kk)*lda+i0:(k0+kk)*lda+i0+mr])
			}
			continue
		}
		for r := range mr {
			src := a[(i0+r)*lda+k0 : (i0+r)*lda+k0+kb]
			for kk, v := range src {
				panel[kk*tileRows+r] = v
			}
		}
	}
}
