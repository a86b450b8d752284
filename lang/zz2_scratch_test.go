package lang

import (
	"fmt"
	"testing"
)

func TestScratch2(t *testing.T) {
	for _, s := range []string{"op x = a -> b(k: 3, s: $stride, q: 1x3)", "normal cell c { block s < in: h_i, h_i-1; op: a, b; combine: add > }"} {
		f, d := Parse("t", []byte(s))
		fmt.Printf("%+v\n%v\n", f.Decls[0], d)
		d2, err := syntax().file.ParseString("t", s)
		fmt.Printf("%+v %v\n", d2.Decls[0].Op, err)
	}
}
