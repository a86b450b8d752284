package space

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"cellc/lang"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reserved are the language's keywords and reference names, which a
// network name must not be (or start a cell name that is).
var reserved = map[string]bool{"op": true, "normal": true, "reduction": true, "cell": true,
	"network": true, "block": true, "out": true, "route": true, "in": true, "combine": true, "h_i": true}

// CellText prints architecture a as a complete .cell file in canonical
// form (lang.Format of its parse): a normal cell NAME_normal, a reduction
// cell NAME_reduction and a network NAME stacking them (into the space's
// skeleton, when it names one). Blocks read states
// by index (h_i, h_i-1, b0, ...) and omit out:, so each cell outputs the
// concatenation of its unused blocks (the paper's rule).
//
// The text is the architecture's identity: identical decisions give
// identical text and Hash. Use one name for every architecture of a
// search, or identical cells will look different.
func (s *Space) CellText(a Arch, name string) (string, error) {
	if !identRE.MatchString(name) || reserved[name] {
		return "", fmt.Errorf("network name %q is not an identifier", name)
	}
	if err := s.Check(a); err != nil {
		return "", err
	}
	ds := s.Decisions()
	var sb strings.Builder
	cell := func(kind lang.CellKind, vals []int, dec []Decision) {
		fmt.Fprintf(&sb, "%s cell %s_%s {\n", kind, name, kind)
		for b := 0; b < s.Blocks; b++ {
			v, d := vals[Kinds*b:], dec[Kinds*b:]
			fmt.Fprintf(&sb, "  block < in: %s, %s; op: %s, %s; combine: %s >\n",
				d[InputA].Names[v[InputA]], d[InputB].Names[v[InputB]],
				d[OpA].Names[v[OpA]], d[OpB].Names[v[OpB]], d[Combine].Names[v[Combine]])
		}
		sb.WriteString("}\n\n")
	}
	per := Kinds * s.Blocks
	cell(lang.Normal, a[:per], ds[:per])
	if s.SeparateReduction {
		cell(lang.Reduction, a[per:], ds[per:])
	} else {
		cell(lang.Reduction, a, ds)
	}
	fmt.Fprintf(&sb, "network %s {\n  normal: %s_normal\n  reduction: %s_reduction\n", name, name, name)
	if s.Skeleton != "" {
		// The skeleton is part of the text, the child's identity: the
		// same cells stacked another way are another network.
		fmt.Fprintf(&sb, "  skeleton: %s\n", s.Skeleton)
	}
	sb.WriteString("}\n")

	f, diags := lang.Parse(name+".cell", []byte(sb.String()))
	if diags.HasErrors() {
		// The text is generated from validated parts; this is a defect.
		return "", fmt.Errorf("generated .cell text does not parse: %v", diags)
	}
	return string(lang.Format(f)), nil
}

// Hash identifies a .cell text: the first 16 hex digits of its SHA-256.
// Equal texts have equal hashes; the search evaluates each hash once.
func Hash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:8])
}
