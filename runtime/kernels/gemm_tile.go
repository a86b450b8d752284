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
//
// On CPUs with AVX-512 the kernel is tile.Kernel8x32: 16-lane FMAs, an
// 8×32 tile in 16 of the 32 vector registers, panels of A of eight rows
// (so the packed weights depend on the path: tilePackAllLen), B read
// where it lies and copied as the first panel reads it (tileInPlace512),
// or in the strips a depthwise conv wrote (tileArgs.packedB), two at a
// time.

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
// dwDest writes it), and then b is not read. vec caps the kernel (tileVec;
// VecGo runs the Go references, for the tests); packedA must have been
// packed for the same path.
type tileArgs struct {
	vec        Vec
	bias       []float32
	mask       []float32
	ldm        int
	accumulate bool
	packedA    []float32
	reluB      bool
	packedB    []float32
}

// tilePackLen is the scratch tileGemm needs for an m×k op(A), on any
// path: panels of six or of eight rows.
func tilePackLen(m, k int) int {
	kb := min(k, tileK)
	rows := max(panelRows(m, tileRows), panelRows(m, tile.Rows512))
	return rows*kb + kb*tileNC + 2*tileRows*tileCols
}

// panelRows is m rounded up to whole panels of rows rows.
func panelRows(m, rows int) int { return (m + rows - 1) / rows * rows }

// tileRowsOf is the rows per packed panel of A of path v's kernel.
func tileRowsOf(v Vec) int {
	if v == VecAVX512 {
		return tile.Rows512
	}
	return tileRows
}

// useTileGemm reports whether tileGemm should compute an m×n×k product,
// op(A)·B with op(A) = Aᵀ when transA, instead of the BLAS: only where
// path v (tileVec) has a tile kernel, and where it is faster
// (BenchmarkTileGemm; the AVX2 kernel's figures). Against gonum's pure-Go
// BLAS that is every conv shape (4–5×: 60–66 against
// 12–15 GFLOP/s). Against OpenBLAS it is the input gradients with a short
// k (k ≤ 64: 63 against 55 GFLOP/s for 32×32 by 32×1024, 79 against 56
// for 192×32 by 32×1024), where OpenBLAS's packing costs as much as its
// multiply; its forward products run as fast in a whole network, and
// from k = 128 on it is faster.
func useTileGemm(v Vec, m, n, k int, transA bool) bool {
	if v == VecGo || m <= 0 || n < tileCols {
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
// CPUs where tile.Available, unless o.vec is VecGo: then it runs the Go
// references of the AVX2 kernels (tile.KernelGo, tile.PackStripsGo),
// which the tests compare with.
func tileGemm(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, o tileArgs, scratch []float32) {
	if m <= 0 || n <= 0 {
		return
	}
	v := tileVec(o.vec)
	kernel, pack := tile.KernelGo, tile.PackStripsGo
	if v != VecGo {
		kernel, pack = tile.Kernel6x16, tile.PackStrips
	}
	rows := tileRowsOf(v)
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
	panels := (m + rows - 1) / rows
	for k0 := 0; k0 < k; k0 += tileK {
		kb := min(tileK, k-k0)
		ap := scratch[:panels*rows*kb]
		bp := scratch[len(ap) : len(ap)+kb*tileNC]
		tc := scratch[len(ap)+len(bp):][:tileRows*tileCols]
		tm := scratch[len(ap)+len(bp)+len(tc):][:tileRows*tileCols]
		if o.packedA != nil {
			ap = o.packedA[panels*rows*k0:][:len(ap)]
		} else {
			tilePackA(rows, transA, m, a, lda, k0, kb, ap)
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
		if v == VecAVX512 && o.packedB == nil {
			tileInPlace512(m, n, kb, ap, bk, ldb, c, ldc, o, bias, acc, bp)
			continue
		}
		for j0 := 0; j0 < n; j0 += tileNC {
			nb := min(tileNC, n-j0)
			if o.packedB != nil {
				base, _ := stripBlock(k0, kb, n)
				bp = o.packedB[base+j0*kb : base+(j0+(nb+tileCols-1)/tileCols*tileCols)*kb]
			} else {
				tilePackB(pack, bk, ldb, j0, nb, kb, bp, o.reluB)
			}
			if v == VecAVX512 {
				tileStrips512(m, n, kb, j0, nb, ap, bp, c, ldc, o, bias, acc)
				continue
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

// tileStrips512 runs tile.Kernel8x32 over one packed block of B, columns
// j0..j0+nb, against every panel of ap: two strips (32 columns) a call,
// the columns past n masked off in the kernel, where the AVX2 path copies
// the last partial tile of C and of the mask through small tiles.
func tileStrips512(m, n, kb, j0, nb int, ap, bp, c []float32, ldc int, o tileArgs, bias []float32, acc int) {
	const rows = tile.Rows512
	panels := (m + rows - 1) / rows
	for s := 0; s*tileCols < nb; s += 2 {
		j := j0 + s*tileCols
		cols := uint64(1)<<min(tile.Cols512, n-j) - 1
		strip := &bp[s*kb*tileCols]
		for p := range panels {
			i := p * rows
			var mask *float32
			if o.mask != nil {
				mask = &o.mask[i*o.ldm+j]
			}
			tile.Kernel8x32(kb, &ap[p*rows*kb], strip, tileCols, kb*tileCols, &c[i*ldc+j], ldc, biasAt(bias, i), mask, o.ldm, min(rows, m-i), int(cols), acc, nil)
		}
	}
}

// tileInPlace512 runs tile.Kernel8x32 on B where it lies (row stride
// ldb), rectified as it is read when o.reluB, against every panel of ap.
// With several panels the first one's call also copies the 32 columns it
// reads into pk (kb·32 floats, tile.Pack), and the others read them from
// there: B's rows are often a multiple of 4 KiB apart (a 32×32 image's
// channels), so that a strip of them falls into two of L1's sets and is
// evicted before the next panel reads it again. Read from the copy, a
// NASNet's first-stage products ran 8–19 % faster (BenchmarkTileGemm,
// 2-core EPYC with AVX-512: 32×192 by 192×1024 160 → 172–185 GFLOP/s,
// 32×96 by 96×1024 160 → 191), where packing whole blocks of B into
// strips first had been slower still (120–150): the copy costs a store
// per load while the first panel's FMAs run, a separate pass its own
// time.
func tileInPlace512(m, n, kb int, ap, bk []float32, ldb int, c []float32, ldc int, o tileArgs, bias []float32, acc int, pk []float32) {
	const rows = tile.Rows512
	panels := (m + rows - 1) / rows
	flags := acc
	if o.reluB {
		flags |= 2
	}
	if panels > 1 {
		flags |= tile.Pack
		_ = pk[kb*tile.Cols512-1]
	}
	for j := 0; j < n; j += tile.Cols512 {
		cols := uint64(1)<<min(tile.Cols512, n-j) - 1
		for p := range panels {
			i := p * rows
			var mask *float32
			if o.mask != nil {
				mask = &o.mask[i*o.ldm+j]
			}
			b, ldB, sb, f := &bk[j], ldb, tileCols, flags
			if p > 0 {
				b, ldB, f = &pk[0], tile.Cols512, acc
			}
			var pp *float32
			if f&tile.Pack != 0 {
				pp = &pk[0]
			}
			tile.Kernel8x32(kb, &ap[p*rows*kb], b, ldB, sb, &c[i*ldc+j], ldc, biasAt(bias, i), mask, o.ldm, min(rows, m-i), int(cols), f, pp)
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

// tilePackAllLen is the floats tilePackAllA writes for an m×k op(A) for
// path v's kernel (tileVec).
func tilePackAllLen(v Vec, m, k int) int { return panelRows(m, tileRowsOf(v)) * k }

// tilePackAllA packs all of op(A) (m×k) into ap as tileGemm on path v
// would, panel block by panel block: tileArgs.packedA for a product whose
// A does not change between calls.
func tilePackAllA(v Vec, transA bool, m, k int, a []float32, lda int, ap []float32) {
	rows := tileRowsOf(v)
	panels := (m + rows - 1) / rows
	for k0 := 0; k0 < k; k0 += tileK {
		kb := min(tileK, k-k0)
		tilePackA(rows, transA, m, a, lda, k0, kb, ap[panels*rows*k0:][:panels*rows*kb])
	}
}

// tilePackA copies columns k0..k0+kb of op(A) into panels of rows rows:
// panel p holds, for each k, op(A)[rows·p+r][k0+k] for r < rows, zero
// past the last row.
func tilePackA(rows int, transA bool, m int, a []float32, lda, k0, kb int, ap []float32) {
	for p := 0; p*rows < m; p++ {
		panel := ap[p*rows*kb : (p+1)*rows*kb]
		i0, mr := p*rows, min(rows, m-p*rows)
		if mr < rows {
			clear(panel)
		}
		if transA {
			// op(A)[i][k] = a[k*lda+i]: row k of a holds the panel's
			// values for that k.
			for kk := range kb {
				copy(panel[kk*rows:kk*rows+mr], a[(k0+kk)*lda+i0:(k0+kk)*lda+i0+mr])
			}
			continue
		}
		for r := range mr {
			src := a[(i0+r)*lda+k0 : (i0+r)*lda+k0+kb]
			for kk, v := range src {
				panel[kk*rows+r] = v
			}
		}
	}
}
