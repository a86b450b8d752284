package kernels

import "cellc/runtime/kernels/internal/tile"

// Vec caps the vector instructions a kernel may use (Conv.Vec, Pool.Vec).
// The zero value, VecBest, lets it use the widest this CPU and build run;
// the others are a ceiling, never a demand: a kernel asked for AVX-512 on
// an AVX2 CPU runs AVX2. The tests use them to run every path on one
// machine; a caller may use them to compare paths. Vec governs the loops
// that have more than one vector form (the tile kernels, the depthwise
// tap loops); the elementwise loops (copies, ReLUs, batch-norm sums),
// bound by memory, run AVX2 wherever the CPU has it.
type Vec uint8

const (
	VecBest   Vec = iota // the widest the CPU and the build run
	VecGo                // plain Go loops; the BLAS for every product
	VecAVX2              // AVX2 and FMA: 8 float32 lanes
	VecAVX512            // AVX-512F: 16 lanes, 32 vector registers
)

// String is the path's name as VecName and GEMMName print it.
func (v Vec) String() string {
	switch v {
	case VecGo:
		return "go"
	case VecAVX2:
		return "avx2"
	case VecAVX512:
		return "avx512"
	}
	return "best"
}

// within is v capped at have, the widest path available: VecBest (or
// anything wider than have) gives have.
func (v Vec) within(have Vec) Vec {
	if v == VecBest || v > have {
		return have
	}
	return v
}

// tileVec is the tile kernel the cap v allows on this CPU: the assembly
// kernels do not need GOEXPERIMENT=simd, so this does not depend on the
// build.
func tileVec(v Vec) Vec {
	have := VecGo
	switch {
	case tile.Available512():
		have = VecAVX512
	case tile.Available():
		have = VecAVX2
	}
	return v.within(have)
}

// loopVec is the vector loops (vec_simd.go) the cap v allows on this CPU
// and build.
func loopVec(v Vec) Vec { return v.within(loopHave()) }

// VecName says which inner loops the kernels use by default: "go",
// "avx2" or "avx512".
func VecName() string { return loopVec(VecBest).String() }
