//go:build openblas

package controller

// #cgo LDFLAGS: -lopenblas
import "C"

import (
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
)

// With the openblas build tag the controller's gorgonia graphs multiply
// through OpenBLAS as the runtime's kernels do (gorgonia.Use switches
// gorgonia.org/tensor's BLAS too). gorgonia keeps its BLAS in a package
// variable, so this is set once, when the program starts.
func init() { gorgonia.Use(netlib.Implementation{}) }
