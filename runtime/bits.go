package runtime

import (
	"bytes"
	"unsafe"
)

// sameBits reports whether a and b hold the same float32 bit patterns
// (NaNs included, which == would call different), through the runtime's
// vectorised memory compare: packWeights compares 13 MiB of weights per
// pass, which a float loop would compare one value at a time.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	return bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a)), unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 4*len(b)))
}
