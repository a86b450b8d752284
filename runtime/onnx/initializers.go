package onnx

import "fmt"

// The graph's initializers: the plan's parameters under their plan names,
// and the small int64 and float constants some ops take as inputs (opset
// 17 passes Slice's and Pad's arguments as tensors, not attributes).

// param adds parameter id as an initializer named as the plan names it,
// with its plan dims or the dims given, and returns the name.
func (b *builder) param(id int, dims []int64) (string, error) {
	if id < 0 || id >= len(b.p.Params) {
		return "", fmt.Errorf("parameter %d out of range", id)
	}
	p := b.p.Params[id]
	v := b.weights(id)
	if int64(len(v)) != p.Elems() {
		return "", fmt.Errorf("parameter %q has %d values, want %d", p.Name, len(v), p.Elems())
	}
	if dims == nil {
		for _, d := range p.Dims {
			dims = append(dims, int64(d))
		}
	}
	if b.names[p.Name] {
		return "", fmt.Errorf("parameter %q is read twice or named like a value", p.Name)
	}
	b.names[p.Name] = true
	b.g.initializer = append(b.g.initializer, floatTensor(p.Name, dims, v))
	return p.Name, nil
}

// constInt64 adds an int64 vector initializer under a fresh name.
func (b *builder) constInt64(name string, v ...int64) string {
	name = b.unique(name)
	b.g.initializer = append(b.g.initializer, int64Tensor(name, []int64{int64(len(v))}, v))
	return name
}

// sharedInt64 is constInt64 for a constant many nodes read: it is added
// once.
func (b *builder) sharedInt64(name string, v ...int64) string {
	if got, ok := b.consts[name]; ok {
		return got
	}
	b.consts[name] = b.constInt64(name, v...)
	return b.consts[name]
}

// constFloat adds a float scalar initializer under a fresh name.
func (b *builder) constFloat(name string, v float32) string {
	name = b.unique(name)
	b.g.initializer = append(b.g.initializer, floatTensor(name, nil, []float32{v}))
	return name
}
