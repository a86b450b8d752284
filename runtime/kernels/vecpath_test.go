package kernels

import "testing"

// vecPaths is the kernel paths (Conv.Vec, Pool.Vec) this CPU and build
// run: VecGo always, then AVX2 and AVX-512 where either the tile kernel
// or the tap loops have them. The tests run each, so that one machine
// checks every path it can; the rest are skipped with a message.
func vecPaths(t testing.TB) []Vec {
	t.Helper()
	paths := []Vec{VecGo}
	for _, v := range []Vec{VecAVX2, VecAVX512} {
		if tileVec(v) != v && loopVec(v) != v {
			t.Logf("no %s on this CPU (or build): its paths are not checked", v)
			continue
		}
		paths = append(paths, v)
	}
	return paths
}

// onPaths is cs once per path of vecPaths, each case named for its path.
func onPaths(t testing.TB, cs []convCase) []convCase {
	t.Helper()
	var out []convCase
	for _, v := range vecPaths(t) {
		for _, tc := range cs {
			if tc.name == "" {
				tc.name = tc.String()
			}
			tc.name = v.String() + "/" + tc.name
			tc.c.Vec = v
			out = append(out, tc)
		}
	}
	return out
}
