package kernels

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major float32
// matrices, where op(X) is X or Xᵀ as transA and transB say, op(A) is m×k,
// op(B) is k×n and C is m×n. lda, ldb and ldc are the row strides of A, B
// and C as stored (so lda ≥ k when A is not transposed and lda ≥ m when it
// is). When beta is 0, C is overwritten and its previous contents (NaNs
// included) are ignored.
//
// Preconditions, left to the caller as for BLAS: the slices are long
// enough for the dimensions and strides given, and the leading dimensions
// are at least 1 and at least the row lengths. m, n or k being 0 is valid.
//
// Which BLAS runs is chosen at build time (see BLASName): by default
// gonum's pure-Go implementation, called so that it stays on the calling
// goroutine and allocates nothing; with the build tag openblas, OpenBLAS
// through cgo (run that with OPENBLAS_NUM_THREADS=1, since the executor
// already runs one image per core).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || alpha == 0 {
		gemmScale(m, n, beta, c, ldc)
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// BLASName says which BLAS Sgemm uses: "gonum" or "openblas".
func BLASName() string { return blasName }

// GEMMName says what computes the convolutions' products: the BLAS, and
// "+ avx2 tile" or "+ avx512 tile" where the tile kernel takes some of
// them (useTileGemm).
func GEMMName() string {
	if v := tileVec(VecBest); v != VecGo {
		return blasName + " + " + v.String() + " tile"
	}
	return blasName
}

// gemmScale sets the m×n matrix c to beta*c (to zero when beta is 0).
func gemmScale(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
