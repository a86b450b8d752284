package kernels

import "math"

// Normalisation kernels: batch norm (split into a per-channel statistics
// pass and a per-image apply pass, so the executor can parallelise each
// across channels or images), layer norm over (C, H, W) and instance norm
// over (H, W). Sums are taken in float64 (the vector loops sum short
// blocks in float32 first); values stay float32.
//
// Batch norm's per-channel slices (mean, variance, sumDy, sumDyXhat,
// gamma, beta) have one value per channel of the whole tensor and are
// indexed by absolute channel, also by the kernels that work on a channel
// range [c0, c1).

// normSum64 is the float64 sum of v.
func normSum64(v []float32) float64 {
	i, s0 := vecSum(v)
	var s1, s2, s3 float64
	for ; i+4 <= len(v); i += 4 {
		s0 += float64(v[i])
		s1 += float64(v[i+1])
		s2 += float64(v[i+2])
		s3 += float64(v[i+3])
	}
	for ; i < len(v); i++ {
		s0 += float64(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// normSqDev64 is the float64 sum of (v-m)².
func normSqDev64(v []float32, m float64) float64 {
	i, s0 := vecSqDev(v, float32(m))
	var s1, s2, s3 float64
	for ; i+4 <= len(v); i += 4 {
		d0 := float64(v[i]) - m
		d1 := float64(v[i+1]) - m
		d2 := float64(v[i+2]) - m
		d3 := float64(v[i+3]) - m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(v); i++ {
		d := float64(v[i]) - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// normDyDev64 returns Σdy and Σdy·(x-m) in float64.
func normDyDev64(x, dy []float32, m float64) (sd, sdx float64) {
	dy = dy[:len(x)]
	i, a0, b0 := vecDyDev(x, dy, float32(m))
	var a1, b1 float64
	for ; i+2 <= len(x); i += 2 {
		g0, g1 := float64(dy[i]), float64(dy[i+1])
		a0 += g0
		a1 += g1
		b0 += g0 * (float64(x[i]) - m)
		b1 += g1 * (float64(x[i+1]) - m)
	}
	for ; i < len(x); i++ {
		g := float64(dy[i])
		a0 += g
		b0 += g * (float64(x[i]) - m)
	}
	return a0 + a1, b0 + b1
}

// normShiftedSums returns Σ(v-shift) and Σ(v-shift)² in float64.
func normShiftedSums(v []float32, shift float32) (s, q float64) {
	i, s, q := vecShiftedSums(v, shift)
	for ; i < len(v); i++ {
		d := float64(v[i]) - float64(shift)
		s += d
		q += d * d
	}
	return s, q
}

// normInvStd is 1/sqrt(variance+eps) in float64.
func normInvStd(variance, eps float32) float64 {
	return 1 / math.Sqrt(float64(variance)+float64(eps))
}

// normAffine writes y = (x-m)*a + b.
func normAffine(x []float32, m, a, b float32, y []float32) {
	y = y[:len(x)]
	n := vecAffine(x, m, a, b, y)
	x, y = x[n:], y[n:]
	for i, v := range x {
		y[i] = (v-m)*a + b
	}
}

// normBackApply writes or adds dx = a*dy + b*(x-m) + c.
func normBackApply(x, dy []float32, m, a, b, c float32, dx []float32, accumulate bool) {
	dy = dy[:len(x)]
	dx = dx[:len(x)]
	n := vecBackApply(x, dy, m, a, b, c, dx, accumulate)
	x, dy, dx = x[n:], dy[n:], dx[n:]
	if accumulate {
		for i, v := range x {
			dx[i] += a*dy[i] + b*(v-m) + c
		}
		return
	}
	for i, v := range x {
		dx[i] = a*dy[i] + b*(v-m) + c
	}
}

// BNStats computes, for channels [c0, c1), the mean and the biased
// variance of the batch x over all N images and H*W positions, writing
// mean[c] and variance[c]. It reads only those channels, so disjoint
// channel ranges can run in parallel.
func BNStats(x Tensor, c0, c1 int, mean, variance []float32) {
	hw := x.S.H * x.S.W
	cnt := float64(x.N * hw)
	if x.N == 0 || hw == 0 {
		return
	}
	for c := c0; c < c1; c++ {
		// One pass: sums of d = x - shift and d², shifted by one of the
		// channel's own values so that the variance does not come from
		// the difference of two large numbers.
		shift := x.Img(0)[c*hw]
		var s, q float64
		for n := 0; n < x.N; n++ {
			a, b := normShiftedSums(x.Img(n)[c*hw:c*hw+hw], shift)
			s += a
			q += b
		}
		d := s / cnt
		mean[c] = float32(float64(shift) + d)
		variance[c] = float32(max(q/cnt-d*d, 0))
	}
}

// ChannelMoments computes one image's per-channel mean and sum of
// squared deviations (M2) in float64, from sums shifted by each channel's
// first value. The executor calls it on a conv's output while the image
// is still in cache; MergeMoments then combines the images into the batch
// statistics BNStats would give.
func ChannelMoments(x []float32, s Shape, mean, m2 []float64) {
	hw := s.H * s.W
	if hw == 0 {
		return
	}
	for c := 0; c < s.C; c++ {
		plane := x[c*hw : c*hw+hw]
		shift := plane[0]
		sum, q := normShiftedSums(plane, shift)
		d := sum / float64(hw)
		mean[c] = float64(shift) + d
		m2[c] = max(q-sum*d, 0)
	}
}

// MergeMoments combines n images' ChannelMoments (image i's channel c at
// i*channels+c, each over count values) into the batch mean and biased
// variance per channel, merging pairwise in image order (Chan, Golub and
// LeVeque's update), so the result does not depend on which worker
// computed which image.
func MergeMoments(imgMean, imgM2 []float64, n, channels, count int, mean, variance []float32) {
	if n == 0 || count == 0 {
		return
	}
	for c := 0; c < channels; c++ {
		m, q, k := imgMean[c], imgM2[c], float64(count)
		for i := 1; i < n; i++ {
			mb, qb, kb := imgMean[i*channels+c], imgM2[i*channels+c], float64(count)
			d := mb - m
			t := k + kb
			m += d * kb / t
			q += qb + d*d*k*kb/t
			k = t
		}
		mean[c] = float32(m)
		variance[c] = float32(q / k)
	}
}

// BNForward normalises one image x of shape s with the given statistics:
// y = (x-mean)/sqrt(variance+eps)*gamma + beta per channel. Training
// passes the batch statistics of BNStats, inference the moving ones.
// y may alias x.
func BNForward(x []float32, s Shape, mean, variance, gamma, beta []float32, eps float32, y []float32) {
	hw := s.H * s.W
	for c := 0; c < s.C; c++ {
		a := float32(float64(gamma[c]) * normInvStd(variance[c], eps))
		normAffine(x[c*hw:c*hw+hw], mean[c], a, beta[c], y[c*hw:c*hw+hw])
	}
}

// BNBackwardSums computes, for channels [c0, c1), the batch sums the
// batch-statistics gradient needs: sumDy[c] = Σdy and sumDyXhat[c] =
// Σdy·xhat with xhat = (x-mean)/sqrt(variance+eps), over all images and
// positions. They are also the parameter gradients: dbeta = sumDy,
// dgamma = sumDyXhat. x and dy may have different strides.
func BNBackwardSums(x, dy Tensor, mean, variance []float32, eps float32, c0, c1 int, sumDy, sumDyXhat []float32) {
	for c := c0; c < c1; c++ {
		sd, sdx := bnDyDev(x, dy, c, float64(mean[c]))
		sumDy[c] = float32(sd)
		sumDyXhat[c] = float32(sdx * normInvStd(variance[c], eps))
	}
}

// bnDyDev returns Σdy and Σdy·(x-m) over channel c of every image.
func bnDyDev(x, dy Tensor, c int, m float64) (sd, sdx float64) {
	hw := x.S.H * x.S.W
	for n := 0; n < x.N; n++ {
		a, b := normDyDev64(x.Img(n)[c*hw:c*hw+hw], dy.Img(n)[c*hw:c*hw+hw], m)
		sd += a
		sdx += b
	}
	return sd, sdx
}

// BNBackward writes (or adds, when accumulate) the gradient with respect
// to one image x of a batch norm that used the batch's own statistics:
//
//	dx = gamma*invstd*(dy - sumDy/count - xhat*sumDyXhat/count)
//
// where count = N*H*W and the sums come from BNBackwardSums. With sumDy
// and sumDyXhat zero it is the gradient through fixed (moving) statistics,
// gamma*invstd*dy.
func BNBackward(x, dy []float32, s Shape, mean, variance, gamma []float32, eps float32, sumDy, sumDyXhat []float32, count int, dx []float32, accumulate bool) {
	hw := s.H * s.W
	cnt := float64(count)
	for c := 0; c < s.C; c++ {
		inv := normInvStd(variance[c], eps)
		k := float64(gamma[c]) * inv
		b := -k * inv * float64(sumDyXhat[c]) / cnt
		off := -k * float64(sumDy[c]) / cnt
		normBackApply(x[c*hw:c*hw+hw], dy[c*hw:c*hw+hw], mean[c], float32(k), float32(b), float32(off), dx[c*hw:c*hw+hw], accumulate)
	}
}

// Batch norm in place: a training batch norm may overwrite its input with
// its output y = x̂·gamma + beta and back-propagate from y, since
// x̂ = (y-beta)/gamma. That saves the pre-norm buffer; the price is
// rounding in x̂ where |gamma| is tiny next to |beta|, and no gradient
// for gamma while gamma is exactly 0 (x̂ is lost then).

// bnGammaFloor is the smallest |gamma| divided by when recovering x̂.
const bnGammaFloor = 1e-12

func bnSafeGamma(g float32) float64 {
	if math.Abs(float64(g)) < bnGammaFloor {
		return math.Copysign(bnGammaFloor, float64(g))
	}
	return float64(g)
}

// BNBackwardSumsFromOutput is BNBackwardSums computed from the output y
// of an in-place batch norm.
func BNBackwardSumsFromOutput(y, dy Tensor, gamma, beta []float32, c0, c1 int, sumDy, sumDyXhat []float32) {
	for c := c0; c < c1; c++ {
		sd, sdy := bnDyDev(y, dy, c, float64(beta[c]))
		sumDy[c] = float32(sd)
		sumDyXhat[c] = float32(sdy / bnSafeGamma(gamma[c]))
	}
}

// ChannelDyDev adds, for each channel c of one image, Σ dy to sum[c] and
// Σ dy·(x − shift[c]) to dev[c]: the batch norm backward sums of one
// image, for a caller that has it in cache (see BNSumsFromParts).
func ChannelDyDev(x, dy []float32, s Shape, shift []float32, sum, dev []float64) {
	hw := s.H * s.W
	for c := range s.C {
		a, b := normDyDev64(x[c*hw:(c+1)*hw], dy[c*hw:(c+1)*hw], float64(shift[c]))
		sum[c] += a
		dev[c] += b
	}
}

// BNSumsFromParts is BNBackwardSumsFromOutput from per-image parts that
// ChannelDyDev computed with shift beta: sum and dev hold n images' C
// values each (image i's channel c at i*C+c), added in image order.
func BNSumsFromParts(sum, dev []float64, n, C int, gamma []float32, c0, c1 int, sumDy, sumDyXhat []float32) {
	for c := c0; c < c1; c++ {
		var sd, sdx float64
		for i := range n {
			sd += sum[i*C+c]
			sdx += dev[i*C+c]
		}
		sumDy[c] = float32(sd)
		sumDyXhat[c] = float32(sdx / bnSafeGamma(gamma[c]))
	}
}

// BNBackwardFromOutput is BNBackward computed from the output y of an
// in-place batch norm: dx = k·dy - k·sumDy/count - k·sumDyXhat/count·x̂
// with k = gamma·invstd and x̂ = (y-beta)/gamma.
func BNBackwardFromOutput(y, dy []float32, s Shape, variance, gamma, beta []float32, eps float32, sumDy, sumDyXhat []float32, count int, dx []float32, accumulate bool) {
	hw := s.H * s.W
	cnt := float64(count)
	for c := 0; c < s.C; c++ {
		k := float64(gamma[c]) * normInvStd(variance[c], eps)
		b := -k * float64(sumDyXhat[c]) / (cnt * bnSafeGamma(gamma[c]))
		off := -k * float64(sumDy[c]) / cnt
		normBackApply(y[c*hw:c*hw+hw], dy[c*hw:c*hw+hw], beta[c], float32(k), float32(b), float32(off), dx[c*hw:c*hw+hw], accumulate)
	}
}

// UpdateMoving moves a moving average towards a batch value:
// moving = decay*moving + (1-decay)*batch, computed as TensorFlow's
// assign_moving_average does (moving -= (moving-batch)*(1-decay)).
func UpdateMoving(moving, batch []float32, decay float32) {
	batch = batch[:len(moving)]
	f := 1 - decay
	for i, m := range moving {
		moving[i] = m - (m-batch[i])*f
	}
}

// UpdateMovingVariance is UpdateMoving for a variance, applying Bessel's
// correction count/(count-1) to the biased batch variance first, as
// TensorFlow's fused batch norm does for the variance it feeds the moving
// average (count = N*H*W; no correction when count < 2).
func UpdateMovingVariance(moving, batchVar []float32, decay float32, count int) {
	batchVar = batchVar[:len(moving)]
	adj := float32(1)
	if count > 1 {
		adj = float32(float64(count) / float64(count-1))
	}
	f := 1 - decay
	for i, m := range moving {
		moving[i] = m - (m-batchVar[i]*adj)*f
	}
}

// LayerNormForward normalises one image over all of (C, H, W) and applies
// per-channel gamma and beta. stats (len 2) receives the mean and the
// inverse standard deviation for LayerNormBackward. y may alias x.
func LayerNormForward(x []float32, s Shape, gamma, beta []float32, eps float32, y, stats []float32) {
	n := s.Elems()
	x = x[:n]
	m := normSum64(x) / float64(n)
	inv := 1 / math.Sqrt(normSqDev64(x, m)/float64(n)+float64(eps))
	mf, invf := float32(m), float32(inv)
	stats[0], stats[1] = mf, invf
	hw := s.H * s.W
	for c := 0; c < s.C; c++ {
		normAffine(x[c*hw:c*hw+hw], mf, gamma[c]*invf, beta[c], y[c*hw:c*hw+hw])
	}
}

// LayerNormBackward writes (or adds, when accumulate) the gradient with
// respect to one image x, given dy and the stats of LayerNormForward, and
// always adds the image's contribution to dgamma and dbeta (per channel;
// either may be nil to skip it).
func LayerNormBackward(x []float32, s Shape, gamma, dy, stats, dx []float32, accumulate bool, dgamma, dbeta []float32) {
	n := s.Elems()
	hw := s.H * s.W
	mf, invf := stats[0], stats[1]
	m, inv := float64(mf), float64(invf)
	// g = gamma*dy; dx = inv*(g - mean(g) - xhat*mean(g*xhat)).
	var g1, g2 float64
	for c := 0; c < s.C; c++ {
		sd, sdx := normDyDev64(x[c*hw:c*hw+hw], dy[c*hw:c*hw+hw], m)
		sdx *= inv
		if dbeta != nil {
			dbeta[c] += float32(sd)
		}
		if dgamma != nil {
			dgamma[c] += float32(sdx)
		}
		g1 += float64(gamma[c]) * sd
		g2 += float64(gamma[c]) * sdx
	}
	g1 /= float64(n)
	g2 /= float64(n)
	b := float32(-inv * inv * g2)
	off := float32(-inv * g1)
	for c := 0; c < s.C; c++ {
		normBackApply(x[c*hw:c*hw+hw], dy[c*hw:c*hw+hw], mf, gamma[c]*invf, b, off, dx[c*hw:c*hw+hw], accumulate)
	}
}

// InstanceNormForward normalises each channel of one image over (H, W)
// and applies per-channel gamma and beta. stats (len 2*C) receives the
// means in stats[:C] and the inverse standard deviations in stats[C:].
// y may alias x.
func InstanceNormForward(x []float32, s Shape, gamma, beta []float32, eps float32, y, stats []float32) {
	hw := s.H * s.W
	for c := 0; c < s.C; c++ {
		xc := x[c*hw : c*hw+hw]
		m := normSum64(xc) / float64(hw)
		inv := 1 / math.Sqrt(normSqDev64(xc, m)/float64(hw)+float64(eps))
		mf, invf := float32(m), float32(inv)
		stats[c], stats[s.C+c] = mf, invf
		normAffine(xc, mf, gamma[c]*invf, beta[c], y[c*hw:c*hw+hw])
	}
}

// InstanceNormBackward is LayerNormBackward for InstanceNormForward.
func InstanceNormBackward(x []float32, s Shape, gamma, dy, stats, dx []float32, accumulate bool, dgamma, dbeta []float32) {
	hw := s.H * s.W
	cnt := float64(hw)
	for c := 0; c < s.C; c++ {
		xc, dyc := x[c*hw:c*hw+hw], dy[c*hw:c*hw+hw]
		mf, invf := stats[c], stats[s.C+c]
		inv := float64(invf)
		sd, sdx := normDyDev64(xc, dyc, float64(mf))
		sdx *= inv
		if dbeta != nil {
			dbeta[c] += float32(sd)
		}
		if dgamma != nil {
			dgamma[c] += float32(sdx)
		}
		k := float64(gamma[c]) * inv
		b := float32(-k * inv * sdx / cnt)
		off := float32(-k * sd / cnt)
		normBackApply(xc, dyc, mf, float32(k), b, off, dx[c*hw:c*hw+hw], accumulate)
	}
}
