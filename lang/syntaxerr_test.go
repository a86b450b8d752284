package lang

import (
	"strings"
	"testing"
)

// TestSyntaxErrorsAreWorded breaks a valid file one token at a time
// (deleting it, or putting another token in its place) and checks that
// every diagnostic is worded for a person: no grammar EBNF leaking out of
// participle, and a position inside the file.
func TestSyntaxErrorsAreWorded(t *testing.T) {
	const src = `op x = a -> b(k: 3, s: $stride, q: 1x3)
normal cell c { block s < in: h_i, h_i-1; op: a, b; combine: add > block < in: h_i; op: x; combine: add; > out: b0, s }
reduction cell r { block < in: h_i; op: x; combine: add > route: b0 }
network n { normal: c reduction: r }
`
	spaced := strings.NewReplacer("(", " ( ", ")", " ) ", ",", " , ", ";", " ; ", ":", " : ", "$", " $ ").Replace(src)
	words := strings.Fields(spaced)
	if _, diags := Parse("t", []byte(strings.Join(words, " "))); len(diags) > 0 {
		t.Fatalf("the unbroken file does not parse: %v", diags)
	}
	subs := []string{"", "x", "3", "1x3", "h_i", "(", ")", ":", ";", ",", "<", ">", "{", "}", "=", "->", "$", "@", "-", "op", "block", "out", "normal", "network"}
	leaks := []string{"<ident>", "<int>", "<kernel>", "<inputref>", "*", "Stage", "Field", "Ref", "Arg", "Value", "NetField", "Block", "Out?", "token", "participle", "lexer"}
	n := 0
	for i := range words {
		for _, s := range subs {
			w := append([]string{}, words[:i]...)
			if s != "" {
				w = append(w, s)
			}
			w = append(w, words[i+1:]...)
			in := strings.Join(w, " ")
			_, diags := Parse("t", []byte(in))
			for _, d := range diags {
				n++
				for _, leak := range leaks {
					if strings.Contains(d.Summary, leak) {
						t.Errorf("%q:\n\t%s\n\tleaks %q", in, d, leak)
					}
				}
				if d.Subject.Start.Line != 1 || d.Subject.Start.Col < 1 || d.Subject.Start.Offset > len(in) {
					t.Errorf("%q:\n\t%s\n\tbad position %+v", in, d, d.Subject.Start)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no diagnostics at all")
	}
}
