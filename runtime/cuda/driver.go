package cuda

// The device on a real GPU: the CUDA driver API and cuBLAS, bound at run
// time.
//
// The libraries are opened with dlopen through purego rather than linked
// with cgo, so one binary builds with CGO_ENABLED=0, cross-compiles, and
// starts on machines without a GPU, where Open returns an error naming
// what it looked for (gorgonia.org/cu needs cgo and exits the process in
// its init when no driver is found). purego fills Go func values with
// the C functions; they live in the cuAPI and blasAPI structs, one per
// device, so the package keeps no state of its own.
//
// Each Go signature below mirrors cuda.h or cublas_api.h: CUresult and
// enums are int32, int is int32, unsigned int is uint32, size_t is
// uintptr, long long is int64, CUdeviceptr is dptr (unsigned long long),
// and handles (CUcontext, CUstream, CUmodule, CUfunction, CUgraph,
// CUgraphExec, cublasHandle_t) are uintptr.

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cuResult is a CUresult; 0 is CUDA_SUCCESS.
type cuResult int32

const (
	cudaErrorNoDevice = 100 // CUDA_ERROR_NO_DEVICE

	attrComputeCapabilityMajor = 75 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	attrComputeCapabilityMinor = 76

	streamNonBlocking    = 1 // CU_STREAM_NON_BLOCKING: no implicit sync with stream 0
	streamCaptureRelaxed = 2 // CU_STREAM_CAPTURE_MODE_RELAXED
)

// cuAPI is the driver API as far as the backend uses it.
type cuAPI struct {
	cuInit                       func(flags uint32) cuResult
	cuDriverGetVersion           func(version *int32) cuResult
	cuDeviceGetCount             func(count *int32) cuResult
	cuDeviceGet                  func(dev *int32, ordinal int32) cuResult
	cuDeviceGetName              func(name *byte, n int32, dev int32) cuResult
	cuDeviceGetAttribute         func(v *int32, attr int32, dev int32) cuResult
	cuDevicePrimaryCtxRetain     func(ctx *uintptr, dev int32) cuResult
	cuDevicePrimaryCtxRelease_v2 func(dev int32) cuResult
	cuCtxSetCurrent              func(ctx uintptr) cuResult
	cuStreamCreate               func(stream *uintptr, flags uint32) cuResult
	cuStreamDestroy_v2           func(stream uintptr) cuResult
	cuStreamSynchronize          func(stream uintptr) cuResult
	cuMemAlloc_v2                func(p *dptr, bytes uintptr) cuResult
	cuMemFree_v2                 func(p dptr) cuResult
	cuMemcpyHtoDAsync_v2         func(dst dptr, src unsafe.Pointer, bytes uintptr, stream uintptr) cuResult
	cuMemcpyDtoHAsync_v2         func(dst unsafe.Pointer, src dptr, bytes uintptr, stream uintptr) cuResult
	cuMemsetD8Async              func(p dptr, value uint8, n uintptr, stream uintptr) cuResult
	cuMemGetInfo_v2              func(free, total *uintptr) cuResult
	cuModuleLoadData             func(mod *uintptr, image unsafe.Pointer) cuResult
	cuModuleUnload               func(mod uintptr) cuResult
	cuModuleGetFunction          func(f *uintptr, mod uintptr, name string) cuResult
	cuLaunchKernel               func(f uintptr, gx, gy, gz, bx, by, bz, sharedBytes uint32, stream uintptr, params *unsafe.Pointer, extra unsafe.Pointer) cuResult
	cuGetErrorName               func(r cuResult, s **byte) cuResult
	cuGetErrorString             func(r cuResult, s **byte) cuResult
	cuStreamBeginCapture_v2      func(stream uintptr, mode int32) cuResult
	cuStreamEndCapture           func(stream uintptr, graph *uintptr) cuResult
	cuGraphInstantiateWithFlags  func(exec *uintptr, graph uintptr, flags uint64) cuResult
	cuGraphLaunch                func(exec uintptr, stream uintptr) cuResult
	cuGraphExecDestroy           func(exec uintptr) cuResult
	cuGraphDestroy               func(graph uintptr) cuResult
}

// symbols are all required; the newest, cuGraphInstantiateWithFlags,
// needs a CUDA 11.4 driver (R470).
func (c *cuAPI) symbols() []symbol {
	return []symbol{
		{"cuInit", &c.cuInit},
		{"cuDriverGetVersion", &c.cuDriverGetVersion},
		{"cuDeviceGetCount", &c.cuDeviceGetCount},
		{"cuDeviceGet", &c.cuDeviceGet},
		{"cuDeviceGetName", &c.cuDeviceGetName},
		{"cuDeviceGetAttribute", &c.cuDeviceGetAttribute},
		{"cuDevicePrimaryCtxRetain", &c.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &c.cuDevicePrimaryCtxRelease_v2},
		{"cuCtxSetCurrent", &c.cuCtxSetCurrent},
		{"cuStreamCreate", &c.cuStreamCreate},
		{"cuStreamDestroy_v2", &c.cuStreamDestroy_v2},
		{"cuStreamSynchronize", &c.cuStreamSynchronize},
		{"cuMemAlloc_v2", &c.cuMemAlloc_v2},
		{"cuMemFree_v2", &c.cuMemFree_v2},
		{"cuMemcpyHtoDAsync_v2", &c.cuMemcpyHtoDAsync_v2},
		{"cuMemcpyDtoHAsync_v2", &c.cuMemcpyDtoHAsync_v2},
		{"cuMemsetD8Async", &c.cuMemsetD8Async},
		{"cuMemGetInfo_v2", &c.cuMemGetInfo_v2},
		{"cuModuleLoadData", &c.cuModuleLoadData},
		{"cuModuleUnload", &c.cuModuleUnload},
		{"cuModuleGetFunction", &c.cuModuleGetFunction},
		{"cuLaunchKernel", &c.cuLaunchKernel},
		{"cuGetErrorName", &c.cuGetErrorName},
		{"cuGetErrorString", &c.cuGetErrorString},
		{"cuStreamBeginCapture_v2", &c.cuStreamBeginCapture_v2},
		{"cuStreamEndCapture", &c.cuStreamEndCapture},
		{"cuGraphInstantiateWithFlags", &c.cuGraphInstantiateWithFlags},
		{"cuGraphLaunch", &c.cuGraphLaunch},
		{"cuGraphExecDestroy", &c.cuGraphExecDestroy},
		{"cuGraphDestroy", &c.cuGraphDestroy},
	}
}

// cudaError is a failed driver call, e.g.
// "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
type cudaError struct {
	call      string
	code      cuResult
	name, msg string
}

func (e *cudaError) Error() string {
	name := e.name
	if name == "" {
		name = "CUDA error " + strconv.Itoa(int(e.code))
	}
	if e.msg == "" {
		return e.call + ": " + name
	}
	return e.call + ": " + name + " (" + e.msg + ")"
}

// check turns a CUresult into an error naming the call.
func (c *cuAPI) check(call string, r cuResult) error {
	if r == 0 {
		return nil
	}
	e := &cudaError{call: call, code: r}
	var s *byte
	if c.cuGetErrorName(r, &s) == 0 {
		e.name = goString(s)
	}
	if c.cuGetErrorString(r, &s) == 0 {
		e.msg = goString(s)
	}
	return e
}

// blasStatus is a cublasStatus_t; 0 is CUBLAS_STATUS_SUCCESS.
type blasStatus int32

var blasStatusNames = map[blasStatus]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

// blasCheck turns a cuBLAS status into an error naming the call.
func blasCheck(call string, s blasStatus) error {
	if s == 0 {
		return nil
	}
	name, ok := blasStatusNames[s]
	if !ok {
		name = "cuBLAS status " + strconv.Itoa(int(s))
	}
	return errors.New(call + ": " + name)
}

const (
	blasOpN         = 0 // CUBLAS_OP_N
	blasOpT         = 1 // CUBLAS_OP_T
	blasDefaultMath = 0 // CUBLAS_DEFAULT_MATH: full FP32, as the CPU backend computes
	blasTF32Math    = 3 // CUBLAS_TF32_TENSOR_OP_MATH
)

// blasAPI is cuBLAS as far as the backend uses it. alpha and beta are
// host pointers (the default CUBLAS_POINTER_MODE_HOST), read before the
// call returns.
type blasAPI struct {
	cublasCreate_v2           func(h *uintptr) blasStatus
	cublasDestroy_v2          func(h uintptr) blasStatus
	cublasSetStream_v2        func(h uintptr, stream uintptr) blasStatus
	cublasSetMathMode         func(h uintptr, mode int32) blasStatus
	cublasSgemmStridedBatched func(h uintptr, transa, transb int32, m, n, k int32,
		alpha *float32, a dptr, lda int32, strideA int64,
		b dptr, ldb int32, strideB int64,
		beta *float32, c dptr, ldc int32, strideC int64, batch int32) blasStatus
}

func (b *blasAPI) symbols() []symbol {
	return []symbol{
		{"cublasCreate_v2", &b.cublasCreate_v2},
		{"cublasDestroy_v2", &b.cublasDestroy_v2},
		{"cublasSetStream_v2", &b.cublasSetStream_v2},
		{"cublasSetMathMode", &b.cublasSetMathMode},
		{"cublasSgemmStridedBatched", &b.cublasSgemmStridedBatched},
	}
}

// symbol is a C function to bind into the Go func that fn points to.
type symbol struct {
	name string
	fn   any
}

// bind looks up each symbol and registers it. purego panics on a Go
// signature it cannot call; TestDriverBindings registers every table so
// that happens in the tests, not on a GPU machine.
func bind(lookup func(name string) (uintptr, error), lib loadedLib, syms []symbol) error {
	for _, s := range syms {
		addr, err := lookup(s.name)
		if err != nil || addr == 0 {
			return fmt.Errorf("%s has no %s (too old a version?)", lib.path, s.name)
		}
		purego.RegisterFunc(s.fn, addr)
	}
	return nil
}

// dlsym looks symbols up in lib.
func dlsym(lib loadedLib) func(string) (uintptr, error) {
	return func(name string) (uintptr, error) { return purego.Dlsym(lib.handle, name) }
}

// driverDevice is a device on one GPU: its primary context, one stream
// that every copy, launch and GEMM is queued on, a cuBLAS handle on that
// stream and the kernels' module.
type driverDevice struct {
	cu   cuAPI
	blas blasAPI

	mu      sync.Mutex // serialises calls: one stream, one allocation table
	closed  bool
	dev     int32
	ctx     uintptr
	stream  uintptr
	handle  uintptr // cuBLAS
	module  uintptr
	name    string
	kernels map[string]kernel
	sizes   map[dptr]int64 // live allocations
	current int64
	peak    int64
}

// openDriver opens GPU ordinal: finds and binds libcuda, checks the
// ordinal, finds cuBLAS and NVRTC no newer than the driver, sets up the
// context, stream and cuBLAS handle, and loads the kernels (compiled by
// NVRTC, or from the disk cache).
func openDriver(ordinal int) (device, error) {
	env := hostEnv()
	lib, err := loadLib(cudaSpec, env, 0, dlopen)
	if err != nil {
		return nil, err
	}
	d := &driverDevice{kernels: map[string]kernel{}, sizes: map[dptr]int64{}}
	if err := bind(dlsym(lib), lib, d.cu.symbols()); err != nil {
		return nil, fmt.Errorf("no usable CUDA driver: %w", err)
	}
	cu := &d.cu
	if r := cu.cuInit(0); r == cudaErrorNoDevice {
		return nil, fmt.Errorf("cuda:%d: no CUDA device: the driver (%s) found no GPU", ordinal, lib.path)
	} else if err := cu.check("cuInit", r); err != nil {
		return nil, fmt.Errorf("cuda:%d: %w", ordinal, err)
	}
	var version, count int32
	if err := cu.check("cuDriverGetVersion", cu.cuDriverGetVersion(&version)); err != nil {
		return nil, err
	}
	if err := cu.check("cuDeviceGetCount", cu.cuDeviceGetCount(&count)); err != nil {
		return nil, err
	}
	if err := ordinalError(ordinal, int(count)); err != nil {
		return nil, err
	}
	blasLib, err := loadLib(cublasSpec, env, int(version)/1000, dlopen)
	if err != nil {
		return nil, err
	}
	if err := bind(dlsym(blasLib), blasLib, d.blas.symbols()); err != nil {
		return nil, err
	}
	rtcLib, err := loadLib(nvrtcSpec, env, int(version)/1000, dlopen)
	if err != nil {
		return nil, err
	}
	var nv nvrtcAPI
	if err := nv.bind(rtcLib); err != nil {
		return nil, err
	}

	// Open runs on one goroutine; keep it on one thread while the
	// context is made current and used.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.setup(ordinal, &nv, int(version)); err != nil {
		return nil, errors.Join(err, d.release())
	}
	return d, nil
}

// ordinalError says why cuda:ordinal does not exist on a machine with
// count GPUs, or returns nil.
func ordinalError(ordinal, count int) error {
	switch {
	case ordinal >= 0 && ordinal < count:
		return nil
	case count == 0:
		return fmt.Errorf("cuda:%d: this machine has no CUDA device", ordinal)
	case count == 1:
		return fmt.Errorf("cuda:%d: this machine has 1 CUDA device (cuda:0)", ordinal)
	}
	return fmt.Errorf("cuda:%d: this machine has %d CUDA devices (cuda:0 to cuda:%d)", ordinal, count, count-1)
}

// setup fills d from the device on; on error, release undoes what it did.
func (d *driverDevice) setup(ordinal int, nv *nvrtcAPI, driverVersion int) error {
	cu := &d.cu
	if err := cu.check("cuDeviceGet", cu.cuDeviceGet(&d.dev, int32(ordinal))); err != nil {
		return err
	}
	var name [256]byte
	var major, minor int32
	for _, err := range []error{
		cu.check("cuDeviceGetName", cu.cuDeviceGetName(&name[0], int32(len(name)), d.dev)),
		cu.check("cuDeviceGetAttribute", cu.cuDeviceGetAttribute(&major, attrComputeCapabilityMajor, d.dev)),
		cu.check("cuDeviceGetAttribute", cu.cuDeviceGetAttribute(&minor, attrComputeCapabilityMinor, d.dev)),
	} {
		if err != nil {
			return err
		}
	}
	d.name = fmt.Sprintf("%s, sm_%d%d", goString(&name[0]), major, minor)

	var ctx uintptr
	if err := cu.check("cuDevicePrimaryCtxRetain", cu.cuDevicePrimaryCtxRetain(&ctx, d.dev)); err != nil {
		return err
	}
	d.ctx = ctx
	if err := cu.check("cuCtxSetCurrent", cu.cuCtxSetCurrent(d.ctx)); err != nil {
		return err
	}
	if err := cu.check("cuStreamCreate", cu.cuStreamCreate(&d.stream, streamNonBlocking)); err != nil {
		return err
	}
	// cuBLAS runs on the runtime API, which picks up the context current
	// on the thread: the primary context, the runtime's own choice too.
	if err := blasCheck("cublasCreate_v2", d.blas.cublasCreate_v2(&d.handle)); err != nil {
		return err
	}
	if err := blasCheck("cublasSetStream_v2", d.blas.cublasSetStream_v2(d.handle, d.stream)); err != nil {
		return err
	}
	if err := blasCheck("cublasSetMathMode", d.blas.cublasSetMathMode(d.handle, blasDefaultMath)); err != nil {
		return err
	}

	dir, err := cacheDir()
	if err != nil {
		return err
	}
	image, err := compileKernels(nv, deviceSource(), int(major), int(minor), driverVersion, dir)
	if err != nil {
		return err
	}
	if err := cu.check("cuModuleLoadData", cu.cuModuleLoadData(&d.module, unsafe.Pointer(&image[0]))); err != nil {
		return fmt.Errorf("loading the kernels on %s: %w", d.name, err)
	}
	runtime.KeepAlive(image)
	return nil
}

// call runs f with the device's context current.
//
// A context is current per OS thread, and Go moves a goroutine between
// threads whenever it likes, even between two driver calls. So each
// call locks the goroutine to its thread until it returns and makes the
// context current there (a thread-local store in the driver: cheap next
// to a launch). A goroutine owning one locked thread and receiving every
// call over a channel would cost a channel round trip per launch.
func (d *driverDevice) call(f func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("cuda: device used after Close")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.cu.check("cuCtxSetCurrent", d.cu.cuCtxSetCurrent(d.ctx)); err != nil {
		return err
	}
	return f()
}

func (d *driverDevice) Name() string { return d.name }

// Alloc of 0 bytes returns address 0, which Free accepts (cuMemAlloc
// refuses 0 bytes).
func (d *driverDevice) Alloc(bytes int64) (dptr, error) {
	if bytes < 0 {
		return 0, fmt.Errorf("cuda: allocating %d bytes", bytes)
	}
	if bytes == 0 {
		return 0, nil
	}
	var p dptr
	err := d.call(func() error {
		if err := d.cu.check("cuMemAlloc_v2", d.cu.cuMemAlloc_v2(&p, uintptr(bytes))); err != nil {
			return fmt.Errorf("%w: %d bytes wanted, %s", err, bytes, d.memInfo())
		}
		err := d.cu.check("cuMemsetD8Async", d.cu.cuMemsetD8Async(p, 0, uintptr(bytes), d.stream))
		if err == nil {
			err = d.cu.check("cuStreamSynchronize", d.cu.cuStreamSynchronize(d.stream))
		}
		if err != nil {
			d.cu.cuMemFree_v2(p)
			p = 0
			return err
		}
		d.sizes[p] = bytes
		d.current += bytes
		d.peak = max(d.peak, d.current)
		return nil
	})
	return p, err
}

// memInfo says how much device memory this backend and the whole GPU
// hold, for out-of-memory errors.
func (d *driverDevice) memInfo() string {
	var free, total uintptr
	if d.cu.cuMemGetInfo_v2(&free, &total) != 0 {
		return fmt.Sprintf("%d MiB held by this backend", d.current>>20)
	}
	return fmt.Sprintf("%d MiB held by this backend, %d of %d MiB free", d.current>>20, free>>20, total>>20)
}

func (d *driverDevice) Free(p dptr) error {
	if p == 0 {
		return nil
	}
	return d.call(func() error {
		bytes, ok := d.sizes[p]
		if !ok {
			return fmt.Errorf("cuda: freeing %#x, which Alloc did not return", uint64(p))
		}
		delete(d.sizes, p)
		d.current -= bytes
		return d.cu.check("cuMemFree_v2", d.cu.cuMemFree_v2(p))
	})
}

// Upload and Download queue the copy on the stream, after the launches
// before them, and wait for it. Go memory is not pinned, so the driver
// stages it; the copy is done when the call returns, and the GC never
// moves heap memory (KeepAlive keeps it from being freed meanwhile).
func (d *driverDevice) Upload(dst dptr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return d.call(func() error {
		r := d.cu.cuMemcpyHtoDAsync_v2(dst, unsafe.Pointer(&src[0]), uintptr(4*len(src)), d.stream)
		if err := d.cu.check("cuMemcpyHtoDAsync_v2", r); err != nil {
			return err
		}
		err := d.cu.check("cuStreamSynchronize", d.cu.cuStreamSynchronize(d.stream))
		runtime.KeepAlive(src)
		return err
	})
}

func (d *driverDevice) Download(dst []float32, src dptr) error {
	if len(dst) == 0 {
		return nil
	}
	return d.call(func() error {
		r := d.cu.cuMemcpyDtoHAsync_v2(unsafe.Pointer(&dst[0]), src, uintptr(4*len(dst)), d.stream)
		if err := d.cu.check("cuMemcpyDtoHAsync_v2", r); err != nil {
			return err
		}
		err := d.cu.check("cuStreamSynchronize", d.cu.cuStreamSynchronize(d.stream))
		runtime.KeepAlive(dst)
		return err
	})
}

func (d *driverDevice) Zero(p dptr, bytes int64) error {
	if bytes <= 0 {
		return nil
	}
	return d.call(func() error {
		return d.cu.check("cuMemsetD8Async", d.cu.cuMemsetD8Async(p, 0, uintptr(bytes), d.stream))
	})
}

// Kernel looks name up in the module; the kernels are extern "C", so
// name is the source's name.
func (d *driverDevice) Kernel(name string) (kernel, error) {
	var k kernel
	err := d.call(func() error {
		if f, ok := d.kernels[name]; ok {
			k = f
			return nil
		}
		var f uintptr
		if err := d.cu.check("cuModuleGetFunction", d.cu.cuModuleGetFunction(&f, d.module, name)); err != nil {
			return fmt.Errorf("kernel %s: %w", name, err)
		}
		k = kernel(f)
		d.kernels[name] = k
		return nil
	})
	return k, err
}

// Launch passes kernelParams as pointers into args. The driver copies
// the values before cuLaunchKernel returns, so args need live only as
// long as the call.
func (d *driverDevice) Launch(k kernel, grid, block dim3, args []uint64) error {
	return d.call(func() error {
		var params *unsafe.Pointer
		ptrs := argPointers(args)
		if len(ptrs) > 0 {
			params = &ptrs[0]
		}
		r := d.cu.cuLaunchKernel(uintptr(k), grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, 0, d.stream, params, nil)
		runtime.KeepAlive(args)
		runtime.KeepAlive(ptrs)
		return d.cu.check("cuLaunchKernel", r)
	})
}

func (d *driverDevice) Gemm(g gemm) error {
	for _, v := range []int{g.M, g.N, g.K, g.LDA, g.LDB, g.LDC, g.Batch} {
		if v < 0 || v > 1<<31-1 {
			return fmt.Errorf("cuda: GEMM size %d does not fit cuBLAS's int", v)
		}
	}
	op := func(t bool) int32 {
		if t {
			return blasOpT
		}
		return blasOpN
	}
	return d.call(func() error {
		alpha, beta := g.Alpha, g.Beta
		s := d.blas.cublasSgemmStridedBatched(d.handle, op(g.TransA), op(g.TransB),
			int32(g.M), int32(g.N), int32(g.K),
			&alpha, g.A, int32(g.LDA), g.StrideA,
			g.B, int32(g.LDB), g.StrideB,
			&beta, g.C, int32(g.LDC), g.StrideC, int32(g.Batch))
		return blasCheck("cublasSgemmStridedBatched", s)
	})
}

// SetTF32 lets cuBLAS round GEMM inputs to TF32 on tensor cores (faster
// from sm_80 on, about 3 decimal digits instead of FP32's 7). Off by
// default, so results match the CPU backend's.
func (d *driverDevice) SetTF32(on bool) error {
	mode := int32(blasDefaultMath)
	if on {
		mode = blasTF32Math
	}
	return d.call(func() error {
		return blasCheck("cublasSetMathMode", d.blas.cublasSetMathMode(d.handle, mode))
	})
}

func (d *driverDevice) Sync() error {
	return d.call(func() error {
		return d.cu.check("cuStreamSynchronize", d.cu.cuStreamSynchronize(d.stream))
	})
}

func (d *driverDevice) PeakBytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peak
}

// Close frees what the device still holds and releases the context. A
// second Close does nothing.
func (d *driverDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return d.release()
}

// release undoes setup, as far as it got. The libraries stay loaded:
// dlclose of cuBLAS while its static runtime has threads is unsafe, and
// a second Open reuses them.
func (d *driverDevice) release() error {
	if d.ctx == 0 {
		return nil
	}
	cu := &d.cu
	errs := []error{cu.check("cuCtxSetCurrent", cu.cuCtxSetCurrent(d.ctx))}
	if d.stream != 0 {
		errs = append(errs, cu.check("cuStreamSynchronize", cu.cuStreamSynchronize(d.stream)))
	}
	if d.handle != 0 {
		errs = append(errs, blasCheck("cublasDestroy_v2", d.blas.cublasDestroy_v2(d.handle)))
		d.handle = 0
	}
	if d.module != 0 {
		errs = append(errs, cu.check("cuModuleUnload", cu.cuModuleUnload(d.module)))
		d.module = 0
	}
	// The primary context outlives this device if another Open holds it,
	// so free what this one allocated rather than leave it to the context.
	for p := range d.sizes {
		errs = append(errs, cu.check("cuMemFree_v2", cu.cuMemFree_v2(p)))
	}
	clear(d.sizes)
	d.current = 0
	if d.stream != 0 {
		errs = append(errs, cu.check("cuStreamDestroy_v2", cu.cuStreamDestroy_v2(d.stream)))
		d.stream = 0
	}
	errs = append(errs, cu.check("cuDevicePrimaryCtxRelease_v2", cu.cuDevicePrimaryCtxRelease_v2(d.dev)))
	d.ctx = 0
	return errors.Join(errs...)
}

// graphExec is an instantiated CUDA graph (CUgraphExec).
type graphExec uintptr

// BeginCapture starts recording the stream's work into a graph instead
// of running it. Relaxed mode: the global and thread-local modes guard
// by OS thread, which means nothing to goroutines, and would fail
// another device's allocations in the same process meanwhile. Nothing
// that waits on the stream (Upload, Download, Alloc, Sync) may be called
// until EndCapture.
func (d *driverDevice) BeginCapture() error {
	return d.call(func() error {
		return d.cu.check("cuStreamBeginCapture_v2", d.cu.cuStreamBeginCapture_v2(d.stream, streamCaptureRelaxed))
	})
}

// EndCapture stops recording and returns the graph, ready to launch.
func (d *driverDevice) EndCapture() (graphExec, error) {
	var exec uintptr
	err := d.call(func() error {
		var graph uintptr
		if err := d.cu.check("cuStreamEndCapture", d.cu.cuStreamEndCapture(d.stream, &graph)); err != nil {
			if graph != 0 {
				d.cu.cuGraphDestroy(graph)
			}
			return err
		}
		// The instantiated graph does not need the graph it came from.
		err := d.cu.check("cuGraphInstantiateWithFlags", d.cu.cuGraphInstantiateWithFlags(&exec, graph, 0))
		return errors.Join(err, d.cu.check("cuGraphDestroy", d.cu.cuGraphDestroy(graph)))
	})
	if err != nil && exec != 0 {
		d.DestroyGraph(graphExec(exec))
		exec = 0
	}
	return graphExec(exec), err
}

// LaunchGraph queues the recorded work on the stream.
func (d *driverDevice) LaunchGraph(g graphExec) error {
	return d.call(func() error {
		return d.cu.check("cuGraphLaunch", d.cu.cuGraphLaunch(uintptr(g), d.stream))
	})
}

// DestroyGraph frees a graph from EndCapture.
func (d *driverDevice) DestroyGraph(g graphExec) error {
	return d.call(func() error {
		return d.cu.check("cuGraphExecDestroy", d.cu.cuGraphExecDestroy(uintptr(g)))
	})
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	for ; *p != 0; p = (*byte)(unsafe.Add(unsafe.Pointer(p), 1)) {
		b.WriteByte(*p)
	}
	return b.String()
}
