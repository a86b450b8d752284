package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPTXCompiles compiles the kernel source for the GPU with clang, as
// NVRTC will on a machine with one (sm_80, without the CUDA toolkit:
// -nocudainc -nocudalib), and checks that every kernel is an entry of the
// PTX and that no kernel calls a function the PTX does not define (a
// libm call NVRTC would resolve but a misspelt helper would not).
func TestPTXCompiles(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not found: the PTX compile check needs it (Debian: apt-get install clang; make test installs it as root)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "kernels.cu")
	if err := os.WriteFile(src, []byte(clangSource()), 0o644); err != nil {
		t.Fatal(err)
	}
	ptx := filepath.Join(dir, "kernels.ptx")
	// clang 14 knows architectures up to sm_86; NVRTC compiles for the
	// device it runs on (sm_90 on an H100).
	for _, arch := range []string{"sm_70", "sm_80"} {
		out, err := exec.Command(clang, "-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib",
			"--cuda-gpu-arch="+arch, "-O2", "-Wall", "-Werror", "-S", "-o", ptx, src).CombinedOutput()
		if err != nil {
			t.Fatalf("clang %s: %v\n%s", arch, err, out)
		}
		b, err := os.ReadFile(ptx)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, k := range parseKernels(kernelsCU) {
			if !strings.Contains(text, ".entry "+k.Name+"(") {
				t.Errorf("%s: kernel %s is not an entry of the PTX", arch, k.Name)
			}
		}
		if strings.Contains(text, ".extern .func") {
			t.Errorf("%s: the PTX calls functions it does not define:\n%s", arch, grepLines(text, ".extern .func"))
		}
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestKernelDecls checks the launch table read from the source.
func TestKernelDecls(t *testing.T) {
	ks := parseKernels(kernelsCU)
	byName := map[string]kernelDecl{}
	for _, k := range ks {
		if _, dup := byName[k.Name]; dup {
			t.Errorf("kernel %s declared twice", k.Name)
		}
		byName[k.Name] = k
	}
	if k := byName["ew_relu"]; k.Params != 6 || k.Syncs {
		t.Errorf("ew_relu: %+v, want 6 parameters, no barrier", k)
	}
	if k := byName["bn_stats"]; k.Params != 7 || !k.Syncs {
		t.Errorf("bn_stats: %+v, want 7 parameters and a barrier", k)
	}
}
