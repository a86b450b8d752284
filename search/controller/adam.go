package controller

import "math"

// Adam is the Adam optimizer (Kingma & Ba 2015) over a flat parameter
// vector, in plain Go so that its state (the moments and the step count)
// can be saved and restored exactly.
type Adam struct {
	LR, Beta1, Beta2, Epsilon float64
	M, V                      []float64 // first and second moments
	T                         int       // steps taken
}

// NewAdam makes Adam for n parameters with the usual betas (0.9, 0.999)
// and epsilon 1e-8.
func NewAdam(n int, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, M: make([]float64, n), V: make([]float64, n)}
}

// Step moves params against grad.
func (a *Adam) Step(params, grad []float64) {
	a.T++
	c1 := 1 - math.Pow(a.Beta1, float64(a.T))
	c2 := 1 - math.Pow(a.Beta2, float64(a.T))
	for i, g := range grad {
		a.M[i] = a.Beta1*a.M[i] + (1-a.Beta1)*g
		a.V[i] = a.Beta2*a.V[i] + (1-a.Beta2)*g*g
		params[i] -= a.LR * (a.M[i] / c1) / (math.Sqrt(a.V[i]/c2) + a.Epsilon)
	}
}
