// Package tile holds the assembly inner kernel of the conv GEMMs (see
// kernels/gemm_tile.go, which packs the operands and calls it). It is a
// package of its own because Go does not assemble .s files in a package
// that uses cgo, as kernels does with OpenBLAS.
package tile

// Rows and Cols are the shape of the C tile one Kernel6x16 call writes.
// Rows512 and Cols512 are Kernel8x32's.
const (
	Rows = 6
	Cols = 16

	Rows512 = 8
	Cols512 = 32
)

// Pack is Kernel8x32's flag that stores each row of B as it reads it.
const Pack = 4
