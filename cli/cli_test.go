package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommas(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 7690: "7,690",
		3346538: "3,346,538", 88949818: "88,949,818", -1234: "-1,234",
	} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMultAdds(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 999: "999", 7690: "7.7K", 544_312_345: "544.3M", 23_783_000_000: "23.8B",
	} {
		if got := multAdds(n); got != want {
			t.Errorf("multAdds(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"nasnet_a": "NASNet-A", "pnasnet5": "PNASNet-5", "amoebanet_a": "AmoebaNet-A",
		"darts_v2": "DARTS-V2", "enas": "ENAS", "mynet": "mynet",
	} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := writeFileAtomic(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "two" {
		t.Fatalf("read %q, %v; want \"two\"", data, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only out.txt", len(entries))
	}
	// A directory in the way is an error, and is left alone.
	if err := writeFileAtomic(dir, []byte("x")); err == nil {
		t.Errorf("writing over a directory succeeded")
	}
}

// run is what Main calls; exercise it directly for the exit codes.
func TestRunExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"build", "--bogus", "x.cell"}, 2, "unknown flag: --bogus"},
		{[]string{"build", "does-not-exist.cell"}, 1, "cellc: open does-not-exist.cell: no such file or directory"},
		{[]string{"build", "../specs/nasnet_a.cell", "--emit", "png"}, 2, `--emit "png"`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, strings.NewReader(""), &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.err) {
			t.Errorf("cellc %s: exit %d, stderr %q; want exit %d with %q", strings.Join(c.args, " "), code, stderr.String(), c.code, c.err)
		}
	}
}
