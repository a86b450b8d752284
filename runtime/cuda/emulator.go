package cuda

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// emulator is the host-emulated device: kernels.cu compiled for the CPU
// with the host prelude into a shared library, loaded with purego like
// the real driver libraries. Memory is host memory the library
// allocates; device pointers are its addresses. Launches run at once
// (there is no stream to queue on), so Sync has nothing to wait for.
type emulator struct {
	lib      uintptr
	alloc    func(n uintptr) uintptr
	free     func(p uintptr)
	upload   func(dst uintptr, src unsafe.Pointer, n uintptr)
	download func(dst unsafe.Pointer, src uintptr, n uintptr)
	zero     func(p uintptr, n uintptr)
	sgemm    func(ta, tb, m, n, k int32, alpha float32, a uintptr, lda int32, sa int64, b uintptr, ldb int32, sb int64, beta float32, c uintptr, ldc int32, sc int64, batch int32)
	launches []func(dims *uint32, args *unsafe.Pointer) int32
	nargs    []int
	names    map[string]int
	decls    []kernelDecl

	mu         sync.Mutex
	sizes      map[dptr]int64
	live, peak int64
	closed     bool

	// A graph is the list of work recorded between BeginCapture and
	// EndCapture; recording is non-nil while capturing. graphs[i] is
	// graph i+1 (0 is no graph).
	recording []func() error
	capturing bool
	graphs    [][]func() error
	tf32      bool
}

// errCapturing is what a call that would wait on the device returns
// while a graph is being captured, as CUDA refuses it.
var errCapturing = fmt.Errorf("cuda emulator: the stream is capturing a graph")

// record queues f in the graph being captured, or runs it now.
func (e *emulator) record(f func() error) error {
	if e.capturing {
		e.recording = append(e.recording, f)
		return nil
	}
	return f()
}

func (e *emulator) BeginCapture() error {
	if e.capturing {
		return fmt.Errorf("cuda emulator: already capturing")
	}
	e.capturing, e.recording = true, nil
	return nil
}

func (e *emulator) EndCapture() (graphExec, error) {
	if !e.capturing {
		return 0, fmt.Errorf("cuda emulator: not capturing")
	}
	e.capturing = false
	e.graphs = append(e.graphs, e.recording)
	e.recording = nil
	return graphExec(len(e.graphs)), nil
}

func (e *emulator) LaunchGraph(g graphExec) error {
	if g == 0 || int(g) > len(e.graphs) || e.graphs[g-1] == nil {
		return fmt.Errorf("cuda emulator: no graph %d", g)
	}
	if e.capturing {
		return fmt.Errorf("cuda emulator: launching a graph while capturing")
	}
	for _, f := range e.graphs[g-1] {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (e *emulator) DestroyGraph(g graphExec) error {
	if g == 0 || int(g) > len(e.graphs) || e.graphs[g-1] == nil {
		return fmt.Errorf("cuda emulator: no graph %d", g)
	}
	e.graphs[g-1] = nil
	return nil
}

// SetTF32 is accepted; the emulator's GEMMs stay float32.
func (e *emulator) SetTF32(on bool) error {
	e.tf32 = on
	return nil
}

// emulatorMu serialises launches and GEMMs: the emulator library keeps
// its simulated thread state (indices, fibers, __shared__ arrays) in
// globals, and every emulator a process opens loads the same library.
var emulatorMu sync.Mutex

// hostCompilers are tried in order; either compiles the prelude.
var hostCompilers = []string{"clang++", "g++", "c++"}

func openEmulator() (device, error) {
	src := hostSource()
	path, err := buildHostLibrary(src)
	if err != nil {
		return nil, err
	}
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("cuda emulator: loading %s: %v", path, err)
	}
	e := &emulator{lib: lib, names: map[string]int{}, sizes: map[dptr]int64{}}
	purego.RegisterLibFunc(&e.alloc, lib, "cellc_alloc")
	purego.RegisterLibFunc(&e.free, lib, "cellc_free")
	purego.RegisterLibFunc(&e.upload, lib, "cellc_copy")
	purego.RegisterLibFunc(&e.download, lib, "cellc_copy")
	purego.RegisterLibFunc(&e.zero, lib, "cellc_zero")
	purego.RegisterLibFunc(&e.sgemm, lib, "cellc_sgemm")
	e.decls = parseKernels(kernelsCU)
	for i, k := range e.decls {
		var launch func(dims *uint32, args *unsafe.Pointer) int32
		var nargs func() int32
		purego.RegisterLibFunc(&launch, lib, "cellc_launch_"+k.Name)
		purego.RegisterLibFunc(&nargs, lib, "cellc_nargs_"+k.Name)
		e.launches = append(e.launches, launch)
		e.nargs = append(e.nargs, int(nargs()))
		e.names[k.Name] = i
	}
	return e, nil
}

// buildHostLibrary compiles src into a shared library, or reuses the one
// an earlier call built from the same source and compiler (cachedBuild).
func buildHostLibrary(src string) (string, error) {
	var cxx string
	for _, c := range hostCompilers {
		if p, err := exec.LookPath(c); err == nil {
			cxx = p
			break
		}
	}
	if cxx == "" {
		return "", noCompilerError{}
	}
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	path, err := cachedBuild(dir, cacheKey("emulator", cxx, src), ".so", func(out string) error {
		srcFile := out + ".cc"
		defer os.Remove(srcFile)
		if err := os.WriteFile(srcFile, []byte(src), 0o644); err != nil {
			return err
		}
		msg, err := exec.Command(cxx, "-std=c++17", "-O2", "-fPIC", "-shared", "-o", out, srcFile).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s failed: %v\n%s", filepath.Base(cxx), err, msg)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("cuda emulator: %v", err)
	}
	return path, nil
}

// noCompilerError says the emulator cannot be built here.
type noCompilerError struct{}

func (noCompilerError) Error() string {
	return fmt.Sprintf("cuda emulator: no C++ compiler (looked for %v on PATH); install clang or g++", hostCompilers)
}

func (e *emulator) Name() string { return "host emulator" }

func (e *emulator) Alloc(bytes int64) (dptr, error) {
	if e.capturing {
		return 0, errCapturing
	}
	p := e.alloc(uintptr(bytes))
	if p == 0 {
		return 0, fmt.Errorf("cuda emulator: out of memory allocating %d bytes", bytes)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sizes[dptr(p)] = bytes
	e.live += bytes
	e.peak = max(e.peak, e.live)
	return dptr(p), nil
}

func (e *emulator) Free(p dptr) error {
	if e.capturing {
		return errCapturing
	}
	e.mu.Lock()
	n, ok := e.sizes[p]
	delete(e.sizes, p)
	e.live -= n
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("cuda emulator: free of %#x, which was not allocated", uint64(p))
	}
	e.free(uintptr(p))
	return nil
}

func (e *emulator) Upload(dst dptr, src []float32) error {
	if e.capturing {
		return errCapturing
	}
	if len(src) > 0 {
		e.upload(uintptr(dst), unsafe.Pointer(&src[0]), uintptr(4*len(src)))
	}
	return nil
}

func (e *emulator) Download(dst []float32, src dptr) error {
	if e.capturing {
		return errCapturing
	}
	if len(dst) > 0 {
		e.download(unsafe.Pointer(&dst[0]), uintptr(src), uintptr(4*len(dst)))
	}
	return nil
}

func (e *emulator) Zero(p dptr, bytes int64) error {
	return e.record(func() error {
		e.zero(uintptr(p), uintptr(bytes))
		return nil
	})
}

func (e *emulator) Kernel(name string) (kernel, error) {
	i, ok := e.names[name]
	if !ok {
		return 0, fmt.Errorf("cuda emulator: no kernel %q", name)
	}
	return kernel(i), nil
}

func (e *emulator) Launch(k kernel, grid, block dim3, args []uint64) error {
	i := int(k)
	if len(args) != e.nargs[i] {
		return fmt.Errorf("cuda emulator: %s takes %d arguments, launched with %d", e.decls[i].Name, e.nargs[i], len(args))
	}
	// A recorded launch keeps its own copy of the arguments, as CUDA's
	// graph nodes do.
	args = append([]uint64(nil), args...)
	return e.record(func() error { return e.launch(i, grid, block, args) })
}

func (e *emulator) launch(i int, grid, block dim3, args []uint64) error {
	dims := [6]uint32{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z}
	ptrs := argPointers(args)
	var p *unsafe.Pointer
	if len(ptrs) > 0 {
		p = &ptrs[0]
	}
	emulatorMu.Lock()
	rc := e.launches[i](&dims[0], p)
	emulatorMu.Unlock()
	switch rc {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("cuda emulator: %s: block of %d threads is too large", e.decls[i].Name, block.X*block.Y*block.Z)
	default:
		return fmt.Errorf("cuda emulator: %s: out of memory for thread stacks", e.decls[i].Name)
	}
}

func (e *emulator) Gemm(g gemm) error {
	return e.record(func() error { return e.gemm(g) })
}

func (e *emulator) gemm(g gemm) error {
	emulatorMu.Lock()
	defer emulatorMu.Unlock()
	e.sgemm(b2i(g.TransA), b2i(g.TransB), int32(g.M), int32(g.N), int32(g.K), g.Alpha,
		uintptr(g.A), int32(g.LDA), g.StrideA, uintptr(g.B), int32(g.LDB), g.StrideB,
		g.Beta, uintptr(g.C), int32(g.LDC), g.StrideC, int32(g.Batch))
	return nil
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func (e *emulator) Sync() error {
	if e.capturing {
		return errCapturing
	}
	return nil
}

func (e *emulator) PeakBytes() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peak
}

// Close frees what is still allocated. The library stays loaded: a
// process may open the emulator again, and unloading code that
// purego-registered functions point into is not worth the risk.
func (e *emulator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	for p := range e.sizes {
		e.free(uintptr(p))
	}
	clear(e.sizes)
	e.live = 0
	return nil
}
