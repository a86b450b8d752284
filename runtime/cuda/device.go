package cuda

import (
	"math"
	"unsafe"
)

// device is what the backend needs of a GPU: memory, copies, kernel
// launches and GEMMs, all in one stream's order. Two implement it: the
// driver (driver.go: libcuda, cuBLAS and NVRTC loaded at run time) and
// the host emulator (emulator.go: the same kernel source compiled for the
// CPU), so everything above the kernels runs in the tests on machines
// without a GPU.
type device interface {
	// Name is the device's name, as `cellc bench` prints it.
	Name() string
	// Alloc returns bytes of device memory, zeroed.
	Alloc(bytes int64) (dptr, error)
	Free(p dptr) error
	// Upload copies src to device memory at dst; Download the reverse.
	// Both return once the copy is done (after every launch before them).
	Upload(dst dptr, src []float32) error
	Download(dst []float32, src dptr) error
	// Zero clears bytes of device memory at p, in stream order.
	Zero(p dptr, bytes int64) error
	// Kernel looks up a kernel of the compiled source by name.
	Kernel(name string) (kernel, error)
	// Launch queues kernel k on grid × block threads with the given
	// arguments (see kargs: one 8-byte slot per parameter).
	Launch(k kernel, grid, block dim3, args []uint64) error
	// Gemm queues one cuBLAS-style strided-batched SGEMM.
	Gemm(g gemm) error
	// Sync waits for everything queued.
	Sync() error
	// PeakBytes is the most device memory the backend has held at once.
	PeakBytes() int64
	// SetTF32 lets the GEMMs round their inputs to TF32 (tensor cores).
	SetTF32(on bool) error
	// BeginCapture starts recording launches, GEMMs and Zero into a graph
	// instead of running them; EndCapture returns it, LaunchGraph runs it
	// (CUDA graphs: one launch replays a whole pass). Nothing that waits
	// on the device (Upload, Download, Alloc, Free, Sync) may be called
	// while capturing.
	BeginCapture() error
	EndCapture() (graphExec, error)
	LaunchGraph(g graphExec) error
	DestroyGraph(g graphExec) error
	Close() error
}

// dptr is a device address (CUdeviceptr). In the emulator it is a host
// address of memory the emulator allocated.
type dptr uint64

// add offsets a device address by n float32 values.
func (p dptr) add(n int) dptr { return p + dptr(4*n) }

// kernel is a handle to a compiled kernel (CUfunction, or the emulator's
// launcher).
type kernel uintptr

// dim3 is a launch's grid or block size.
type dim3 struct{ X, Y, Z uint32 }

func d1(x int) dim3 { return dim3{uint32(x), 1, 1} }

// gemm is cublasSgemmStridedBatched's argument list: column-major
// matrices, C[i] = Alpha·op(A[i])·op(B[i]) + Beta·C[i] for i < Batch,
// where op transposes when Trans is set, A[i] starts StrideA floats after
// A[i-1] (0 repeats one matrix), and so on.
type gemm struct {
	TransA, TransB bool
	M, N, K        int
	Alpha          float32
	A              dptr
	LDA            int
	StrideA        int64
	B              dptr
	LDB            int
	StrideB        int64
	Beta           float32
	C              dptr
	LDC            int
	StrideC        int64
	Batch          int
}

// Kernel arguments are passed as one 8-byte slot each, the value in the
// slot's low bytes (little-endian): CUDA's cuLaunchKernel takes a pointer
// to each argument, and the emulator's launchers read them the same way.

// argPtr is a pointer argument.
func argPtr(p dptr) uint64 { return uint64(p) }

// argInt is an int argument (32-bit in the kernels).
func argInt(v int) uint64 { return uint64(uint32(int32(v))) }

// argFloat is a float argument.
func argFloat(v float32) uint64 { return uint64(math.Float32bits(v)) }

// argPointers returns a pointer to each slot, the kernelParams array of
// cuLaunchKernel. The caller keeps args alive until the launch returns.
func argPointers(args []uint64) []unsafe.Pointer {
	ps := make([]unsafe.Pointer, len(args))
	for i := range args {
		ps[i] = unsafe.Pointer(&args[i])
	}
	return ps
}
