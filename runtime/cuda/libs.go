package cuda

// Finding the CUDA libraries at run time.
//
// The driver (libcuda) comes with the NVIDIA kernel driver and lives in
// the system's library folders. cuBLAS and NVRTC come with the CUDA
// toolkit (/usr/local/cuda*/lib64) or with NVIDIA's pip wheels
// (site-packages/nvidia/cublas/lib and nvidia/cuda_nvrtc/lib up to CUDA
// 12, nvidia/cu13/lib from CUDA 13). Folders are tried in this order:
//
//	CELLC_CUDA_PATH (colon-separated), LD_LIBRARY_PATH, the system
//	folders, /usr/local/cuda/lib64 then /usr/local/cuda-X.Y/lib64 newest
//	first, then site-packages/nvidia/*/lib of the active Python
//	environment (VIRTUAL_ENV, CONDA_PREFIX, python3 on PATH), of
//	~/.local and of the system Pythons
//
// and within a folder the newest version first. Last comes each bare
// soname, for the loader's own search (ld.so.cache, RPATH). The search
// is a pure function of a libEnv so that the tests can fake a machine.

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ebitengine/purego"
)

// libEnv is what the search reads of the machine.
type libEnv struct {
	getenv func(name string) string
	glob   func(pattern string) []string // matches, sorted; none on a bad pattern
	isFile func(path string) bool        // path names a file (after symlinks)
}

// hostEnv is this machine.
func hostEnv() libEnv {
	return libEnv{
		getenv: os.Getenv,
		glob: func(pattern string) []string {
			m, _ := filepath.Glob(pattern)
			return m
		},
		isFile: func(path string) bool {
			fi, err := os.Stat(path)
			return err == nil && fi.Mode().IsRegular()
		},
	}
}

// libSpec says which library to look for and how to name it in errors.
type libSpec struct {
	stem     string   // "libcublas"
	versions []string // soname versions, preferred first; "" is the bare libX.so
	toolkit  bool     // also look in CUDA toolkits and pip wheels
	deps     []string // stems loaded first from the same folder (libcublasLt)
	missing  string   // the error's start
	hint     string   // what to do, at the error's end
}

var (
	cudaSpec = libSpec{
		stem: "libcuda", versions: []string{"1", ""},
		missing: "no CUDA driver",
		hint:    "install the NVIDIA driver or set CELLC_CUDA_PATH",
	}
	cublasSpec = libSpec{
		stem: "libcublas", versions: []string{"13", "12", "11", ""},
		toolkit: true, deps: []string{"libcublasLt"},
		missing: "cuBLAS not found",
		hint:    "install the CUDA toolkit or the nvidia-cublas (CUDA 13) or nvidia-cublas-cu12 wheel, or set CELLC_CUDA_PATH",
	}
	nvrtcSpec = libSpec{
		stem: "libnvrtc", versions: []string{"13", "12", "11.2", "11.1", "11.0", "11", ""},
		toolkit: true,
		missing: "NVRTC not found",
		hint:    "install the CUDA toolkit or the nvidia-cuda-nvrtc (CUDA 13) or nvidia-cuda-nvrtc-cu12 wheel, or set CELLC_CUDA_PATH",
	}
)

// systemLibDirs are where distributions and NVIDIA's container toolkit
// put libcuda (/usr/lib/wsl/lib under WSL 2).
var systemLibDirs = []string{
	"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu",
	"/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib",
}

// names are the file names to try, preferred first. maxMajor > 0 drops
// versions newer than the driver supports: cuBLAS 13 loads on a CUDA 12
// driver but fails in cublasCreate, and NVRTC 13's code does not load.
func (s libSpec) names(maxMajor int) []string {
	var ns []string
	for _, v := range s.versions {
		if v == "" {
			ns = append(ns, s.stem+".so")
			continue
		}
		if major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); s.toolkit && maxMajor > 0 && major > maxMajor {
			continue
		}
		ns = append(ns, s.stem+".so."+v)
	}
	return ns
}

// libDirs lists the folders to search, in order, without repeats.
func libDirs(s libSpec, env libEnv) []string {
	var dirs []string
	add := func(ds ...string) {
		for _, d := range ds {
			if d = filepath.Clean(d); d != "." && !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	add(splitList(env.getenv("CELLC_CUDA_PATH"))...)
	add(splitList(env.getenv("LD_LIBRARY_PATH"))...)
	add(systemLibDirs...)
	if !s.toolkit {
		return dirs
	}
	add(toolkitDirs(env)...)
	for _, site := range sitePackages(env) {
		add(env.glob(filepath.Join(site, "nvidia", "*", "lib"))...)
	}
	return dirs
}

// toolkitDirs are /usr/local/cuda/lib64 (the toolkit the installer made
// the default) and then the versioned toolkits, newest first.
func toolkitDirs(env libEnv) []string {
	roots := env.glob("/usr/local/cuda-*")
	slices.SortFunc(roots, func(a, b string) int { return compareVersions(b, a) })
	dirs := []string{"/usr/local/cuda/lib64"}
	for _, r := range roots {
		dirs = append(dirs, filepath.Join(r, "lib64"))
	}
	return dirs
}

// compareVersions orders /usr/local/cuda-12.10 after cuda-12.9.
func compareVersions(a, b string) int {
	va := strings.Split(strings.TrimPrefix(filepath.Base(a), "cuda-"), ".")
	vb := strings.Split(strings.TrimPrefix(filepath.Base(b), "cuda-"), ".")
	for i := 0; i < len(va) && i < len(vb); i++ {
		x, _ := strconv.Atoi(va[i])
		y, _ := strconv.Atoi(vb[i])
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(va), len(vb))
}

// sitePackages are the Python package folders that may hold NVIDIA's
// wheels: the active environment's first (what `pip install` just
// filled), then the user's, then the system's. They are found by
// globbing, not by running python3, which may be slow or absent.
func sitePackages(env libEnv) []string {
	var prefixes []string
	for _, v := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := env.getenv(v); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	for _, dir := range splitList(env.getenv("PATH")) {
		if env.isFile(filepath.Join(dir, "python3")) {
			prefixes = append(prefixes, filepath.Dir(filepath.Clean(dir)))
		}
	}
	var patterns []string
	for _, p := range prefixes {
		patterns = append(patterns, filepath.Join(p, "lib", "python3*", "site-packages"))
	}
	if home := env.getenv("HOME"); home != "" {
		patterns = append(patterns, filepath.Join(home, ".local", "lib", "python3*", "site-packages"))
	}
	patterns = append(patterns,
		"/usr/local/lib/python3*/site-packages",
		"/usr/local/lib/python3*/dist-packages",
		"/usr/lib/python3*/dist-packages",
	)
	var sites []string
	for _, pat := range patterns {
		for _, s := range env.glob(pat) {
			if !slices.Contains(sites, s) {
				sites = append(sites, s)
			}
		}
	}
	return sites
}

// libCandidates lists what to dlopen, in order: each existing file in
// each folder, newest version first within a folder (so an explicit
// CELLC_CUDA_PATH wins over a newer library elsewhere), then the bare
// sonames for the loader's search.
func libCandidates(s libSpec, env libEnv, maxMajor int) []string {
	var cands []string
	names := s.names(maxMajor)
	for _, dir := range libDirs(s, env) {
		if s.stem == "libcuda" && filepath.Base(dir) == "stubs" {
			continue // the toolkit's link-time stub: cuInit fails with CUDA_ERROR_STUB_LIBRARY
		}
		for _, n := range names {
			if p := filepath.Join(dir, n); env.isFile(p) {
				cands = append(cands, p)
			}
		}
	}
	return append(cands, names...)
}

// dlopenFunc opens a shared library; purego.Dlopen outside the tests.
type dlopenFunc func(path string) (uintptr, error)

// dlopen opens path with every symbol bound now (a missing one fails
// here, not in the middle of a run) and made global, so that libraries
// opened later (cuBLAS needs cublasLt) resolve against it.
func dlopen(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// loadedLib is a library loadLib opened.
type loadedLib struct {
	handle uintptr
	path   string // the file, or the soname the loader resolved
}

// loadLib opens the first candidate that loads. The error is one line
// naming the versions it accepted, where it looked and the first load
// failure of a file that exists.
func loadLib(s libSpec, env libEnv, maxMajor int, open dlopenFunc) (loadedLib, error) {
	var failure string
	for _, path := range libCandidates(s, env, maxMajor) {
		if filepath.IsAbs(path) {
			for _, dep := range s.deps {
				// A toolkit's libcublas may lack an RPATH to its libcublasLt.
				d := filepath.Join(filepath.Dir(path), dep+strings.TrimPrefix(filepath.Base(path), s.stem))
				if env.isFile(d) {
					open(d)
				}
			}
		}
		h, err := open(path)
		if err == nil {
			return loadedLib{handle: h, path: path}, nil
		}
		if msg := err.Error(); failure == "" && (filepath.IsAbs(path) || !strings.Contains(msg, "No such file")) {
			failure = msg
		}
	}
	return loadedLib{}, notFound(s, env, maxMajor, failure)
}

// notFound is loadLib's error, e.g.
//
//	no CUDA driver: libcuda.so.1 not found (looked in CELLC_CUDA_PATH (unset),
//	LD_LIBRARY_PATH (unset), /usr/lib/x86_64-linux-gnu, ... and the loader's
//	default path); install the NVIDIA driver or set CELLC_CUDA_PATH
//
// on one line.
func notFound(s libSpec, env libEnv, maxMajor int, failure string) error {
	var b strings.Builder
	b.WriteString(s.missing + ": ")
	var vs []string
	for _, n := range s.names(maxMajor) {
		if v, ok := strings.CutPrefix(n, s.stem+".so."); ok {
			vs = append(vs, v)
		}
	}
	b.WriteString(s.stem + ".so." + strings.Join(vs, ", ."))
	b.WriteString(" not found (looked in ")
	for _, v := range []string{"CELLC_CUDA_PATH", "LD_LIBRARY_PATH"} {
		val := env.getenv(v)
		if val == "" {
			val = "unset"
		}
		b.WriteString(v + " (" + val + "), ")
	}
	b.WriteString(strings.Join(systemLibDirs, ", "))
	if s.toolkit {
		b.WriteString(", /usr/local/cuda*/lib64, python site-packages/nvidia/*/lib")
	}
	b.WriteString(" and the loader's default path)")
	if s.toolkit && maxMajor > 0 {
		b.WriteString("; versions above " + strconv.Itoa(maxMajor) + " skipped: the driver supports CUDA " + strconv.Itoa(maxMajor))
	}
	if failure != "" {
		b.WriteString("; " + strings.ReplaceAll(failure, "\n", " "))
	}
	b.WriteString("; " + s.hint)
	return errors.New(b.String())
}

// splitList splits a colon-separated folder list, dropping empty entries
// (which the loader would read as the working folder).
func splitList(v string) []string {
	var out []string
	for _, d := range strings.Split(v, ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}
