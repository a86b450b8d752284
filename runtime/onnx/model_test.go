package onnx_test

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"cellc/compiler/plan"
	"cellc/runtime/onnx"
)

// TestModelStructure reads exported models back with protowire alone (no
// outside tools) and checks what the issue found ONNX Runtime needs: IR
// version 8 and opset 17, a symbolic batch, metadata sorted, every value
// defined once and before use, Slice before every Pad (never a Pad into a
// pool), count_include_pad=0 on every AveragePool and epsilon on every
// norm.
func TestModelStructure(t *testing.T) {
	specs, _ := filepath.Glob("../../specs/*.cell")
	for _, spec := range append(specs, "testdata/edges.cell") {
		for _, fold := range []bool{true, false} {
			name := filepath.Base(spec)
			if !fold {
				name += "/nofold"
			}
			t.Run(name, func(t *testing.T) {
				res := buildSmall(t, spec, nil)
				p, err := onnx.InferencePlan(res, fold)
				if err != nil {
					t.Fatal(err)
				}
				w, err := onnx.Weights(p, trainedParams(t, res).Lookup, 1e-3)
				if err != nil {
					t.Fatal(err)
				}
				data, err := onnx.Export(p, w.Value, onnx.Options{Epsilon: 1e-3, Metadata: map[string]string{"b": "2", "a": "1"}})
				if err != nil {
					t.Fatal(err)
				}
				checkModel(t, decode(t, data), p, fold)
			})
		}
	}
}

func checkModel(t *testing.T, m message, p *plan.Plan, fold bool) {
	if got := m.int(1); got != onnx.IRVersion {
		t.Errorf("ir_version %d", got)
	}
	op := m.msg(t, 8)
	if op.str(1) != "" || op.int(2) != onnx.Opset {
		t.Errorf("opset_import %q %d", op.str(1), op.int(2))
	}
	var keys []string
	for _, e := range m.msgs(t, 14) {
		keys = append(keys, e.str(1))
	}
	if !slices.Equal(keys, []string{"a", "b"}) {
		t.Errorf("metadata keys %v", keys)
	}
	g := m.msg(t, 7)
	in, out := g.msgs(t, 11), g.msgs(t, 12)
	if len(in) != 1 || len(out) != 1 {
		t.Fatalf("%d inputs, %d outputs", len(in), len(out))
	}
	s := p.Input.Shape
	if got := dims(t, in[0]); in[0].str(1) != onnx.InputName || !slices.Equal(got, []string{onnx.BatchDim, itoa(s.C), itoa(s.H), itoa(s.W)}) {
		t.Errorf("input %s %v", in[0].str(1), got)
	}
	if got := dims(t, out[0]); out[0].str(1) != onnx.OutputName || !slices.Equal(got, []string{onnx.BatchDim, itoa(p.Output.Shape.C)}) {
		t.Errorf("output %s %v", out[0].str(1), got)
	}
	defined := map[string]string{onnx.InputName: "input"}
	for _, init := range g.msgs(t, 5) {
		defined[init.str(8)] = "initializer"
	}
	ops := map[string]int{}
	for _, n := range g.msgs(t, 1) {
		typ := n.str(4)
		ops[typ]++
		attrs := map[string]message{}
		for _, a := range n.msgs(t, 5) {
			attrs[a.str(1)] = a
		}
		for i, v := range n.strs(1) {
			if defined[v] == "" {
				t.Errorf("node %s (%s) reads %q before anything defines it", n.str(3), typ, v)
			}
			if typ == "Pad" && i == 0 && defined[v] != "Slice" {
				t.Errorf("Pad %s pads %s's output; the shift must be Slice then Pad", n.str(3), defined[v])
			}
		}
		for _, v := range n.strs(2) {
			if defined[v] != "" {
				t.Errorf("%q is defined twice", v)
			}
			defined[v] = typ
		}
		switch typ {
		case "AveragePool":
			if a, ok := attrs["count_include_pad"]; !ok || a.int(3) != 0 {
				t.Errorf("AveragePool %s: count_include_pad must be written as 0", n.str(3))
			}
		case "BatchNormalization", "InstanceNormalization":
			if _, ok := attrs["epsilon"]; !ok {
				t.Errorf("%s %s has no epsilon", typ, n.str(3))
			}
		}
	}
	if defined[onnx.OutputName] == "" {
		t.Errorf("nothing defines %s", onnx.OutputName)
	}
	if !fold && ops["BatchNormalization"] == 0 {
		t.Errorf("--no-fold export has no BatchNormalization: %v", ops)
	}
	if fold {
		var bns int
		for _, st := range p.Launches {
			for _, o := range st.Ops {
				if o.Kind == "bn" {
					bns++
				}
			}
		}
		if ops["BatchNormalization"] != bns {
			t.Errorf("%d BatchNormalization nodes for the plan's %d unfolded batch norms", ops["BatchNormalization"], bns)
		}
	}
}

// message is a decoded protobuf message: each field's values, varints as
// uint64 and length-delimited fields as []byte.
type message map[protowire.Number][]any

func decode(t *testing.T, b []byte) message {
	t.Helper()
	m := message{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v any
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			v, n = protowire.ConsumeFixed32(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		m[num] = append(m[num], v)
		b = b[n:]
	}
	return m
}

func (m message) int(num protowire.Number) int64 {
	if len(m[num]) == 0 {
		return 0
	}
	return int64(m[num][0].(uint64))
}

func (m message) str(num protowire.Number) string {
	if len(m[num]) == 0 {
		return ""
	}
	return string(m[num][0].([]byte))
}

func (m message) strs(num protowire.Number) []string {
	var out []string
	for _, v := range m[num] {
		out = append(out, string(v.([]byte)))
	}
	return out
}

func (m message) msgs(t *testing.T, num protowire.Number) []message {
	var out []message
	for _, v := range m[num] {
		out = append(out, decode(t, v.([]byte)))
	}
	return out
}

func (m message) msg(t *testing.T, num protowire.Number) message {
	ms := m.msgs(t, num)
	if len(ms) != 1 {
		t.Fatalf("field %d occurs %d times", num, len(ms))
	}
	return ms[0]
}

// dims is a ValueInfoProto's shape: sizes, or the symbolic names.
func dims(t *testing.T, v message) []string {
	shape := v.msg(t, 2).msg(t, 1).msg(t, 2)
	var out []string
	for _, d := range shape.msgs(t, 1) {
		if p := d.str(2); p != "" {
			out = append(out, p)
		} else {
			out = append(out, itoa(int(d.int(1))))
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
