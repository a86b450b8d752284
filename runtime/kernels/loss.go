package kernels

import "math"

// SoftmaxCrossEntropy is the mean softmax cross-entropy of a contiguous
// [n, k] batch of logits against labels (each in [0, k)), with TF-style
// label smoothing: targets = onehot*(1-smoothing) + smoothing/k. It
// returns the loss, and how many labels are the top-1 and among the
// top-5 predictions (TF in_top_k: a label is in the top j when fewer than
// j logits are strictly larger than its own, so ties count in its favour;
// a non-finite logit never counts; with k <= 5 every finite label counts
// for top-5).
//
// If dlogits is not nil (len n*k) it receives the gradient of scale*loss:
// scale*(softmax - targets)/n. dlogits may alias logits.
func SoftmaxCrossEntropy(logits []float32, n, k int, labels []int, smoothing float32, dlogits []float32, scale float32) (loss float64, correct1, correct5 int) {
	sm := float64(smoothing)
	off := sm / float64(k) // smoothing mass per class
	g := float64(scale) / float64(n)
	for i := 0; i < n; i++ {
		z := logits[i*k : i*k+k]
		label := labels[i]
		zl := z[label]
		m := float64(z[0])
		var sumz float64
		rank := 0
		for _, v := range z {
			if float64(v) > m {
				m = float64(v)
			}
			sumz += float64(v)
			if v > zl {
				rank++
			}
		}
		var d []float32
		if dlogits != nil {
			d = dlogits[i*k : i*k+k]
		}
		var se float64
		for j, v := range z {
			e := math.Exp(float64(v) - m)
			se += e
			if d != nil {
				d[j] = float32(e)
			}
		}
		lse := m + math.Log(se)
		loss += lse - (1-sm)*float64(zl) - off*sumz
		if !math.IsInf(float64(zl), 0) && !math.IsNaN(float64(zl)) {
			if rank < 1 {
				correct1++
			}
			if rank < 5 {
				correct5++
			}
		}
		if d != nil {
			inv := 1 / se
			for j := range d {
				t := off
				if j == label {
					t += 1 - sm
				}
				d[j] = float32(g * (float64(d[j])*inv - t))
			}
		}
	}
	return loss / float64(n), correct1, correct5
}

// TopK writes into idx[:k] the indices of the k largest logits (one
// image's class scores), largest first; equal logits keep index order.
// k is capped at len(logits); len(idx) must be at least k.
func TopK(logits []float32, k int, idx []int) {
	k = min(k, len(logits))
	if k <= 0 {
		return
	}
	idx = idx[:k]
	m := 0 // filled entries
	for i, v := range logits {
		if m == k && !(v > logits[idx[k-1]]) {
			continue
		}
		j := min(m, k-1)
		for j > 0 && v > logits[idx[j-1]] {
			idx[j] = idx[j-1]
			j--
		}
		idx[j] = i
		if m < k {
			m++
		}
	}
}
