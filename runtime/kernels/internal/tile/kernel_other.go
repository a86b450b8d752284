//go:build !amd64

package tile

// Available reports whether the assembly kernels run: only on amd64.
func Available() bool { return false }

// Available512 reports whether Kernel8x32 runs: only on amd64.
func Available512() bool { return false }

// Kernel8x32 is Kernel8x32Go where there is no assembly.
func Kernel8x32(k int, a, b *float32, ldb, sb int, c *float32, ldc int, bias, mask *float32, ldm, mr, cols, flags int, pk *float32) {
	Kernel8x32Go(k, a, b, ldb, sb, c, ldc, bias, mask, ldm, mr, cols, flags, pk)
}

// Kernel6x16 is KernelGo where there is no assembly.
func Kernel6x16(k int, a, b *float32, ldb int, c *float32, ldc int, bias, mask *float32, ldm, mr, accumulate int) {
	KernelGo(k, a, b, ldb, c, ldc, bias, mask, ldm, mr, accumulate)
}

// PackStrips is PackStripsGo where there is no assembly.
func PackStrips(dst, src *float32, ldb, rows, strips, relu int) {
	PackStripsGo(dst, src, ldb, rows, strips, relu)
}

// Dots4x4 is Dots4x4Go where there is no assembly.
func Dots4x4(n int, py, px *[4]*float32, tail, relu, imgs, sy, sx int, idx *[8][16]uint32, out *[16]float32) {
	Dots4x4Go(n, py, px, tail, relu, imgs, sy, sx, idx, out)
}

// Transpose16 is Transpose16Go where there is no assembly.
func Transpose16(src *float32, srcStride int, dst *float32, off *[16]int, flags int, mask *float32) {
	Transpose16Go(src, srcStride, dst, off, flags, mask)
}

// DWTaps8 is DWTaps8Go where there is no assembly.
func DWTaps8(out, win, taps, bias *float32, kh, kw, rowStep, tapStep, pixStep int) {
	DWTaps8Go(out, win, taps, bias, kh, kw, rowStep, tapStep, pixStep)
}

// DWGrad3x3 and the other DWGrad kernels are DWGradGo where there is no
// assembly.
func DWGrad3x3(acc, dy, win *float32, n, rowStep, tapStep int) {
	DWGradGo(3, 3, acc, dy, win, n, rowStep, tapStep)
}

func DWGrad5x5(acc, dy, win *float32, n, rowStep, tapStep int) {
	DWGradGo(5, 5, acc, dy, win, n, rowStep, tapStep)
}

func DWGrad4x7(acc, dy, win *float32, n, rowStep, tapStep int) {
	DWGradGo(4, 7, acc, dy, win, n, rowStep, tapStep)
}

func DWGrad3x7(acc, dy, win *float32, n, rowStep, tapStep int) {
	DWGradGo(3, 7, acc, dy, win, n, rowStep, tapStep)
}

// DWTaps16 is DWTaps16Go where there is no assembly.
func DWTaps16(out *float32, outStride int, win0, win1, taps, bias *float32, kh, kw, rowStep, tapStep, pixStep int) {
	DWTaps16Go(out, outStride, win0, win1, taps, bias, kh, kw, rowStep, tapStep, pixStep)
}
