package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want deviceSpec
	}{
		{"cpu", deviceSpec{}},
		{"cuda", deviceSpec{cuda: true}},
		{"cuda:0", deviceSpec{cuda: true}},
		{"cuda:3", deviceSpec{cuda: true, ordinal: 3}},
		{"cuda:12", deviceSpec{cuda: true, ordinal: 12}},
	} {
		got, err := parseDevice(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseDevice(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, msg string }{
		{"tpu", `--device "tpu": unknown device (want cpu, cuda or cuda:N)`},
		{"", `--device "": unknown device`},
		{"CPU", `unknown device`},
		{"gpu:0", `unknown device`},
		{"cuda:", `--device "cuda:": N in cuda:N must be a GPU number`},
		{"cuda:x", `N in cuda:N must be a GPU number`},
		{"cuda:-1", `N in cuda:N must be a GPU number`},
		{"cuda:+1", `N in cuda:N must be a GPU number`},
		{"cuda:1.5", `N in cuda:N must be a GPU number`},
		{"cuda:99999999999999999999", `N in cuda:N must be a GPU number`},
	} {
		_, err := parseDevice(tc.in)
		var f *failure
		if !errors.As(err, &f) || f.code != 2 || !strings.Contains(f.msg, tc.msg) {
			t.Errorf("parseDevice(%q) = %v; want a usage error (exit 2) containing %q", tc.in, err, tc.msg)
		}
	}
}

// cpu opens the CPU backend, with nothing to close.
func TestOpenDeviceCPU(t *testing.T) {
	b, closeDevice, err := openDevice("cpu")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.Name(), "cpu") {
		t.Errorf("Name() = %q, want the CPU backend", b.Name())
	}
	if err := closeDevice(); err != nil {
		t.Errorf("close: %v", err)
	}
}
