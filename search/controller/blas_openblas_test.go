//go:build openblas

package controller

import (
	"testing"

	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestOpenBLAS: built with the openblas tag, gorgonia and its tensors
// multiply through OpenBLAS.
func TestOpenBLAS(t *testing.T) {
	if _, ok := gorgonia.WhichBLAS().(netlib.Implementation); !ok {
		t.Errorf("gorgonia's BLAS is %T, want netlib (OpenBLAS)", gorgonia.WhichBLAS())
	}
	if _, ok := tensor.WhichBLAS().(netlib.Implementation); !ok {
		t.Errorf("tensor's BLAS is %T, want netlib (OpenBLAS)", tensor.WhichBLAS())
	}
}
