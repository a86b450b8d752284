package cuda

import (
	"fmt"
	"sync"

	"cellc/compiler/plan"
	"cellc/runtime"
)

// Backend runs plans on one NVIDIA GPU (or on the host emulator, in the
// tests). It implements runtime.Backend; Close releases the device.
type Backend struct {
	mu  sync.Mutex
	dev device
}

// Open opens GPU ordinal (cuda:N) through the CUDA driver, cuBLAS and
// NVRTC found at run time (see libs.go for where they are looked for).
// On a machine without a driver it returns an error naming what it
// looked for.
func Open(ordinal int) (*Backend, error) {
	dev, err := openDriver(ordinal)
	if err != nil {
		return nil, err
	}
	return &Backend{dev: dev}, nil
}

// OpenEmulated opens the host emulator: the backend's kernels compiled
// for the CPU with a C++ compiler (clang++ or g++) and run one simulated
// GPU thread at a time. It is slow and exists so that the backend can be
// tested without a GPU.
func OpenEmulated() (*Backend, error) {
	dev, err := openEmulator()
	if err != nil {
		return nil, err
	}
	return &Backend{dev: dev}, nil
}

// Name is the device's name.
func (b *Backend) Name() string { return "cuda (" + b.dev.Name() + ")" }

// PeakBytes is the most device memory held at once since Open.
func (b *Backend) PeakBytes() int64 { return b.dev.PeakBytes() }

// Close releases the device; executables compiled on it must be closed
// first.
func (b *Backend) Close() error { return b.dev.Close() }

// Compile allocates the plan's buffers, parameters and scratch on the
// device for batches of up to batch images.
func (b *Backend) Compile(p *plan.Plan, batch int, opts runtime.Options) (runtime.Executable, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d: must be at least 1", batch)
	}
	if err := runtime.CheckPrecision(opts.Precision); err != nil {
		return nil, err
	}
	if opts.Precision == "bf16" {
		return nil, fmt.Errorf("precision bf16: not implemented in the CUDA backend yet (use fp32 or tf32)")
	}
	return newExec(b, p, batch, opts)
}
