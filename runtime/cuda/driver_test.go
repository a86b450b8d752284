package cuda

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ebitengine/purego"
)

// fakeEnv is a machine with the given files and environment variables.
func fakeEnv(vars map[string]string, files ...string) libEnv {
	return libEnv{
		getenv: func(v string) string { return vars[v] },
		glob: func(pattern string) []string {
			var out []string
			for _, f := range files {
				for p := f; p != "/"; p = filepath.Dir(p) {
					if ok, _ := filepath.Match(pattern, p); ok && !slices.Contains(out, p) {
						out = append(out, p)
					}
				}
			}
			slices.Sort(out)
			return out
		},
		isFile: func(path string) bool { return slices.Contains(files, path) },
	}
}

func TestLibsSearchOrder(t *testing.T) {
	env := fakeEnv(map[string]string{
		"CELLC_CUDA_PATH": "/opt/mine:/opt/other",
		"LD_LIBRARY_PATH": "/ld",
		"HOME":            "/home/u",
		"PATH":            "/venv/bin:/usr/bin",
	},
		"/usr/lib/x86_64-linux-gnu/libcublas.so.12",
		"/ld/libcublas.so.13",
		"/opt/other/libcublas.so.11",
		"/opt/other/libcublas.so.12",
		"/usr/local/cuda-11.8/lib64/libcublas.so.11",
		"/usr/local/cuda-12.10/lib64/libcublas.so.12",
		"/usr/local/cuda-12.9/lib64/libcublas.so.12",
		"/usr/local/cuda/lib64/libcublas.so.12",
		"/venv/bin/python3",
		"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
		"/home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12",
		"/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12",
	)
	want := []string{
		// CELLC_CUDA_PATH first, newest version first within a folder.
		"/opt/other/libcublas.so.12",
		"/opt/other/libcublas.so.11",
		"/ld/libcublas.so.13",
		"/usr/lib/x86_64-linux-gnu/libcublas.so.12",
		// The default toolkit, then the others newest first.
		"/usr/local/cuda/lib64/libcublas.so.12",
		"/usr/local/cuda-12.10/lib64/libcublas.so.12",
		"/usr/local/cuda-12.9/lib64/libcublas.so.12",
		"/usr/local/cuda-11.8/lib64/libcublas.so.11",
		// The python3 on PATH (a CUDA 13 wheel), ~/.local, the system.
		"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
		"/home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12",
		"/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12",
		// Then the loader's own search.
		"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so",
	}
	if got := libCandidates(cublasSpec, env, 0); !slices.Equal(got, want) {
		t.Errorf("candidates:\n got %q\nwant %q", got, want)
	}

	// A CUDA 12 driver: cuBLAS 13 is skipped.
	got := libCandidates(cublasSpec, env, 12)
	if slices.ContainsFunc(got, func(p string) bool { return strings.HasSuffix(p, ".so.13") }) {
		t.Errorf("CUDA 12 driver: candidates include cuBLAS 13: %q", got)
	}
	if got[0] != "/opt/other/libcublas.so.12" {
		t.Errorf("CUDA 12 driver: first candidate %q", got[0])
	}
}

func TestLibsNVRTCWheels(t *testing.T) {
	env := fakeEnv(map[string]string{"VIRTUAL_ENV": "/env"},
		"/env/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
		"/env/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13",
		"/usr/local/cuda-11.2/lib64/libnvrtc.so.11.2",
	)
	got := libCandidates(nvrtcSpec, env, 0)
	want := []string{
		"/usr/local/cuda-11.2/lib64/libnvrtc.so.11.2",
		"/env/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13",
		"/env/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
	}
	if !slices.Equal(got[:len(want)], want) {
		t.Errorf("candidates:\n got %q\nwant %q...", got, want)
	}
}

func TestLibsDriverSearch(t *testing.T) {
	env := fakeEnv(map[string]string{"LD_LIBRARY_PATH": "/usr/local/cuda/lib64/stubs"},
		"/usr/local/cuda/lib64/stubs/libcuda.so",
		"/usr/local/cuda-12.4/compat/libcuda.so.1",
		"/usr/lib64/libcuda.so.1",
		"/usr/lib64/libcuda.so",
	)
	// No stubs, no toolkit folders: the driver is the system's.
	want := []string{"/usr/lib64/libcuda.so.1", "/usr/lib64/libcuda.so", "libcuda.so.1", "libcuda.so"}
	if got := libCandidates(cudaSpec, env, 0); !slices.Equal(got, want) {
		t.Errorf("candidates:\n got %q\nwant %q", got, want)
	}
}

func TestLibsLoadFallsThrough(t *testing.T) {
	env := fakeEnv(map[string]string{"CELLC_CUDA_PATH": "/a:/b"},
		"/a/libcublas.so.12", "/b/libcublas.so.12", "/b/libcublasLt.so.12")
	var opened []string
	open := func(path string) (uintptr, error) {
		opened = append(opened, path)
		if path == "/a/libcublas.so.12" {
			return 0, errors.New(path + ": wrong ELF class: ELFCLASS32")
		}
		if strings.HasPrefix(path, "/") {
			return 1, nil
		}
		return 0, errors.New(path + ": cannot open shared object file: No such file or directory")
	}
	lib, err := loadLib(cublasSpec, env, 0, open)
	if err != nil || lib.path != "/b/libcublas.so.12" {
		t.Fatalf("loadLib = %+v, %v", lib, err)
	}
	// cublasLt is opened first, from the same folder.
	if want := []string{"/a/libcublas.so.12", "/b/libcublasLt.so.12", "/b/libcublas.so.12"}; !slices.Equal(opened, want) {
		t.Errorf("opened %q, want %q", opened, want)
	}

	// Nothing loads: one line, with the file that failed and the hint.
	_, err = loadLib(cublasSpec, fakeEnv(nil, "/usr/lib64/libcublas.so.12"), 12, func(path string) (uintptr, error) {
		return 0, errors.New(path + ": cannot open shared object file: No such file or directory")
	})
	msg := err.Error()
	for _, s := range []string{"cuBLAS not found: libcublas.so.12, .11 not found", "CELLC_CUDA_PATH (unset)",
		"/usr/local/cuda*/lib64", "/usr/lib64/libcublas.so.12: cannot open", "driver supports CUDA 12", "set CELLC_CUDA_PATH"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error lacks %q:\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line:\n%s", msg)
	}
}

func TestDriverMissing(t *testing.T) {
	if h, err := purego.Dlopen("libcuda.so.1", purego.RTLD_NOW); err == nil {
		purego.Dlclose(h)
		t.Skip("this machine has a CUDA driver")
	}
	for _, path := range []string{"", "/nowhere:/also/nowhere"} {
		t.Setenv("CELLC_CUDA_PATH", path)
		_, err := openDriver(0)
		if err == nil {
			t.Fatal("openDriver(0) succeeded without a driver")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "no CUDA driver: libcuda.so.1 not found") || strings.Contains(msg, "\n") {
			t.Errorf("error is not one line starting with %q:\n%s", "no CUDA driver", msg)
		}
		want := "CELLC_CUDA_PATH (unset)"
		if path != "" {
			want = "CELLC_CUDA_PATH (" + path + ")"
		}
		if !strings.Contains(msg, want) || !strings.HasSuffix(msg, "install the NVIDIA driver or set CELLC_CUDA_PATH") {
			t.Errorf("error lacks %q or the hint:\n%s", want, msg)
		}
		t.Log(msg)
	}
}

func TestDriverOrdinalError(t *testing.T) {
	for _, c := range []struct {
		ordinal, count int
		want           string
	}{
		{0, 1, ""},
		{7, 1, "cuda:7: this machine has 1 CUDA device (cuda:0)"},
		{2, 2, "cuda:2: this machine has 2 CUDA devices (cuda:0 to cuda:1)"},
		{-1, 8, "cuda:-1: this machine has 8 CUDA devices (cuda:0 to cuda:7)"},
		{0, 0, "cuda:0: this machine has no CUDA device"},
	} {
		err := ordinalError(c.ordinal, c.count)
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("ordinalError(%d, %d) = %q, want %q", c.ordinal, c.count, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("ordinalError(%d, %d) = nil, want %q", c.ordinal, c.count, c.want)
		}
	}
}

// TestDriverBindings registers every binding against a fake address:
// purego checks each Go signature (argument kinds, how many go on the
// stack) when it registers, so a signature it cannot call fails here
// rather than on a GPU machine. The functions are never called.
func TestDriverBindings(t *testing.T) {
	var (
		cu   cuAPI
		blas blasAPI
		nv   nvrtcAPI
	)
	lookup := func(string) (uintptr, error) { return 0x1000, nil }
	for _, syms := range [][]symbol{cu.symbols(), blas.symbols(), nv.symbols(), nv.cubinSymbols()} {
		if err := bind(lookup, loadedLib{path: "fake"}, syms); err != nil {
			t.Fatal(err)
		}
	}
	if cu.cuLaunchKernel == nil || blas.cublasSgemmStridedBatched == nil || nv.nvrtcGetCUBIN == nil {
		t.Error("a binding was left nil")
	}

	missing := func(name string) (uintptr, error) {
		if name == "cuGraphInstantiateWithFlags" {
			return 0, errors.New("undefined symbol")
		}
		return 0x1000, nil
	}
	err := bind(missing, loadedLib{path: "/usr/lib64/libcuda.so.1"}, new(cuAPI).symbols())
	if err == nil || err.Error() != "/usr/lib64/libcuda.so.1 has no cuGraphInstantiateWithFlags (too old a version?)" {
		t.Errorf("missing symbol: %v", err)
	}
}

func TestDriverErrors(t *testing.T) {
	e := &cudaError{call: "cuMemAlloc_v2", code: 2, name: "CUDA_ERROR_OUT_OF_MEMORY", msg: "out of memory"}
	if got, want := e.Error(), "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := (&cudaError{call: "cuInit", code: 999}).Error(), "cuInit: CUDA error 999"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := blasCheck("cublasSgemmStridedBatched", 7).Error(), "cublasSgemmStridedBatched: CUBLAS_STATUS_INVALID_VALUE"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if blasCheck("cublasCreate_v2", 0) != nil {
		t.Error("status 0 is an error")
	}
	b := []byte("NVIDIA H100\x00junk")
	if got := goString(&b[0]); got != "NVIDIA H100" {
		t.Errorf("goString = %q", got)
	}
}

func TestCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kernels") // made on first store
	key := cacheKey("nvrtc", "12.4", "sm_90", "src")
	if key == cacheKey("nvrtc", "12.4", "sm_9", "0src") || key == cacheKey("nvrtc", "12.4", "sm_90", "src2") {
		t.Error("different parts hash the same")
	}
	if _, ok := cacheLoad(dir, key, ".cubin"); ok {
		t.Fatal("hit in an empty cache")
	}
	if err := cacheStore(dir, key, ".cubin", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := cacheStore(dir, key, ".cubin", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if b, ok := cacheLoad(dir, key, ".cubin"); !ok || string(b) != "v2" {
		t.Errorf("load = %q, %v; want v2", b, ok)
	}
	if _, ok := cacheLoad(dir, key, ".ptx"); ok {
		t.Error("hit for another extension")
	}

	// cachedBuild builds on a miss only, into a temp file renamed into place.
	builds := 0
	build := func(path string) error {
		builds++
		if filepath.Dir(path) != dir || path == cachePath(dir, key, ".so") {
			t.Errorf("build writes %s, not a temp file in %s", path, dir)
		}
		return os.WriteFile(path, []byte("lib"), 0o644)
	}
	for range 2 {
		path, err := cachedBuild(dir, key, ".so", build)
		if err != nil || path != cachePath(dir, key, ".so") {
			t.Fatalf("cachedBuild = %q, %v", path, err)
		}
	}
	if builds != 1 {
		t.Errorf("%d builds, want 1", builds)
	}

	// A failed build leaves nothing behind, and the next call builds again.
	failKey := cacheKey("broken")
	if _, err := cachedBuild(dir, failKey, ".so", func(path string) error {
		os.WriteFile(path, []byte("half"), 0o644)
		return errors.New("compiler failed")
	}); err == nil {
		t.Error("failed build returned no error")
	}
	if _, ok := cacheLoad(dir, failKey, ".so"); ok {
		t.Error("failed build left a cache entry")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{key + ".cubin", key + ".so"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("cache folder holds %q, want %q (no temp files)", names, want)
	}
}

// fakeCUDA is libcuda, cuBLAS and NVRTC in one small C library: device
// memory is host memory, and every call is logged with its arguments as
// C saw them. TestDriverFake runs the driver device on it, which checks
// the bindings' calling convention (18 arguments for a GEMM, out
// parameters, strings, kernel parameters) without a GPU.
const fakeCUDA = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static char logbuf[1 << 16];
#define LOG(...) snprintf(logbuf + strlen(logbuf), sizeof logbuf - strlen(logbuf), __VA_ARGS__)
const char *fake_log(void) { return logbuf; }
void fake_reset(void) { logbuf[0] = 0; }
typedef unsigned long long ptr;
static void *CTX = (void *)0xc0, *STREAM = (void *)0x5e, *BLAS = (void *)0xb1;
static int current = 0;

int cuInit(unsigned f) { LOG("cuInit %u\n", f); return 0; }
int cuDriverGetVersion(int *v) { *v = 12040; return 0; }
int cuDeviceGetCount(int *n) { *n = 1; return 0; }
int cuDeviceGet(int *d, int o) { *d = o + 40; return 0; }
int cuDeviceGetName(char *s, int n, int d) { snprintf(s, n, "Fake GPU %d", d); return 0; }
int cuDeviceGetAttribute(int *v, int a, int d) { *v = a == 75 ? 9 : a == 76 ? 0 : -1; return d == 40 ? 0 : 101; }
int cuDevicePrimaryCtxRetain(void **c, int d) { *c = CTX; return 0; }
int cuDevicePrimaryCtxRelease_v2(int d) { LOG("release %d\n", d); return 0; }
int cuCtxSetCurrent(void *c) { current = c == CTX; return 0; }
#define CTXCHECK if (!current) return 201
int cuStreamCreate(void **s, unsigned f) { CTXCHECK; LOG("stream %u\n", f); *s = STREAM; return 0; }
int cuStreamDestroy_v2(void *s) { LOG("destroy stream %d\n", s == STREAM); return 0; }
int cuStreamSynchronize(void *s) { CTXCHECK; return s == STREAM ? 0 : 400; }
int cuMemAlloc_v2(ptr *p, size_t n) { CTXCHECK; if (n > (1ull << 40)) return 2; *p = (ptr)malloc(n); memset((void *)*p, 0x7f, n); return 0; }
int cuMemFree_v2(ptr p) { LOG("free\n"); free((void *)p); return 0; }
int cuMemcpyHtoDAsync_v2(ptr d, const void *s, size_t n, void *st) { CTXCHECK; memcpy((void *)d, s, n); return st == STREAM ? 0 : 400; }
int cuMemcpyDtoHAsync_v2(void *d, ptr s, size_t n, void *st) { CTXCHECK; memcpy(d, (void *)s, n); return st == STREAM ? 0 : 400; }
int cuMemsetD8Async(ptr p, unsigned char v, size_t n, void *st) { CTXCHECK; memset((void *)p, v, n); return st == STREAM ? 0 : 400; }
int cuMemGetInfo_v2(size_t *f, size_t *t) { *f = 1 << 20; *t = 2 << 20; return 0; }
int cuModuleLoadData(void **m, const void *img) { CTXCHECK; LOG("load %s\n", (const char *)img); *m = (void *)0x30; return 0; }
int cuModuleUnload(void *m) { LOG("unload %p\n", m); return 0; }
int cuModuleGetFunction(void **f, void *m, const char *name) { CTXCHECK; if (strcmp(name, "scale")) return 500; *f = (void *)0xf0; return 0; }
int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
	unsigned sh, void *st, void **p, void **extra) {
	CTXCHECK;
	LOG("launch %p %u %u %u %u %u %u %u %d %llx %d %g %d\n", f, gx, gy, gz, bx, by, bz, sh, st == STREAM,
		*(ptr *)p[0], *(int *)p[1], *(float *)p[2], extra == 0);
	return 0;
}
int cuGetErrorName(int r, const char **s) { *s = r == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : r == 500 ? "CUDA_ERROR_NOT_FOUND" : "CUDA_ERROR_OTHER"; return 0; }
int cuGetErrorString(int r, const char **s) { *s = r == 2 ? "out of memory" : "named symbol not found"; return 0; }
int cuStreamBeginCapture_v2(void *s, int mode) { CTXCHECK; LOG("capture %d %d\n", s == STREAM, mode); return 0; }
int cuStreamEndCapture(void *s, void **g) { *g = (void *)0x91; return 0; }
int cuGraphInstantiateWithFlags(void **e, void *g, unsigned long long fl) { LOG("instantiate %p %llu\n", g, fl); *e = (void *)0x92; return 0; }
int cuGraphLaunch(void *e, void *s) { LOG("graph launch %p %d\n", e, s == STREAM); return 0; }
int cuGraphExecDestroy(void *e) { LOG("graph exec destroy %p\n", e); return 0; }
int cuGraphDestroy(void *g) { LOG("graph destroy %p\n", g); return 0; }

int cublasCreate_v2(void **h) { CTXCHECK; *h = BLAS; return 0; }
int cublasDestroy_v2(void *h) { LOG("blas destroy %d\n", h == BLAS); return 0; }
int cublasSetStream_v2(void *h, void *s) { return h == BLAS && s == STREAM ? 0 : 7; }
int cublasSetMathMode(void *h, int m) { LOG("math %d\n", m); return 0; }
int cublasSgemmStridedBatched(void *h, int ta, int tb, int m, int n, int k, const float *alpha,
	const float *a, int lda, long long sa, const float *b, int ldb, long long sb,
	const float *beta, float *c, int ldc, long long sc, int batch) {
	CTXCHECK;
	LOG("gemm %d %d %d %d %d %d %g %llx %d %lld %llx %d %lld %g %llx %d %lld %d\n", h == BLAS, ta, tb, m, n, k,
		*alpha, (ptr)a, lda, sa, (ptr)b, ldb, sb, *beta, (ptr)c, ldc, sc, batch);
	return m < 0 ? 7 : 0;
}

int nvrtcVersion(int *maj, int *min) { *maj = 12; *min = 4; return 0; }
int nvrtcCreateProgram(void **p, const char *src, const char *name, int nh, const char *const *h, const char *const *in) {
	LOG("nvrtc create %zu %s %d\n", strlen(src), name, nh); *p = (void *)0x77; return 0;
}
int nvrtcCompileProgram(void *p, int n, const char *const *opts) {
	LOG("nvrtc compile");
	for (int i = 0; i < n; i++) LOG(" %s", opts[i]);
	LOG("\n");
	return strstr(opts[0], "_90") ? 0 : 6;
}
int nvrtcGetProgramLogSize(void *p, size_t *n) { *n = 6; return 0; }
int nvrtcGetProgramLog(void *p, char *s) { strcpy(s, "oops\n"); return 0; }
int nvrtcGetPTXSize(void *p, size_t *n) { return 3; }
int nvrtcGetPTX(void *p, char *s) { return 3; }
int nvrtcGetCUBINSize(void *p, size_t *n) { *n = 10; return 0; }
int nvrtcGetCUBIN(void *p, char *s) { memcpy(s, "FAKECUBIN", 10); return 0; }
int nvrtcDestroyProgram(void **p) { LOG("nvrtc destroy %p\n", *p); *p = 0; return 0; }
const char *nvrtcGetErrorString(int r) { return r == 6 ? "NVRTC_ERROR_COMPILATION" : "NVRTC_ERROR"; }
`

// buildFakeCUDA compiles fakeCUDA into dir under the names the search
// looks for.
func buildFakeCUDA(t *testing.T, dir string) {
	cc := ""
	for _, c := range []string{"cc", "gcc", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		t.Skip("no C compiler for the fake CUDA libraries")
	}
	src := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(src, []byte(fakeCUDA), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libcuda.so.1")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	for _, name := range []string{"libcublas.so.12", "libnvrtc.so.12"} {
		if err := os.Symlink(lib, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDriverFake(t *testing.T) {
	if h, err := purego.Dlopen("libcuda.so.1", purego.RTLD_NOW); err == nil {
		purego.Dlclose(h)
		t.Skip("this machine has a CUDA driver: the fake would shadow it")
	}
	dir := t.TempDir()
	buildFakeCUDA(t, dir)
	t.Setenv("CELLC_CUDA_PATH", dir)
	t.Setenv("CELLC_CACHE_DIR", filepath.Join(dir, "cache"))
	h, err := purego.Dlopen(filepath.Join(dir, "libcuda.so.1"), purego.RTLD_NOW)
	if err != nil {
		t.Fatal(err)
	}
	var fakeLog func() string
	var fakeReset func()
	purego.RegisterLibFunc(&fakeLog, h, "fake_log")
	purego.RegisterLibFunc(&fakeReset, h, "fake_reset")
	expect := func(what string, want ...string) {
		t.Helper()
		if got := strings.Split(strings.TrimSuffix(fakeLog(), "\n"), "\n"); !slices.Equal(got, want) {
			t.Errorf("%s: calls\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		fakeReset()
	}

	if _, err := openDriver(3); err == nil || err.Error() != "cuda:3: this machine has 1 CUDA device (cuda:0)" {
		t.Errorf("openDriver(3): %v", err)
	}
	fakeReset()
	dev, err := openDriver(0)
	if err != nil {
		t.Fatal(err)
	}
	d := dev.(*driverDevice)
	nvrtc := fmt.Sprintf("nvrtc create %d cellc_kernels.cu 0", len(deviceSource()))
	compile := "nvrtc compile --gpu-architecture=sm_90 -default-device --std=c++17"
	expect("open", "cuInit 0", "stream 1", "math 0", nvrtc, compile, "nvrtc destroy 0x77", "load FAKECUBIN")
	if got, want := d.Name(), "Fake GPU 40, sm_90"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}

	p, err := d.Alloc(16)
	if err != nil {
		t.Fatal(err)
	}
	back := make([]float32, 4)
	if err := d.Download(back, p); err != nil || !slices.Equal(back, []float32{0, 0, 0, 0}) {
		t.Errorf("Alloc did not zero: %v, %v", back, err)
	}
	if err := d.Upload(p, []float32{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := d.Download(back, p); err != nil || !slices.Equal(back, []float32{1, 2, 3, 4}) {
		t.Errorf("round trip: %v, %v", back, err)
	}
	if _, err := d.Alloc(1 << 41); err == nil || !strings.HasPrefix(err.Error(), "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory): 2199023255552 bytes wanted, 0 MiB held by this backend, 1 of 2 MiB free") {
		t.Errorf("huge Alloc: %v", err)
	}
	if _, err := d.Kernel("nope"); err == nil || err.Error() != "kernel nope: cuModuleGetFunction: CUDA_ERROR_NOT_FOUND (named symbol not found)" {
		t.Errorf("Kernel(nope): %v", err)
	}
	k, err := d.Kernel("scale")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Launch(k, dim3{5, 6, 7}, dim3{128, 2, 1}, []uint64{argPtr(p), argInt(-3), argFloat(0.5)}); err != nil {
		t.Fatal(err)
	}
	expect("launch", fmt.Sprintf("launch 0xf0 5 6 7 128 2 1 0 1 %x -3 0.5 1", uint64(p)))

	g := gemm{TransA: true, M: 2, N: 3, K: 4, Alpha: 1.5, A: 0xa0, LDA: 5, StrideA: 1 << 33,
		B: 0xb0, LDB: 6, StrideB: -7, Beta: 0.25, C: 0xc0, LDC: 8, StrideC: 9, Batch: 10}
	if err := d.Gemm(g); err != nil {
		t.Fatal(err)
	}
	expect("gemm", "gemm 1 1 0 2 3 4 1.5 a0 5 8589934592 b0 6 -7 0.25 c0 8 9 10")
	if err := d.SetTF32(true); err != nil {
		t.Fatal(err)
	}
	expect("setTF32", "math 3")

	if err := d.BeginCapture(); err != nil {
		t.Fatal(err)
	}
	ge, err := d.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.LaunchGraph(ge); err != nil {
		t.Fatal(err)
	}
	if err := d.DestroyGraph(ge); err != nil {
		t.Fatal(err)
	}
	expect("graph", "capture 1 2", "instantiate 0x91 0", "graph destroy 0x91", "graph launch 0x92 1", "graph exec destroy 0x92")

	// p is still allocated: Close frees it.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err == nil {
		t.Error("Sync after Close succeeded")
	}
	expect("close", "blas destroy 1", "unload 0x30", "free", "destroy stream 1", "release 40")

	// A failed compile reports NVRTC's log; without CUBIN output it asks
	// for PTX.
	var nv nvrtcAPI
	if err := nv.bind(loadedLib{handle: h, path: "fake"}); err != nil {
		t.Fatal(err)
	}
	_, err = compileKernels(&nv, "src", 8, 0, 12040, t.TempDir())
	if want := "compiling the kernels for sm_80 with NVRTC 12.4: nvrtcCompileProgram: NVRTC_ERROR_COMPILATION\noops"; err == nil || err.Error() != want {
		t.Errorf("failed compile: %v, want %q", err, want)
	}
	nv.nvrtcGetCUBIN = nil
	_, err = compileKernels(&nv, "src", 9, 0, 12040, t.TempDir())
	if want := "compiling the kernels for compute_90 with NVRTC 12.4: nvrtcGetPTXSize: NVRTC_ERROR"; err == nil || err.Error() != want {
		t.Errorf("PTX: %v, want %q", err, want)
	}
	fakeReset()

	// The second open loads the kernels from the cache.
	dev, err = openDriver(0)
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	expect("open from the cache", "cuInit 0", "stream 1", "math 0", "load FAKECUBIN",
		"blas destroy 1", "unload 0x30", "destroy stream 1", "release 40")
}
