package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// refGemm is C = alpha*op(A)*op(B) + beta*C in float64, with the sum of
// the magnitudes of the terms for a rounding tolerance.
func refGemm(tA, tB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) (want, mag []float64) {
	want = make([]float64, len(c))
	mag = make([]float64, len(c))
	for i, v := range c {
		want[i] = float64(v)
	}
	for i := range m {
		for j := range n {
			var s, sm float64
			for l := range k {
				ai, bi := i*lda+l, l*ldb+j
				if tA {
					ai = l*lda + i
				}
				if tB {
					bi = j*ldb + l
				}
				av, bv := a[ai], b[bi]
				t := float64(av) * float64(bv)
				s += t
				sm += math.Abs(t)
			}
			cv := float64(c[i*ldc+j])
			if beta == 0 {
				cv = 0
			}
			want[i*ldc+j] = alpha*s + beta*cv
			mag[i*ldc+j] = math.Abs(alpha)*sm + math.Abs(beta*cv)
		}
	}
	return want, mag
}

func TestGemmSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {7, 3, 1}, {70, 200, 33}, {200, 50, 65}, {65, 193, 10}, {130, 64, 70}, {1, 300, 20}, {300, 1, 20}, {0, 3, 4}, {3, 0, 4}, {3, 4, 0}}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, 0.25}, {-2, 1}, {0, 0.5}} {
					alpha, beta := ab[0], ab[1]
					name := fmt.Sprintf("%dx%dx%d_tA%v_tB%v_a%v_b%v", m, n, k, tA, tB, alpha, beta)
					ar, ac := m, k
					if tA {
						ar, ac = k, m
					}
					br, bc := k, n
					if tB {
						br, bc = n, k
					}
					// Leading dimensions wider than the rows, to catch
					// stride mistakes.
					lda, ldb, ldc := ac+3, bc+2, n+1
					a := randSlice(r, max(ar*lda, 1))
					b := randSlice(r, max(br*ldb, 1))
					c := randSlice(r, max(m*ldc, 1))
					if beta == 0 {
						for i := range m {
							for j := range n {
								c[i*ldc+j] = float32(math.NaN())
							}
						}
					}
					want, mag := refGemm(tA, tB, m, n, k, float64(alpha), a, lda, b, ldb, float64(beta), c, ldc)
					Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
					for i := range want {
						if d := math.Abs(float64(c[i]) - want[i]); !(d <= 1e-5*mag[i]+1e-6) {
							t.Fatalf("%s: c[%d] = %v, want %v", name, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestGemmBLASName(t *testing.T) {
	if n := BLASName(); n != "gonum" && n != "openblas" {
		t.Errorf("BLASName() = %q", n)
	}
}

// TestGemmNoAllocs: Sgemm allocates nothing, at sizes where gonum's own
// Sgemm goes parallel.
func TestGemmNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, sz := range [][3]int{{8, 8, 8}, {32, 1024, 192}, {256, 256, 256}, {1024, 32, 96}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			if got := testing.AllocsPerRun(3, func() { Sgemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0, c, n) }); got != 0 {
				t.Errorf("Sgemm(%v, %v, %d, %d, %d) allocates %v times", tr[0], tr[1], m, n, k, got)
			}
		}
	}
}

// TestGemmGonumAllocs records what gonum's Sgemm does when called
// directly: serial and allocation-free below 4 blocks of 64×64 in C,
// parallel (goroutines, and allocations) from there on. Sgemm's tiling
// relies on the first half; the second is logged, not asserted.
func TestGemmGonumAllocs(t *testing.T) {
	var impl gonum.Implementation
	r := rand.New(rand.NewPCG(25, 26))
	for _, sz := range [][3]int{{64, 192, 64}, {192, 64, 64}, {32, 1024, 192}, {256, 256, 256}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		got := testing.AllocsPerRun(3, func() { impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n) })
		blocks := ((m + 63) / 64) * ((n + 63) / 64)
		t.Logf("gonum Sgemm %dx%dx%d (%d blocks): %v allocations per call", m, n, k, blocks, got)
		if blocks < 4 && got != 0 {
			t.Errorf("gonum Sgemm %dx%dx%d allocates %v times below its parallel threshold; Sgemm's tiling no longer keeps it allocation-free", m, n, k, got)
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, sz := range [][3]int{{32, 1024, 192}, {96, 1024, 27}, {128, 128, 128}, {256, 256, 256}} {
		m, n, k := sz[0], sz[1], sz[2]
		r := rand.New(rand.NewPCG(1, 1))
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		b.Run(fmt.Sprintf("%s_%dx%dx%d", BLASName(), m, n, k), func(b *testing.B) {
			for b.Loop() {
				Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
