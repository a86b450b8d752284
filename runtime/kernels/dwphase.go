package kernels

// Strided depthwise convolutions (the first conv of a reduction cell's
// separable ops) run on phase planes: the zero-padded input split by
// (row mod s, column mod s) into s² planes. Tap (kh, kw) of output pixel
// (oh, ow) reads padded pixel (oh·s + kh·d, ow·s + kw·d), which is pixel
// (oh + qh, ow + qw) of phase (a, b), where kh·d = qh·s + a and
// kw·d = qw·s + b. Within one phase the taps are a stride-1 convolution,
// so the flat vector loops of dwplane.go run them. The input gradient
// goes the other way: per phase, a stride-1 gather over the padded output
// gradient with the phase's taps rotated, then a scatter back into dx.

// dwPhases sizes the phase planes of a strided depthwise conv.
type dwPhases struct {
	s        int
	hq, wq   int // phase plane height and width (the forward's row width)
	qh, qw   int // largest tap offsets within a phase
	wd       int // row width of the input-gradient planes: wq + qw
	phaseLen int // floats in one phase plane
}

func dwPhasesOf(g convGeom) dwPhases {
	s := g.s
	ph := dwPhases{s: s, qh: (g.kh - 1) * g.d / s, qw: (g.kw - 1) * g.d / s}
	// Every padded pixel any output reads lies in a phase plane, and every
	// input pixel too (the input gradient scatters from them).
	ph.hq = max(g.oh+ph.qh, (g.pt+g.h+s-1)/s)
	ph.wq = max(g.ow+ph.qw, (g.pl+g.w+s-1)/s)
	ph.wd = ph.wq + ph.qw
	ph.phaseLen = ph.hq * ph.wq
	return ph
}

// scratch is the floats the forward and backward passes need: the s²
// phase planes and a flat output at their row width, or, for the input
// gradient, the padded dy plane and a flat phase gradient.
func (ph dwPhases) scratch(g convGeom) int {
	fwd := ph.s*ph.s*ph.phaseLen + g.oh*ph.wq + vecSlack
	dx := (ph.hq+ph.qh)*ph.wd + ph.hq*ph.wd
	return max(fwd, dx)
}

// split writes the s² phase planes of channel plane x (h×w), padded by
// pt rows and pl columns, into planes; relu rectifies x on the way. With
// padded, planes already hold the previous channel's split, whose
// padding (the same for every channel) is not cleared again.
func (ph dwPhases) split(g convGeom, x, planes []float32, relu, padded bool) {
	s := ph.s
	for a := range s {
		for b := range s {
			p := planes[(a*s+b)*ph.phaseLen : (a*s+b+1)*ph.phaseLen]
			// Phase columns c read input column c·s+b-pl, inside the
			// row for c in [c0, c1).
			c0 := min(max((g.pl-b+s-1)/s, 0), ph.wq)
			c1 := min(max((g.pl-b+g.w+s-1)/s, c0), ph.wq)
			for r := range ph.hq {
				row := p[r*ph.wq : (r+1)*ph.wq]
				ih := r*s + a - g.pt
				if ih < 0 || ih >= g.h {
					if !padded {
						clear(row)
					}
					continue
				}
				if !padded {
					clear(row[:c0])
					clear(row[c1:])
				}
				if c0 == c1 {
					continue
				}
				xr := x[ih*g.w+c0*s+b-g.pl : (ih+1)*g.w]
				in := row[c0:c1]
				k := 0
				if s == 2 {
					// The vectors also read the odd values after the row's
					// end (the next row's, or none past the plane's end),
					// and drop them.
					k = vecStride2(in, x[ih*g.w+c0*s+b-g.pl:], relu)
				}
				if relu {
					for c := k; c < len(in); c++ {
						in[c] = max(xr[c*s], 0)
					}
				} else {
					for c := k; c < len(in); c++ {
						in[c] = xr[c*s]
					}
				}
			}
		}
	}
}

// phaseRun is a run of up to five taps of kernel row kh that fall in
// one phase (a, b), in increasing kw: they read that phase plane at row
// offset qh and column offsets q, q+dq, ... (dq = d/gcd(s, d)); their
// weights are kw0, kw0+kwStep, ... in the kernel row.
type phaseRun struct {
	kh, a, qh    int
	kw0, b, q, n int
	kwStep       int
}

// phaseRuns lists the runs of every kernel row into runs (up to 64 of
// them: a 7×7 kernel at stride 2 has 4 per row).
func (ph dwPhases) phaseRuns(g convGeom, runs []phaseRun) []phaseRun {
	s, d := ph.s, g.d
	step := s / gcd(s, d)
	runs = runs[:0]
	for kh := range g.kh {
		for b := range min(s, g.kw*d) {
			var kws [16]int
			k := 0
			for kw := range g.kw {
				if kw*d%s == b && k < len(kws) {
					kws[k] = kw
					k++
				}
			}
			for i := 0; i < k; {
				n := min(k-i, 5)
				if k-i > 5 {
					n = 4
				}
				runs = append(runs, phaseRun{kh: kh, a: kh * d % s, qh: kh * d / s, kw0: kws[i], b: b, q: kws[i] * d / s, n: n, kwStep: step})
				i += n
			}
		}
	}
	return runs
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// convDWPhaseForward is the strided depthwise forward pass.
func convDWPhaseForward(g convGeom, ch int, x, w, bias []float32, y dwDest, scratch []float32, relu bool) {
	ph := dwPhasesOf(g)
	s := ph.s
	planes := scratch[:s*s*ph.phaseLen]
	yf := scratch[s*s*ph.phaseLen:]
	hw, kk := g.h*g.w, g.kh*g.kw
	l := flatLen(g.oh, g.ow, ph.wq)
	dq := g.d / gcd(s, g.d)
	var wb [5]float32
	var runBuf [64]phaseRun
	runs := ph.phaseRuns(g, runBuf[:0])
	for c := range ch {
		if l == 0 {
			continue
		}
		b := float32(0)
		if bias != nil {
			b = bias[c]
		}
		ph.split(g, x[c*hw:(c+1)*hw], planes, relu, c > 0)
		wk := w[c*kk : (c+1)*kk]
		for i, r := range runs {
			for i := range r.n {
				wb[i] = wk[r.kh*g.kw+r.kw0+i*r.kwStep]
			}
			plane := planes[(r.a*s+r.b)*ph.phaseLen:]
			// Whole vectors (vecLen): the values past l are dropped, and
			// so is whatever they read past the last phase plane.
			fusedTaps(g.vec, yf[:vecLen(l)], plane[r.qh*ph.wq+r.q:], wb[:r.n], dq, i == 0, b)
		}
		y.put(c, ch, yf, g.oh, g.ow, ph.wq)
	}
}

// convDWPhaseBackward is the strided depthwise backward pass; a fused
// ReLU is handled as in convDWPlaneBackward.
func convDWPhaseBackward(g convGeom, ch int, x, w, dy, dx []float32, accumulateDX bool, dw, dbias, scratch []float32, relu bool) {
	ph := dwPhasesOf(g)
	s := ph.s
	hw, p, kk := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	lo := flatLen(g.oh, g.ow, ph.wq)
	dq := g.d / gcd(s, g.d)
	if dx != nil && !accumulateDX && (!relu || lo == 0) {
		clear(dx[:ch*hw])
	}
	var wb [5]float32
	var runBuf [64]phaseRun
	runs := ph.phaseRuns(g, runBuf[:0])
	for c := range ch {
		dyp := dy[c*p : (c+1)*p]
		if dbias != nil {
			dbias[c] += convSum(dyp)
		}
		if lo == 0 {
			continue
		}
		if dw != nil {
			planes := scratch[:s*s*ph.phaseLen]
			dyf := scratch[s*s*ph.phaseLen:][:g.oh*ph.wq]
			ph.split(g, x[c*hw:(c+1)*hw], planes, relu, false)
			padPlane(dyf, dyp, g.oh, g.ow, 0, 0, ph.wq, false, false) // inputGrad below reuses this scratch
			dwk := dw[c*kk : (c+1)*kk]
			for _, r := range runs {
				wb = [5]float32{}
				plane := planes[(r.a*s+r.b)*ph.phaseLen:]
				fusedTapDots(g.vec, dyf[:lo], plane[r.qh*ph.wq+r.q:], wb[:r.n], dq)
				for i := range r.n {
					dwk[r.kh*g.kw+r.kw0+i*r.kwStep] += wb[i]
				}
			}
		}
		if dx != nil && relu {
			t := scratch[ph.scratch(g):][:hw]
			clear(t)
			ph.inputGrad(g, dyp, w[c*kk:(c+1)*kk], t, scratch, runs)
			ReLUBackward(x[c*hw:(c+1)*hw], t, dx[c*hw:(c+1)*hw], accumulateDX)
		} else if dx != nil {
			ph.inputGrad(g, dyp, w[c*kk:(c+1)*kk], dx[c*hw:(c+1)*hw], scratch, runs)
		}
	}
}

// inputGrad adds one channel's input gradient to dxc: for each phase, the
// phase's taps rotated and gathered over dy padded by (qh, qw), then
// scattered back to the input pixels of that phase.
func (ph dwPhases) inputGrad(g convGeom, dyp, wk, dxc, scratch []float32, runs []phaseRun) {
	s := ph.s
	dn := (ph.hq + ph.qh) * ph.wd
	dq, dpf := scratch[:dn], scratch[dn:dn+ph.hq*ph.wd]
	padPlane(dq, dyp, g.oh, g.ow, ph.qh, ph.qw, ph.wd, false, false) // the weight gradient's planes share this scratch
	l := flatLen(ph.hq, ph.wq, ph.wd)
	d := g.d / gcd(s, g.d)
	var wb [5]float32
	for a := range s {
		for b := range s {
			any := false
			for _, r := range runs {
				if r.a != a || r.b != b {
					continue
				}
				// Rotated: the run's last tap has the smallest offset
				// (qh-qh_t, qw-q_t) into the padded dy.
				qLast := r.q + (r.n-1)*d
				for i := range r.n {
					wb[i] = wk[r.kh*g.kw+r.kw0+(r.n-1-i)*r.kwStep]
				}
				off := (ph.qh-r.qh)*ph.wd + ph.qw - qLast
				fusedTaps(g.vec, dpf[:l], dq[off:], wb[:r.n], d, !any, 0)
				any = true
			}
			if !any {
				continue
			}
			// Scatter: phase pixel (r, c) is input pixel (r·s+a-pt, c·s+b-pl),
			// inside the row for c in [c0, c1).
			c0 := min(max((g.pl-b+s-1)/s, 0), ph.wq)
			c1 := min(max((g.pl-b+g.w+s-1)/s, c0), ph.wq)
			if c0 == c1 {
				continue
			}
			for r := range ph.hq {
				ih := r*s + a - g.pt
				if ih < 0 || ih >= g.h {
					continue
				}
				src := dpf[r*ph.wd+c0 : r*ph.wd+c1]
				dst := dxc[ih*g.w+c0*s+b-g.pl : (ih+1)*g.w]
				_ = dst[(len(src)-1)*s]
				for c, v := range src {
					dst[c*s] += v
				}
			}
		}
	}
}
