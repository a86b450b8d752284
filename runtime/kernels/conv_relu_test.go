package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestConvFusedReLU checks every conv path with a fused ReLU against the
// naive reference run on max(x, 0), with the input gradient masked by
// x > 0: forward, backward (dx written and accumulated, dw, dbias), and
// dx alone. Scratch starts as NaNs, so a path that reads scratch it did
// not write shows.
func TestConvFusedReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range allCases(t) {
		name := tc.name
		if name == "" {
			name = tc.String()
		}
		t.Run(name, func(t *testing.T) {
			c := tc.c
			c.ReLU = true
			x := randSlice(r, tc.in.Elems())
			rx := make([]float32, len(x))
			ReLUForward(x, rx)
			w := randSlice(r, weightLen(c, tc.in))
			out := c.Out(tc.in)
			b := randSlice(r, out.C)
			ref := newConvRef(tc, rx, w, b)
			want, mag := ref.forward()
			y := nanSlice(out.Elems())
			ConvForward(c, x, tc.in, w, b, y, nanSlice(c.ScratchLen(tc.in)))
			checkClose(t, "y", y, want, mag)
			checkPackedForward(t, c, tc.in, x, w, b, want, mag)

			dy := randSlice(r, out.Elems())
			g := ref.backward(dy)
			wantDX := make([]float64, len(x))
			for i, v := range x {
				if v > 0 {
					wantDX[i] = g.dx[i]
				}
			}
			dx := nanSlice(len(x))
			dw := make([]float32, len(w))
			db := make([]float32, out.C)
			ConvBackward(c, x, tc.in, w, dy, dx, false, dw, db, nanSlice(c.ScratchLen(tc.in)))
			checkClose(t, "dx", dx, wantDX, g.dxMag)
			checkClose(t, "dw", dw, g.dw, g.dwMag)
			checkClose(t, "dbias", db, g.db, g.dbMag)
			checkPackedDX(t, c, tc.in, x, w, dy, wantDX, g.dxMag)

			acc := randSlice(r, len(x))
			wantAcc := make([]float64, len(x))
			for i := range acc {
				wantAcc[i] = float64(acc[i]) + wantDX[i]
			}
			ConvBackward(c, x, tc.in, w, dy, acc, true, nil, nil, nanSlice(c.ScratchLen(tc.in)))
			checkClose(t, "dx accumulated", acc, wantAcc, g.dxMag)
		})
	}
}
