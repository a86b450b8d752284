package data

import "math/bits"

// rng is SplitMix64: tiny, fast, and defined here so that shuffles and
// augmentations stay the same across Go releases (math/rand/v2 promises
// stable generators, not stable helper methods).
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// mix64 is SplitMix64's finaliser, a bijective 64-bit hash.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// seedOf hashes a stream tag and a few numbers into one seed.
func seedOf(seed, stream uint64, xs ...uint64) uint64 {
	h := mix64(seed + 0x9e3779b97f4a7c15)
	h = mix64(h ^ stream)
	for _, x := range xs {
		h = mix64(h + 0x9e3779b97f4a7c15 ^ x)
	}
	return h
}

// intn returns a uniform value in [0, n) for n > 0 (Lemire's multiply-high;
// the bias for n far below 2^64 is negligible).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float32 { return float32(r.next()>>40) / (1 << 24) }

// normal4 returns an approximately standard normal value: the sum of four
// 16-bit uniforms, centred and scaled to unit variance (Irwin–Hall). One
// generator call per value keeps synthetic data cheap.
func (r *rng) normal4() float32 {
	v := r.next()
	s := float32(v&0xffff) + float32(v>>16&0xffff) + float32(v>>32&0xffff) + float32(v>>48)
	const sqrt3 = 1.7320508
	return (s/65536 - 2) * sqrt3
}

// perm returns a random permutation of [0, n) as int32.
func (r *rng) perm(n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Stream tags keep the different uses of one seed independent.
const (
	streamShuffle uint64 = iota + 1
	streamAugment
	streamSplit
	streamPattern
	streamNoise
)
