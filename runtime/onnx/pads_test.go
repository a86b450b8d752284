package onnx

import (
	"slices"
	"testing"

	"cellc/compiler/ir"
)

// TestSamePads checks TF's SAME padding as ONNX pads, including the
// asymmetric cases found before export existed.
func TestSamePads(t *testing.T) {
	for _, c := range []struct {
		in   ir.Shape
		a    ir.Attrs
		want []int64
	}{
		{ir.Shape{C: 1, H: 8, W: 8}, ir.Attrs{KH: 3, KW: 3, Stride: 2, Dilation: 1, Pad: ir.Same}, []int64{0, 0, 1, 1}},
		{ir.Shape{C: 1, H: 8, W: 8}, ir.Attrs{KH: 5, KW: 5, Stride: 2, Dilation: 2, Pad: ir.Same}, []int64{3, 3, 4, 4}},
		{ir.Shape{C: 1, H: 8, W: 8}, ir.Attrs{KH: 3, KW: 3, Stride: 1, Dilation: 1, Pad: ir.Same}, []int64{1, 1, 1, 1}},
		{ir.Shape{C: 1, H: 7, W: 7}, ir.Attrs{KH: 3, KW: 3, Stride: 2, Dilation: 1, Pad: ir.Same}, []int64{1, 1, 1, 1}},
		{ir.Shape{C: 1, H: 8, W: 6}, ir.Attrs{KH: 1, KW: 7, Stride: 1, Dilation: 1, Pad: ir.Same}, []int64{0, 3, 0, 3}},
		{ir.Shape{C: 1, H: 8, W: 8}, ir.Attrs{KH: 1, KW: 1, Stride: 2, Dilation: 1, Pad: ir.Same}, []int64{0, 0, 0, 0}},
		{ir.Shape{C: 1, H: 8, W: 8}, ir.Attrs{KH: 3, KW: 3, Stride: 2, Dilation: 1, Pad: ir.Valid}, []int64{0, 0, 0, 0}},
	} {
		if got := pads(c.in, c.a); !slices.Equal(got, c.want) {
			t.Errorf("%dx%d stride %d dilation %d %s on %dx%d: pads %v, want %v", c.a.KH, c.a.KW, c.a.Stride, c.a.Dilation, c.a.Pad, c.in.H, c.in.W, got, c.want)
		}
	}
}
