package kernels

import (
	"cellc/runtime/kernels/internal/tile"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestTileGemm checks tileGemm against a float64 product on shapes with
// every kind of edge: rows not a multiple of six or eight, columns not a
// multiple of sixteen or thirty-two (and fewer than sixteen), k past one
// packed panel, Aᵀ, bias, accumulation, a mask, A packed beforehand, B
// rectified as it is packed, and row strides wider than the rows; on
// every path this CPU has: the Go references, the AVX2 kernel and the
// AVX-512 one.
func TestTileGemm(t *testing.T) {
	for _, v := range tilePaths(t) {
		t.Run(v.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			// The last panel of m rows has 1–6 of them, or 1–8 (the
			// AVX2 kernel has loops for up to 2, up to 4, and 6 rows).
			for _, m := range []int{1, 3, 5, 6, 7, 8, 10, 13, 17, 32} {
				for _, n := range []int{1, 15, 16, 17, 31, 33, 40, 48, tileNC + 21} {
					for _, k := range []int{0, 1, 7, 32, tileK + 3} {
						checkTileModes(t, r, v, m, n, k)
					}
				}
			}
		})
	}
}

// tilePaths is the tile kernel paths this CPU runs, VecGo (the Go
// references) always.
func tilePaths(t *testing.T) []Vec {
	t.Helper()
	paths := []Vec{VecGo}
	for _, v := range []Vec{VecAVX2, VecAVX512} {
		if tileVec(v) != v {
			t.Logf("no %s tile kernel on this CPU: not checked", v)
			continue
		}
		paths = append(paths, v)
	}
	return paths
}

// checkTileModes checks one shape with every combination of options.
func checkTileModes(t *testing.T, r *rand.Rand, v Vec, m, n, k int) {
	t.Helper()
	for _, transA := range []bool{false, true} {
		// bit 0: bias, 1: accumulate, 2: mask, 3: A packed
		// beforehand, 4: B rectified.
		for mode := range 32 {
			name := fmt.Sprintf("m%d_n%d_k%d_t%v_mode%d", m, n, k, transA, mode)
			checkTileGemm(t, r, name, v, transA, m, n, k, tileCase{bias: mode&1 != 0, accumulate: mode&2 != 0, mask: mode&4 != 0, packedA: mode&8 != 0, reluB: mode&16 != 0})
		}
		// All of B in strips beforehand.
		for mode := range 8 {
			if k == 0 {
				continue
			}
			name := fmt.Sprintf("m%d_n%d_k%d_t%v_packedB_mode%d", m, n, k, transA, mode)
			checkTileGemm(t, r, name, v, transA, m, n, k, tileCase{bias: mode&1 != 0, accumulate: mode&2 != 0, mask: mode&4 != 0, packedB: true})
		}
	}
}

// tileCase is which of tileGemm's options a checkTileGemm case uses.
type tileCase struct{ bias, accumulate, mask, packedA, reluB, packedB bool }

func checkTileGemm(t *testing.T, r *rand.Rand, name string, v Vec, transA bool, m, n, k int, o tileCase) {
	t.Helper()
	withBias, accumulate, withMask := o.bias, o.accumulate, o.mask
	lda, ldb, ldc := k+2, n+3, n+1
	arows := m
	if transA {
		lda, arows = m+1, k
	}
	a := randSlice(r, arows*lda)
	b := randSlice(r, k*ldb)
	c := randSlice(r, m*ldc)
	var bias, mask []float32
	if withBias {
		bias = randSlice(r, m)
	}
	ldm := n + 5
	if withMask {
		mask = randSlice(r, m*ldm) // about half positive
	}
	want := make([]float64, len(c))
	for i := range c {
		want[i] = float64(c[i])
	}
	for i := range m {
		for j := range n {
			s := 0.0
			for kk := range k {
				var av float32
				if transA {
					av = a[kk*lda+i]
				} else {
					av = a[i*lda+kk]
				}
				bv := b[kk*ldb+j]
				if o.reluB {
					bv = max(bv, 0)
				}
				s += float64(av) * float64(bv)
			}
			if bias != nil {
				s += float64(bias[i])
			}
			if mask != nil && !(mask[i*ldm+j] > 0) {
				s = 0
			}
			if accumulate {
				s += float64(c[i*ldc+j])
			}
			want[i*ldc+j] = s
		}
	}
	pack := nanSlice(tilePackLen(m, k))
	args := tileArgs{vec: v, bias: bias, mask: mask, ldm: ldm, accumulate: accumulate, reluB: o.reluB}
	if o.packedA {
		args.packedA = nanSlice(tilePackAllLen(v, m, k))
		tilePackAllA(v, transA, m, k, a, lda, args.packedA)
	}
	if o.packedB {
		args.packedB = nanSlice(stripsLen(k, n))
		for k0 := 0; k0 < k; k0 += tileK {
			kb := min(tileK, k-k0)
			base, _ := stripBlock(k0, kb, n)
			tilePackB(tile.PackStripsGo, b[k0*ldb:], ldb, 0, n, kb, args.packedB[base:], false)
		}
		b = nil // not to be read
	}
	tileGemm(transA, m, n, k, a, lda, b, ldb, c, ldc, args, pack)
	for i := range c {
		tol := 1e-4 * (1 + math.Sqrt(float64(k)))
		if d := math.Abs(float64(c[i]) - want[i]); d > tol || math.IsNaN(float64(c[i])) {
			t.Fatalf("%s: c[%d] = %v, want %v", name, i, c[i], want[i])
		}
	}
}

// BenchmarkTileGemm compares the tile kernel on each path this CPU runs
// with the BLAS on the conv shapes of NASNet-A CIFAR (m×k times k×n, one
// image), forward (Y = W·X) and input gradient (dX = Wᵀ·dY). The paths
// of one shape run one after another, so that a shared machine's load
// weighs on them alike (compare with -count).
func BenchmarkTileGemm(b *testing.B) {
	b.Logf("BLAS: %s, tile kernel: %s", BLASName(), tileVec(VecBest))
	var paths []Vec
	for _, v := range []Vec{VecAVX2, VecAVX512} {
		if tileVec(v) == v {
			paths = append(paths, v)
		}
	}
	for _, s := range []struct{ m, k, n int }{{32, 32, 1024}, {32, 192, 1024}, {192, 32, 1024}, {64, 64, 256}, {64, 384, 256}, {384, 64, 256}, {128, 128, 64}, {128, 768, 64}, {768, 128, 64}} {
		r := rand.New(rand.NewPCG(1, 1))
		w := randSlice(r, s.m*s.k)
		x := randSlice(r, s.k*s.n)
		y := make([]float32, s.m*s.n)
		pack := make([]float32, tilePackLen(s.m, s.k))
		wt := randSlice(r, s.k*s.m) // stored k×m: op(A) = wtᵀ is m×k
		flops := 2 * float64(s.m*s.k*s.n)
		run := func(name string, gemm func()) {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", s.m, s.k, s.n, name), func(b *testing.B) {
				for b.Loop() {
					gemm()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		run("blas", func() { Sgemm(false, false, s.m, s.n, s.k, 1, w, s.k, x, s.n, 0, y, s.n) })
		run("blas_transA", func() { Sgemm(true, false, s.m, s.n, s.k, 1, wt, s.m, x, s.n, 0, y, s.n) })
		for _, v := range paths {
			run("tile_"+v.String(), func() {
				tileGemm(false, s.m, s.n, s.k, w, s.k, x, s.n, y, s.n, tileArgs{vec: v}, pack)
			})
			packed := make([]float32, tilePackAllLen(v, s.m, s.k))
			tilePackAllA(v, false, s.m, s.k, w, s.k, packed)
			run("tile_packedA_"+v.String(), func() {
				tileGemm(false, s.m, s.n, s.k, w, s.k, x, s.n, y, s.n, tileArgs{vec: v, packedA: packed}, pack)
			})
			run("tile_transA_"+v.String(), func() {
				tileGemm(true, s.m, s.n, s.k, wt, s.m, x, s.n, y, s.n, tileArgs{vec: v}, pack)
			})
		}
	}
}
