//go:build !amd64

package tile

// Available reports whether Kernel6x16 can run: only on amd64.
func Available() bool { return false }

// Kernel6x16 is never called where Available is false; it exists so that
// its callers compile on every architecture.
func Kernel6x16(k int, a, b *float32, ldb int, c *float32, ldc int, bias, mask *float32, ldm, mr, accumulate int) {
	panic("tile.Kernel6x16 without AVX2")
}

// PackStrips is never called where Available is false.
func PackStrips(dst, src *float32, ldb, rows, strips int) {
	panic("tile.PackStrips without AVX2")
}
