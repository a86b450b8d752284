package lang

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity of a diagnostic.
type Severity int

const (
	Error Severity = iota
	Warning
)

// Diagnostic is one problem found in a source file, in the style of HCL:
// a one-line summary, an optional detail (a hint, "did you mean ..."), and
// the exact range of source it is about.
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
	Subject  Span
}

// Diagnostics is a list of problems; it implements error.
type Diagnostics []Diagnostic

// Errorf appends an error diagnostic at span.
func (ds *Diagnostics) Errorf(at Span, format string, args ...any) *Diagnostic {
	*ds = append(*ds, Diagnostic{Severity: Error, Summary: fmt.Sprintf(format, args...), Subject: at})
	return &(*ds)[len(*ds)-1]
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Sort orders diagnostics by file, then position, keeping the order of
// diagnostics at the same position.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Subject, ds[j].Subject
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Start.Offset < b.Start.Offset
	})
}

// Error renders the diagnostics one per line without source context.
func (ds Diagnostics) Error() string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// String is "file:line:col: summary", plus "; detail" when there is one.
func (d Diagnostic) String() string {
	s := fmt.Sprintf("%s: %s", d.Subject.Start.Format(d.Subject.File), d.Summary)
	if d.Severity == Warning {
		s = fmt.Sprintf("%s: warning: %s", d.Subject.Start.Format(d.Subject.File), d.Summary)
	}
	if d.Detail != "" {
		s += "; " + d.Detail
	}
	return s
}

// Format prints "file:line:col".
func (p Pos) Format(file string) string {
	if file == "" {
		file = "<input>"
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col)
}

// Render writes each diagnostic as
//
//	file:line:col: summary
//	   3 |   block < in: h_i, h_j; op: sep3x3, avg3x3; combine: add >
//	     |                    ^^^
//	     = did you mean "h_i"?
//
// sources maps file names to their text; a file not in it is printed
// without context.
func (ds Diagnostics) Render(w io.Writer, sources map[string][]byte) {
	for _, d := range ds {
		head := d.Subject.Start.Format(d.Subject.File) + ": "
		if d.Severity == Warning {
			head += "warning: "
		}
		fmt.Fprintf(w, "%s%s\n", head, d.Summary)
		src, ok := sources[d.Subject.File]
		line := sourceLine(src, d.Subject.Start.Line)
		gutter := len(fmt.Sprint(d.Subject.Start.Line))
		if ok && d.Subject.Start.Line > 0 {
			fmt.Fprintf(w, " %*d | %s\n", gutter, d.Subject.Start.Line, strings.ReplaceAll(line, "\t", " "))
			width := 1
			if d.Subject.End.Line == d.Subject.Start.Line && d.Subject.End.Col > d.Subject.Start.Col {
				width = d.Subject.End.Col - d.Subject.Start.Col
			}
			col := d.Subject.Start.Col - 1
			if col > len(line) {
				col = len(line)
			}
			fmt.Fprintf(w, " %*s | %s%s\n", gutter, "", strings.Repeat(" ", col), strings.Repeat("^", width))
		}
		if d.Detail != "" {
			fmt.Fprintf(w, " %*s = %s\n", gutter, "", d.Detail)
		}
	}
}

func sourceLine(src []byte, n int) string {
	if n < 1 {
		return ""
	}
	lines := strings.Split(string(src), "\n")
	if n > len(lines) {
		return ""
	}
	return strings.TrimRight(lines[n-1], "\r")
}

// Suggest returns the candidate closest to name by edit distance, or ""
// when none is close enough to be a plausible typo.
func Suggest(name string, candidates []string) string {
	best, bestDist := "", len(name)/2+2
	for _, c := range candidates {
		d := editDistance(name, c)
		if d < bestDist || (d == bestDist && best != "" && c < best) {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean is Suggest phrased as a diagnostic detail, or "".
func DidYouMean(name string, candidates []string) string {
	if s := Suggest(name, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
