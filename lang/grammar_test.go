package lang

import (
	"os"
	"testing"

	"cellc/internal/txtartest"
)

// TestGrammarEBNF keeps testdata/grammar.ebnf, the language reference,
// in step with the parser. Regenerate with CELLC_UPDATE=1.
func TestGrammarEBNF(t *testing.T) {
	const path = "../testdata/grammar.ebnf"
	got := Grammar() + "\n"
	if txtartest.Update() {
		if err := os.WriteFile(path, []byte(got), 0o666); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with CELLC_UPDATE=1 to create it)", err)
	}
	if got != string(want) {
		t.Errorf("grammar changed; run with CELLC_UPDATE=1 if that is intended\n--- got\n%s--- want\n%s", got, want)
	}
}

// TestLexer checks the token rules whose order matters.
func TestLexer(t *testing.T) {
	sym := syntax().lexer.Symbols()
	name := map[int]string{}
	for n, v := range sym {
		name[int(v)] = n
	}
	tests := []struct {
		in   string
		want []string // "Type:value"
	}{
		{"h_i h_i-1 h_i-12", []string{"InputRef:h_i", "InputRef:h_i-1", "InputRef:h_i-12"}},
		{"h_input h_i_x xh_i", []string{"Ident:h_input", "Ident:h_i_x", "Ident:xh_i"}},
		{"1x7 3 sep3x3 x3", []string{"Kernel:1x7", "Int:3", "Ident:sep3x3", "Ident:x3"}},
		{"a->b $s # c -> d", []string{"Ident:a", "Arrow:->", "Ident:b", "Punct:$", "Ident:s", "Comment:# c -> d"}},
		{"@ -", []string{"Invalid:@", "Punct:-"}},
		{"2.5 * n - 1 / x", []string{"Float:2.5", "Punct:*", "Ident:n", "Punct:-", "Int:1", "Punct:/", "Ident:x"}},
	}
	for _, tt := range tests {
		l, err := syntax().lexer.LexString("", tt.in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			tok, err := l.Next()
			if err != nil {
				t.Fatalf("%q: %v", tt.in, err)
			}
			if tok.EOF() {
				break
			}
			got = append(got, name[int(tok.Type)]+":"+tok.Value)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
				break
			}
		}
	}
}
