package lang

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"cellc/internal/txtartest"
)

// addSeeds adds the fuzz seed corpus: the example .cell files, the inputs
// of the golden tests, and the inline round-trip cases. Under plain
// `go test` the seeds run as ordinary tests.
func addSeeds(f *testing.F) {
	for _, pattern := range []string{"../stdlib/*.cell", "../specs/*.cell"} {
		paths, _ := filepath.Glob(pattern)
		for _, path := range paths {
			if src, err := os.ReadFile(path); err == nil {
				f.Add(src)
			}
		}
	}
	for _, dir := range []string{"errors", "format"} {
		paths, _ := filepath.Glob(filepath.Join(goldenDir, dir, "*.txtar"))
		for _, path := range paths {
			a, err := txtar.ParseFile(path)
			if err != nil {
				f.Fatal(err)
			}
			if s := txtartest.Section(a, "in.cell"); s != nil {
				f.Add(s)
			}
		}
	}
	for _, src := range roundTripCases {
		f.Add([]byte(src))
	}
	f.Add([]byte(sample))
	for _, odd := range []string{"\xff", "op a = b\x00", "op é = b", "# \xfe\r\rop a = b\r", "h_i-", "h_i-1x", "1x", "op a = b(k: 1x)", "\f\vop a = b", "skeleton s(", "skeleton s { a: 1 -", "skeleton s { a: b as c/ }", "skeleton s(n = 1.) {}", "skeleton s extends { }", "op a = b(f: $F /)", "op a = b(f: $F * / 4)", "op a = b(f: $F / 4 * 2)", "op a = b(f: $F / 99999999999999999999)"} {
		f.Add([]byte(odd))
	}
}

// FuzzParse: Parse never panics, its diagnostics point into the input,
// and whatever parses without errors survives Format unchanged.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := Parse("f.cell", src)
		if file == nil {
			t.Fatal("nil File")
		}
		for i, d := range diags {
			s := d.Subject
			if s.File != "f.cell" || s.Start.Line < 1 || s.Start.Col < 1 || s.Start.Offset > len(src) ||
				s.End.Offset < s.Start.Offset || s.End.Offset > len(src) {
				t.Fatalf("diagnostic with a bad span: %+v", d)
			}
			if d.Summary == "" || strings.Contains(d.Summary, "participle") {
				t.Fatalf("badly worded diagnostic: %v", d)
			}
			if i > 0 && diags[i-1].Subject.Start.Offset > s.Start.Offset {
				t.Fatalf("diagnostics out of order: %v", diags)
			}
		}
		if diags.HasErrors() {
			return
		}
		out := Format(file)
		again, diags := Parse("f.cell", out)
		if len(diags) > 0 {
			t.Fatalf("formatted output does not parse:\n%v\n--- input\n%q\n--- output\n%q", diags, src, out)
		}
		if !Equal(file, again) {
			t.Fatalf("Parse(Format(f)) != f\n--- input\n%q\n--- output\n%q", src, out)
		}
		if twice := Format(again); !bytes.Equal(out, twice) {
			t.Fatalf("Format is not idempotent\n--- input\n%q\n--- once\n%q\n--- twice\n%q", src, out, twice)
		}
	})
}

// FuzzFormatRoundTrip: the formatted form of anything that parses is
// canonical: it keeps every comment, has no trailing blanks, no tabs, no
// two blank lines in a row, spaces only where canonicalSpacing allows
// them, ends with one newline, and is a fixed point of Parse+Format.
func FuzzFormatRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := Parse("f.cell", src)
		if diags.HasErrors() {
			return
		}
		out := Format(file)
		if len(out) == 0 {
			if len(file.Decls) > 0 || len(file.Comments) > 0 {
				t.Fatalf("empty output for %q", src)
			}
			return
		}
		text := string(out)
		if !strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\n\n") || strings.HasPrefix(text, "\n") {
			t.Fatalf("output does not start and end cleanly: %q", text)
		}
		if strings.Contains(text, "\n\n\n") {
			t.Fatalf("two blank lines in a row: %q", text)
		}
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			if strings.TrimRight(line, " \t\r\f\v") != line || !canonicalSpacing(line) {
				t.Fatalf("line not in canonical layout: %q\n--- output\n%s", line, text)
			}
		}
		again, diags := Parse("f.cell", out)
		if len(diags) > 0 || !Equal(file, again) || len(again.Comments) != len(file.Comments) {
			t.Fatalf("round trip failed: %v\n--- input\n%q\n--- output\n%q", diags, src, out)
		}
		if twice := Format(again); !bytes.Equal(out, twice) {
			t.Fatalf("Format is not idempotent\n--- once\n%q\n--- twice\n%q", out, twice)
		}
	})
}

// canonicalSpacing reports whether the code part of a formatted line (all
// before '#') is laid out as Format lays it out: an indent of nothing or
// two spaces, no tabs, and single spaces except for alignment padding,
// which comes after a ';' or ':' (a skeleton's field keys) or before '=',
// '<' or a trailing comment (at least two spaces there). A skeleton's
// broken pipeline continues on lines indented up to its "->", and its
// parameters on lines indented by four spaces.
func canonicalSpacing(line string) bool {
	code, _, comment := strings.Cut(line, "#")
	if t := strings.TrimLeft(code, " "); strings.HasPrefix(t, "-> ") {
		code = t
	} else if strings.HasPrefix(code, "    ") && !strings.HasPrefix(code, "     ") {
		code = code[4:]
	}
	code = strings.TrimPrefix(code, "  ")
	if strings.HasPrefix(code, " ") || strings.Contains(code, "\t") {
		return false
	}
	if comment && code != "" && !strings.HasSuffix(code, "  ") {
		return false
	}
	for i := 0; i < len(code); {
		if code[i] != ' ' {
			i++
			continue
		}
		j := i
		for j < len(code) && code[j] == ' ' {
			j++
		}
		if j-i > 1 && !(i > 0 && (code[i-1] == ';' || code[i-1] == ':')) && !(j == len(code) && comment) &&
			!(j < len(code) && (code[j] == '=' || code[j] == '<')) {
			return false
		}
		i = j
	}
	return true
}
