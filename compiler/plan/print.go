package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"cellc/compiler/ir"
)

// Fprint writes the plan as stable text: a header with memory figures,
// the buffers, the parameters' total, then one line per step
//
//	s12 relu-sep-bn b3 -> b7[c32:64 of 192] p=[-, 41, 42, 43..46] cell_0/comb_iter_0/left/sep5x5/relu_1 @nasnet_a.cell:5:33
//
// and, for training plans, one line per backward step.
func Fprint(w io.Writer, p *Plan) {
	mode := "inference"
	if p.Training {
		mode = "training"
	}
	var trainable, total int64
	for _, q := range p.Params {
		total += q.Elems()
		if q.Trainable {
			trainable += q.Elems()
		}
	}
	fmt.Fprintf(w, "plan %s (%s): %d launches, %d buffers, %d params (%d trainable)\n", p.Name, mode, len(p.Launches), len(p.Buffers), total, trainable)
	fmt.Fprintf(w, "memory/image: forward %s (unshared %s)", Bytes(p.Memory.Forward), Bytes(p.Memory.Unshared))
	if p.Training {
		fmt.Fprintf(w, ", gradients %s", Bytes(p.Memory.Gradients))
	}
	fmt.Fprintf(w, ", intermediates %s", Bytes(p.Memory.Intermediates))
	fmt.Fprintf(w, "; params %s\n", Bytes(p.Memory.Params))
	fmt.Fprintf(w, "input %v output %v", p.Input, p.Output)
	if p.AuxOutput != nil {
		fmt.Fprintf(w, " aux %v", *p.AuxOutput)
	}
	fmt.Fprintln(w)
	for _, b := range p.Buffers {
		fmt.Fprintf(w, "buffer b%d %d\n", b.ID, b.Elems)
	}
	for _, s := range p.Launches {
		ins := make([]string, len(s.Inputs))
		for i, v := range s.Inputs {
			ins[i] = v.String()
		}
		ops := make([]string, len(s.Ops))
		for i, o := range s.Ops {
			ops[i] = ir.OpString(o.Kind, o.Attrs) + execTag(s, i)
		}
		arrow := "->"
		if s.Accumulate {
			arrow = "+->" // adds into its output
		}
		fmt.Fprintf(w, "s%d %s {%s} %s %s %v %v", s.ID, s.Kernel, strings.Join(ops, "; "), strings.Join(ins, ", "), arrow, s.Output, s.Output.Shape)
		if ps := paramList(s.Params); ps != "" {
			fmt.Fprintf(w, " p=%s", ps)
		}
		fmt.Fprintf(w, " %s", s.Scope)
		if s.Src != "" {
			fmt.Fprintf(w, " @%s", s.Src)
		}
		if len(s.Free) > 0 {
			fmt.Fprintf(w, " free=%v", s.Free)
		}
		fmt.Fprintln(w)
	}
	if len(p.Backward) > 0 {
		for _, b := range p.GradBuffers {
			fmt.Fprintf(w, "grad_buffer g%d %d\n", b.ID, b.Elems)
		}
		for _, gs := range p.Backward {
			ins := make([]string, len(gs.InGrads))
			for i, v := range gs.InGrads {
				switch {
				case v == nil:
					ins[i] = "-"
				case gs.Accumulate[i]:
					ins[i] = "+=" + gradName(*v)
				default:
					ins[i] = gradName(*v)
				}
			}
			fmt.Fprintf(w, "grad s%d %s -> %s\n", gs.Forward, gradName(gs.OutGrad), strings.Join(ins, ", "))
		}
	}
}

func gradName(v View) string { return "g" + strings.TrimPrefix(v.String(), "b") }

// paramList prints per-op parameter IDs compactly: ops separated by ';',
// ranges as a..b.
func paramList(ps [][]int) string {
	any := false
	parts := make([]string, len(ps))
	for i, ids := range ps {
		if len(ids) == 0 {
			parts[i] = "-"
			continue
		}
		any = true
		if len(ids) > 1 && ids[len(ids)-1]-ids[0] == len(ids)-1 {
			parts[i] = fmt.Sprintf("%d..%d", ids[0], ids[len(ids)-1])
		} else {
			strs := make([]string, len(ids))
			for j, id := range ids {
				strs[j] = fmt.Sprint(id)
			}
			parts[i] = strings.Join(strs, ",")
		}
	}
	if !any {
		return ""
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// JSON encodes the plan, indented, for tools and other runtimes.
func JSON(p *Plan) ([]byte, error) {
	return json.MarshalIndent(p, "", "  ")
}

// Bytes formats a byte count with a binary unit.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// execTag marks an op's Exec decision: [into next] for a ReLU the conv
// after it applies, [paired] for a depthwise conv the 1×1 conv after it
// computes per image, [in place] for a batch norm over its input.
func execTag(s Launch, i int) string {
	if i >= len(s.Exec) {
		return ""
	}
	switch x := s.Exec[i]; {
	case x.ReLUIntoNext:
		return " [into next]"
	case x.PairedIntoNext:
		return " [paired]"
	case x.InPlace:
		return " [in place]"
	}
	return ""
}
