package cli

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"cellc/runtime"
	"cellc/runtime/cuda"
)

// addDeviceFlag registers --device, the backend that train, eval,
// predict, bench, search and worker run networks on.
func addDeviceFlag(cmd *cobra.Command, device *string) {
	cmd.Flags().StringVar(device, "device", "cpu", "backend: cpu, cuda (the first NVIDIA GPU) or cuda:N (GPU N)")
}

// addPrecisionFlag registers --precision, the arithmetic of the backend.
func addPrecisionFlag(cmd *cobra.Command, precision *string) {
	cmd.Flags().StringVar(precision, "precision", "fp32", "arithmetic: fp32, or on --device cuda tf32 (GEMMs on tensor cores); bf16 is not implemented yet")
}

// checkPrecision is --precision's usage check.
func checkPrecision(p string) error {
	if err := runtime.CheckPrecision(p); err != nil {
		return usagef("--precision: %v", err)
	}
	return nil
}

// deviceSpec is a parsed --device value.
type deviceSpec struct {
	cuda    bool // false: the CPU
	ordinal int  // the GPU, for cuda
}

// parseDevice reads a --device value: "cpu", "cuda" (GPU 0) or "cuda:N".
// Its errors are usage errors (exit 2).
func parseDevice(s string) (deviceSpec, error) {
	switch s {
	case "cpu":
		return deviceSpec{}, nil
	case "cuda":
		return deviceSpec{cuda: true}, nil
	}
	n, ok := strings.CutPrefix(s, "cuda:")
	if !ok {
		return deviceSpec{}, usagef("--device %q: unknown device (want cpu, cuda or cuda:N)", s)
	}
	// Digits only: Atoi alone would take "+1" and "-0".
	ordinal, err := strconv.Atoi(n)
	if err != nil || n == "" || strings.TrimLeft(n, "0123456789") != "" {
		return deviceSpec{}, usagef("--device %q: N in cuda:N must be a GPU number, 0 or more (cuda:0 is the first GPU)", s)
	}
	return deviceSpec{cuda: true, ordinal: ordinal}, nil
}

// openDevice parses a --device value and opens its backend. The caller
// calls closeDevice once everything compiled on the backend is closed.
// A bad value is a usage error (exit 2); a device that cannot be opened
// (no driver, no such GPU) fails with the backend's message (exit 1).
func openDevice(s string) (b runtime.Backend, closeDevice func() error, err error) {
	d, err := parseDevice(s)
	if err != nil {
		return nil, nil, err
	}
	if !d.cuda {
		return runtime.CPU{}, func() error { return nil }, nil
	}
	gpu, err := cuda.Open(d.ordinal)
	if err != nil {
		return nil, nil, fail(err)
	}
	return gpu, gpu.Close, nil
}
