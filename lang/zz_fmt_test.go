package lang

import (
	"fmt"
	"os"
	"testing"
)

func TestScratchFmt(t *testing.T) {
	src, _ := os.ReadFile(os.Getenv("F"))
	f, d := Parse("t", src)
	fmt.Println(d)
	out := Format(f)
	fmt.Printf("%s", out)
	f2, d2 := Parse("t", out)
	fmt.Println(d2, Equal(f, f2), string(Format(f2)) == string(out))
}
