package cuda

// Compiling the kernels for the GPU with NVRTC at run time, and the disk
// cache that keeps compiled code between runs.
//
// The cache API, shared with the emulator (which caches its shared
// library the same way):
//
//	cacheDir() (string, error)
//		$CELLC_CACHE_DIR if set, else <os.UserCacheDir>/cellc/kernels
//	cacheKey(parts ...string) string
//		hex SHA-256 of the parts: source, target, compiler and driver versions
//	cachePath(dir, key, ext string) string
//	cacheLoad(dir, key, ext string) ([]byte, bool)
//		false on a miss or any read error: the caller rebuilds
//	cacheStore(dir, key, ext string, data []byte) error
//		writes a temp file in dir and renames it into place, so readers
//		(other processes too) see the whole file or none
//	cachedBuild(dir, key, ext string, build func(path string) error) (string, error)
//		the cached file's path; on a miss, build writes the file at the
//		temp path it is given (a compiler's -o) and it is renamed into place

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/ebitengine/purego"
)

// nvrtcResult is an nvrtcResult; 0 is NVRTC_SUCCESS.
type nvrtcResult int32

// nvrtcAPI is NVRTC as far as the backend uses it (nvrtc.h).
type nvrtcAPI struct {
	nvrtcVersion           func(major, minor *int32) nvrtcResult
	nvrtcCreateProgram     func(prog *uintptr, src, name *byte, numHeaders int32, headers, includeNames **byte) nvrtcResult
	nvrtcCompileProgram    func(prog uintptr, numOptions int32, options **byte) nvrtcResult
	nvrtcGetProgramLogSize func(prog uintptr, size *uintptr) nvrtcResult
	nvrtcGetProgramLog     func(prog uintptr, log *byte) nvrtcResult
	nvrtcGetPTXSize        func(prog uintptr, size *uintptr) nvrtcResult
	nvrtcGetPTX            func(prog uintptr, ptx *byte) nvrtcResult
	nvrtcDestroyProgram    func(prog *uintptr) nvrtcResult
	nvrtcGetErrorString    func(r nvrtcResult) string

	// CUBIN output exists from NVRTC 11.1 on; nil before.
	nvrtcGetCUBINSize func(prog uintptr, size *uintptr) nvrtcResult
	nvrtcGetCUBIN     func(prog uintptr, cubin *byte) nvrtcResult

	version string // "12.4"
}

func (nv *nvrtcAPI) symbols() []symbol {
	return []symbol{
		{"nvrtcVersion", &nv.nvrtcVersion},
		{"nvrtcCreateProgram", &nv.nvrtcCreateProgram},
		{"nvrtcCompileProgram", &nv.nvrtcCompileProgram},
		{"nvrtcGetProgramLogSize", &nv.nvrtcGetProgramLogSize},
		{"nvrtcGetProgramLog", &nv.nvrtcGetProgramLog},
		{"nvrtcGetPTXSize", &nv.nvrtcGetPTXSize},
		{"nvrtcGetPTX", &nv.nvrtcGetPTX},
		{"nvrtcDestroyProgram", &nv.nvrtcDestroyProgram},
		{"nvrtcGetErrorString", &nv.nvrtcGetErrorString},
	}
}

func (nv *nvrtcAPI) cubinSymbols() []symbol {
	return []symbol{
		{"nvrtcGetCUBINSize", &nv.nvrtcGetCUBINSize},
		{"nvrtcGetCUBIN", &nv.nvrtcGetCUBIN},
	}
}

// bind binds lib's functions and reads its version.
func (nv *nvrtcAPI) bind(lib loadedLib) error {
	if err := bind(dlsym(lib), lib, nv.symbols()); err != nil {
		return err
	}
	_, e1 := purego.Dlsym(lib.handle, "nvrtcGetCUBINSize")
	_, e2 := purego.Dlsym(lib.handle, "nvrtcGetCUBIN")
	if e1 == nil && e2 == nil {
		if err := bind(dlsym(lib), lib, nv.cubinSymbols()); err != nil {
			return err
		}
	}
	var major, minor int32
	if err := nv.check("nvrtcVersion", nv.nvrtcVersion(&major, &minor)); err != nil {
		return err
	}
	nv.version = fmt.Sprintf("%d.%d", major, minor)
	return nil
}

func (nv *nvrtcAPI) check(call string, r nvrtcResult) error {
	if r == 0 {
		return nil
	}
	return errors.New(call + ": " + nv.nvrtcGetErrorString(r))
}

// compileKernels returns src compiled for compute capability
// major.minor: a CUBIN for the real architecture where NVRTC can make
// one (no JIT at load, and no PTX version the driver may be too old
// for), else PTX for the driver to JIT. No --use_fast_math: the kernels
// must agree with the CPU backend.
func compileKernels(nv *nvrtcAPI, src string, major, minor, driverVersion int, dir string) ([]byte, error) {
	cubin := nv.nvrtcGetCUBIN != nil
	arch, ext := fmt.Sprintf("compute_%d%d", major, minor), ".ptx"
	if cubin {
		arch, ext = fmt.Sprintf("sm_%d%d", major, minor), ".cubin"
	}
	opts := []string{"--gpu-architecture=" + arch, "-default-device", "--std=c++17"}
	key := cacheKey("nvrtc", nv.version, strconv.Itoa(driverVersion), strings.Join(opts, " "), src)
	if image, ok := cacheLoad(dir, key, ext); ok {
		return image, nil
	}
	image, err := nv.compile(src, opts, cubin)
	if err != nil {
		return nil, fmt.Errorf("compiling the kernels for %s with NVRTC %s: %w", arch, nv.version, err)
	}
	cacheStore(dir, key, ext, image) // if it fails, the next run compiles again
	return image, nil
}

// compile runs NVRTC once; the error of a failed compile holds its log.
func (nv *nvrtcAPI) compile(src string, opts []string, cubin bool) ([]byte, error) {
	csrc, cname := cString(src), cString("cellc_kernels.cu")
	var prog uintptr
	if err := nv.check("nvrtcCreateProgram", nv.nvrtcCreateProgram(&prog, &csrc[0], &cname[0], 0, nil, nil)); err != nil {
		return nil, err
	}
	defer func() {
		nv.nvrtcDestroyProgram(&prog)
		runtime.KeepAlive(csrc)
		runtime.KeepAlive(cname)
	}()
	copts := make([][]byte, len(opts))
	ptrs := make([]*byte, len(opts))
	for i, o := range opts {
		copts[i] = cString(o)
		ptrs[i] = &copts[i][0]
	}
	r := nv.nvrtcCompileProgram(prog, int32(len(ptrs)), &ptrs[0])
	runtime.KeepAlive(copts)
	if r != 0 {
		return nil, fmt.Errorf("%w\n%s", nv.check("nvrtcCompileProgram", r), nv.log(prog))
	}
	sizeOf, get, what := nv.nvrtcGetPTXSize, nv.nvrtcGetPTX, "nvrtcGetPTX"
	if cubin {
		sizeOf, get, what = nv.nvrtcGetCUBINSize, nv.nvrtcGetCUBIN, "nvrtcGetCUBIN"
	}
	var n uintptr
	if err := nv.check(what+"Size", sizeOf(prog, &n)); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New(what + ": no output")
	}
	out := make([]byte, n)
	if err := nv.check(what, get(prog, &out[0])); err != nil {
		return nil, err
	}
	if !cubin && out[len(out)-1] != 0 {
		out = append(out, 0) // cuModuleLoadData reads PTX as a C string
	}
	return out, nil
}

// log is the program's compile log.
func (nv *nvrtcAPI) log(prog uintptr) string {
	var n uintptr
	if nv.nvrtcGetProgramLogSize(prog, &n) != 0 || n == 0 {
		return "(no log)"
	}
	b := make([]byte, n)
	if nv.nvrtcGetProgramLog(prog, &b[0]) != 0 {
		return "(no log)"
	}
	return strings.TrimRight(string(b), "\x00\n ")
}

// cString is s NUL-terminated, in memory the caller keeps alive.
func cString(s string) []byte { return append([]byte(s), 0) }

// cacheKey hashes the parts, each prefixed by its length so that no two
// lists of parts hash the same text.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		binary.Write(h, binary.LittleEndian, uint64(len(p)))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func cachePath(dir, key, ext string) string { return filepath.Join(dir, key+ext) }

func cacheLoad(dir, key, ext string) ([]byte, bool) {
	b, err := os.ReadFile(cachePath(dir, key, ext))
	return b, err == nil && len(b) > 0
}

func cacheStore(dir, key, ext string, data []byte) error {
	return atomicWrite(dir, cachePath(dir, key, ext), func(tmp string) error {
		return os.WriteFile(tmp, data, 0o644)
	})
}

func cachedBuild(dir, key, ext string, build func(path string) error) (string, error) {
	path := cachePath(dir, key, ext)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		return path, nil
	}
	if err := atomicWrite(dir, path, build); err != nil {
		return "", err
	}
	return path, nil
}

// atomicWrite has write fill a temp file in dir, then renames it to path:
// a rename within a folder replaces path in one step.
func atomicWrite(dir, path string, write func(tmp string) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*"+filepath.Ext(path))
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// cacheDir is where compiled kernels are kept: $CELLC_CACHE_DIR, or the
// user's cache folder.
func cacheDir() (string, error) {
	if d := os.Getenv("CELLC_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "cellc-cache"), nil
	}
	return filepath.Join(d, "cellc", "kernels"), nil
}
