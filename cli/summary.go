package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"cellc/compiler"
	"cellc/compiler/ir"
	"cellc/compiler/plan"
)

// summaryBatch is the batch size the summary quotes memory at.
const summaryBatch = 32

// writeSummary prints the per-stage table, the totals with and without
// the aux head, the configuration and the plan's activation memory. The
// counts are the built graph's (before passes such as BN folding).
func writeSummary(w io.Writer, res *compiler.Result, p *plan.Plan, path string) {
	g := res.Built
	cfg := res.Config
	rows := ir.Stages(g)
	main, aux := g.Costs()
	hasAux := g.AuxOutput >= 0

	penultimate := res.Filters
	fmt.Fprintf(w, "%s %s, %s %dx%d, base filters %d\n",
		displayName(res.Network.Name), depth(cfg, penultimate), cfg.Dataset, cfg.ImageSize, cfg.ImageSize, res.BaseFilters)
	mode := "inference graph"
	if g.Training {
		mode = "training graph"
		if hasAux {
			mode += " with aux head"
		}
	}
	fmt.Fprintf(w, "network %s (%s), %s, %s classes\n\n", res.Network.Name, filepath.ToSlash(path), mode, commas(int64(cfg.Classes)))

	// The table.
	header := []string{"stage", "kind", "output", "params", "mult-adds"}
	table := [][]string{header}
	for _, s := range rows {
		table = append(table, []string{s.Name, s.Kind, s.Out.String(), commas(s.Cost.Params), multAdds(s.Cost.MultAdd)})
	}
	widths := make([]int, len(header))
	for _, r := range table {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	rule := 0
	for _, wd := range widths {
		rule += wd + 2
	}
	rule -= 2
	line := func(r []string) {
		fmt.Fprintf(w, "%-*s  %-*s  %-*s  %*s  %*s\n", widths[0], r[0], widths[1], r[1], widths[2], r[2], widths[3], r[3], widths[4], r[4])
	}
	for i, r := range table {
		if i == 1 {
			fmt.Fprintln(w, strings.Repeat("-", rule))
		}
		if i > 0 && rows[i-1].Aux && (i == 1 || !rows[i-2].Aux) {
			fmt.Fprintln(w, strings.Repeat("-", rule))
		}
		line(r)
	}
	fmt.Fprintln(w, strings.Repeat("=", rule))

	// Totals, without and with the aux head.
	withAux := main
	withAux.Params += aux.Params
	withAux.Moving += aux.Moving
	withAux.MultAdd += aux.MultAdd
	totals := [][3]string{
		{"Trainable params", commas(main.Params), commas(withAux.Params)},
		{"BN moving statistics", commas(main.Moving), commas(withAux.Moving)},
		{"Total params", commas(main.Total()), commas(withAux.Total())},
		{"Mult-adds per image", multAdds(main.MultAdd), multAdds(withAux.MultAdd)},
	}
	lw, c1, c2 := 0, len("without aux head"), len("with aux head")
	for _, t := range totals {
		lw, c1, c2 = max(lw, len(t[0])+1), max(c1, len(t[1])), max(c2, len(t[2]))
	}
	if hasAux {
		fmt.Fprintf(w, "%-*s  %*s  %*s\n", lw, "", c1, "without aux head", c2, "with aux head")
		for _, t := range totals {
			fmt.Fprintf(w, "%-*s  %*s  %*s\n", lw, t[0]+":", c1, t[1], c2, t[2])
		}
	} else {
		for _, t := range totals {
			fmt.Fprintf(w, "%-*s  %*s\n", lw, t[0]+":", c1, t[1])
		}
	}

	// Activation memory from the plan. A training plan keeps every
	// forward value for the backward pass and adds the gradient buffers;
	// both add the fused steps' intermediates the plan decided to keep.
	if p != nil {
		peak := p.Memory.Total()
		fmt.Fprintf(w, "\nPeak activation memory: %s per image, %s at batch %d\n", plan.Bytes(peak), plan.Bytes(peak*summaryBatch), summaryBatch)
		if p.Training {
			fmt.Fprintf(w, "  (forward values %s: those the backward pass reads, and buffers the rest share; + gradients %s; + fused steps' intermediates %s)\n", plan.Bytes(p.Memory.Forward), plan.Bytes(p.Memory.Gradients), plan.Bytes(p.Memory.Intermediates))
		} else {
			fmt.Fprintf(w, "  (values %s, buffers shared by liveness; + fused steps' intermediates %s)\n", plan.Bytes(p.Memory.Forward), plan.Bytes(p.Memory.Intermediates))
		}
		fmt.Fprintf(w, "Parameter memory: %s (float32, after passes)\n", plan.Bytes(p.Memory.Params))
	}
}

// displayName spells a network name the way papers do: nasnet_a →
// NASNet-A, pnasnet5 → PNASNet-5, darts_v2 → DARTS-V2. Unknown families
// keep their name.
func displayName(name string) string {
	families := []struct{ id, name string }{
		{"pnasnet", "PNASNet"}, {"nasnet", "NASNet"}, {"amoebanet", "AmoebaNet"},
		{"darts", "DARTS"}, {"enas", "ENAS"},
	}
	for _, f := range families {
		rest, ok := strings.CutPrefix(name, f.id)
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, "_-")
		if rest == "" {
			return f.name
		}
		return f.name + "-" + strings.ToUpper(strings.ReplaceAll(rest, "_", "-"))
	}
	return name
}

// depth is a built network's size as its papers write it: "N @ F" (cells
// per stage @ penultimate width) for skeletons that count cells per
// stage, "L layers @ F" for those that count layers (DARTS').
func depth(cfg compiler.Config, filters int) string {
	if cfg.Layers > 0 {
		return fmt.Sprintf("%d layers @ %d", cfg.Layers, filters)
	}
	return fmt.Sprintf("%d @ %d", cfg.N, filters)
}

// commas formats n with thousands separators: 3,346,538.
func commas(n int64) string {
	if n < 0 {
		return "-" + commas(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// multAdds formats a mult-add count the way the papers quote it: 544.3M,
// 23.8B.
func multAdds(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
