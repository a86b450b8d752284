//go:build amd64

package tile

import "golang.org/x/sys/cpu"

// Available reports whether Kernel6x16 can run: it needs AVX2 and FMA.
func Available() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// Available512 reports whether Kernel8x32 can run: it needs AVX-512F (and
// the operating system's support for its registers, which cpu checks).
func Available512() bool { return cpu.X86.HasAVX512F && Available() }

// Kernel6x16 sets rows 0..mr-1 (1 ≤ mr ≤ 6) and columns 0..15 of the
// tile at c (row stride ldc floats) to
//
//	[c +] where(mask > 0, Σ_k a[6k+r]·b[k*ldb+j] [+ bias[r]], 0)
//
// where a is a packed panel of six rows, six floats per k, and b is k
// rows of at least 16 floats, ldb apart. bias and mask (a tile like c's,
// row stride ldm) may be nil; c's old values are added when accumulate is
// not 0. Only Available CPUs may call it.
//
//go:noescape
func Kernel6x16(k int, a, b *float32, ldb int, c *float32, ldc int, bias, mask *float32, ldm, mr, accumulate int)

// PackStrips copies rows rows of strips 16-float strips of src (row stride
// ldb floats) into dst strip by strip: dst[(s*rows+r)*16+j] =
// src[r*ldb+s*16+j], rectified (max(v, 0)) when relu is not 0. strips
// must be at least 1; only Available CPUs may call it.
//
//go:noescape
func PackStrips(dst, src *float32, ldb, rows, strips, relu int)

// Kernel8x32 is Kernel6x16's AVX-512 form for 8-row panels (Rows512): it
// sets rows 0..mr-1 (1 ≤ mr ≤ 8) of the 8×32 tile at c, in the columns
// whose bit is set in cols (bits 0..31), to
//
//	[c +] where(mask > 0, Σ_k a[8k+r]·B(k, j) [+ bias[r]], 0)
//
// and leaves the other columns alone. B's row k holds columns 0..15 at
// b + k·ldb and columns 16..31 sb floats further: for two 16-column
// strips (PackStrips), ldb = 16 and sb = k·16; for B read in place, ldb
// is its row stride and sb = 16. Only the columns in cols are read, and
// when bits 16..31 are all clear the second half is never read. flags:
// bit 0 adds c's old values, bit 1 rectifies B (max(v, 0)) as it is read,
// bit 2 (Pack) also stores each row of B as read (rectified, zero outside
// cols) at pk + 32k: pk[32k+j] = B(k, j), in columns 16..31 only when
// cols has one of them. Only Available512 CPUs may call it.
//
//go:noescape
func Kernel8x32(k int, a, b *float32, ldb, sb int, c *float32, ldc int, bias, mask *float32, ldm, mr, cols, flags int, pk *float32)

// Dots4x4 stores in out[4i+j] the dot product of row py[i] with row
// px[j], rectified (max(v, 0)) when relu is 1, over n floats (a multiple
// of 16) and then the floats n+l whose bit l is set in tail (bits 0..14,
// the last partial vector), which are read with masked loads: nothing
// past them is read, summed over imgs ≥ 1 images: image m's rows lie
// m·sy floats after py's and m·sx after px's. idx is FoldIndices(). Only
// Available512 CPUs may call it.
//
//go:noescape
func Dots4x4(n int, py, px *[4]*float32, tail, relu, imgs, sy, sx int, idx *[8][16]uint32, out *[16]float32)

// Transpose16 writes the transpose of the 16×16 block at src (rows
// srcStride floats apart) to dst, its row i at float offset off[i], or
// with off nil and no flags but TransposeReLU at 16i (the rows one after
// another). flags
// (TransposeReLU, TransposeMask, TransposeAdd) rectify the block as it
// is read (max(v, 0)), zero each row's values where mask's at the same
// offsets are not above zero, and add dst's values instead of
// overwriting them. Only Available512 CPUs may call it.
//
//go:noescape
func Transpose16(src *float32, srcStride int, dst *float32, off *[16]int, flags int, mask *float32)

// DWTaps8 is eight pixels of a row of a depthwise conv over 16 channels
// at once: out[16i+c] = bias[c] + Σ over the kh×kw taps t of taps[16t+c]
// · the tap's pixel, where pixel i's window starts i·pixStep bytes after
// win (64 at stride 1, 128 at stride 2), the kernel's rows lie rowStep bytes apart and its taps
// tapStep bytes apart within a row (16-channel pixels, dilation
// included). kh, kw ≥ 1. Only Available512 CPUs may call it.
//
//go:noescape
func DWTaps8(out, win, taps, bias *float32, kh, kw, rowStep, tapStep, pixStep int)

// DWGrad3x3, DWGrad5x5, DWGrad4x7 and DWGrad3x7 add a depthwise conv's
// weight gradients for 16 channels over n ≥ 1 neighbouring pixels: for
// the R×K taps t = (i, j), acc[16t+c] += Σ_p dy[16p+c] · the channel-c
// value of pixel p's tap, where pixel p's window starts 16p floats after
// win, its rows lie rowStep bytes apart and its taps tapStep bytes apart
// (16-channel pixels, dilation included). A 7×7 kernel is rows 0–3 and
// 4–6. Only Available512 CPUs may call them.
//
//go:noescape
func DWGrad3x3(acc, dy, win *float32, n, rowStep, tapStep int)

//go:noescape
func DWGrad5x5(acc, dy, win *float32, n, rowStep, tapStep int)

//go:noescape
func DWGrad4x7(acc, dy, win *float32, n, rowStep, tapStep int)

//go:noescape
func DWGrad3x7(acc, dy, win *float32, n, rowStep, tapStep int)

// DWTaps16 is DWTaps8 for sixteen pixels, reading each tap's weights once:
// pixels 0-7 from win0 and 8-15 (out[128:]) from win1, each eight
// pixStep bytes apart. With outStride 0 pixel p's 16 channels go to
// out[16p:], as DWTaps8 writes them; else they are transposed on the way
// out, channel j's 16 pixels to out[j·outStride:], which saves a pass
// through Transpose16 and memory. Only Available512 CPUs may call it.
//
//go:noescape
func DWTaps16(out *float32, outStride int, win0, win1, taps, bias *float32, kh, kw, rowStep, tapStep, pixStep int)
