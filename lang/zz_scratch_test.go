package lang

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

func TestScratch(t *testing.T) {
	src := `op x = a -> b(k: 3, s: $stride, q: 1x3)
normal cell c { block s < in: h_i, h_i-1; op: a, b; combine: add > block < in: h_i; op: x; combine: add; > out: b0, s }
reduction cell r { block < in: h_i; op: x; combine: add > route: b0 }
network n { normal: c reduction: r }
`
	words := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ", ",", " , ", ";", " ; ", ":", " : ", "$", " $ ").Replace(src))
	subs := []string{"", "x", "3", "1x3", "h_i", "(", ")", ":", ";", ",", "<", ">", "{", "}", "=", "->", "$", "@", "op", "block", "out"}
	seen := map[string][]string{}
	for i := range words {
		for _, s := range subs {
			w := append([]string{}, words[:i]...)
			if s != "" {
				w = append(w, s)
			}
			w = append(w, words[i+1:]...)
			in := strings.Join(w, " ")
			_, d := Parse("t", []byte(in))
			for _, x := range d {
				k := x.Summary + " ;; " + x.Detail
				seen[k] = append(seen[k], strings.Join(w[max(0, i-4):min(len(w), i+3)], " "))
			}
		}
	}
	var keys []string
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(os.Stdout, "%-70s %d  e.g. %q\n", k, len(seen[k]), seen[k][0])
	}
}
