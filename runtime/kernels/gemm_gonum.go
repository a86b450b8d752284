//go:build !openblas

package kernels

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

const blasName = "gonum"

// gonum's Sgemm splits C into 64×64 blocks and, once there are 4 or more
// of them, runs them on new goroutines, allocating a channel, a WaitGroup
// and a closure per block on every call. Kernels must stay on the calling
// goroutine and allocate nothing, so sgemm hands gonum tiles of C small
// enough (fewer than 4 blocks) for its serial path. Tiling on C alone does
// not change what is computed: each element of C still gets its whole
// k-long dot product in one call. The tiles also keep the B panel of a
// tile in cache across its rows.
const (
	gonumBlock   = 64 // gonum's blockSize
	tileNarrowM  = 3 * gonumBlock
	tileDefaultM = gonumBlock
	tileDefaultN = 3 * gonumBlock
)

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	tileM, tileN := tileDefaultM, tileDefaultN
	if n <= gonumBlock {
		tileM, tileN = tileNarrowM, gonumBlock
	}
	var impl gonum.Implementation
	for j0 := 0; j0 < n; j0 += tileN {
		nj := min(tileN, n-j0)
		bj := j0
		if transB {
			bj = j0 * ldb
		}
		for i0 := 0; i0 < m; i0 += tileM {
			mi := min(tileM, m-i0)
			ai := i0 * lda
			if transA {
				ai = i0
			}
			impl.Sgemm(tA, tB, mi, nj, k, alpha, a[ai:], lda, b[bj:], ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}
