# cellc: `make demo` builds the compiler and compiles NASNet-A (CIFAR, 6 @ 768);
# `make test` runs every test, golden file and fuzz seed corpus.
GO    ?= go
BIN   := bin/cellc
# OpenBLAS is the default BLAS where it is installed (`make deps` installs it
# as root); the pure-Go gonum BLAS is the fallback. Both are tested. The
# check runs in the recipe, after deps may have installed it.
BLAS_TAGS = $$(ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so' && echo openblas)
# Go 1.26's simd/archsimd (an experiment) gives the depthwise kernels
# AVX2+FMA loops; without it they are plain Go. Both are tested.
SIMD  := GOEXPERIMENT=simd

.PHONY: all build demo train-demo test deps vet fuzz bench golden clean gpu-check-build

all: build

build: deps
	$(SIMD) $(GO) build -tags "$(BLAS_TAGS)" -o $(BIN) ./cmd/cellc

# System packages, installed only when running as root and missing:
# graphviz renders `cellc draw -o x.svg`; dataset-fashion-mnist is the real
# data set the training tests and the demo run use; clang compiles the GPU
# kernels to PTX (the compile check) and, like g++, the host emulator the
# GPU backend's tests run on; python3-torch runs the independent TF-slim
# forward reference (testdata/reference) the compiler's wiring is checked
# against. Without them those
# tests skip with a message; everything else works.
deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		need=""; \
		command -v dot >/dev/null 2>&1 || need="$$need graphviz"; \
		[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need="$$need dataset-fashion-mnist"; \
		ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so' || need="$$need libopenblas-dev"; \
		command -v clang >/dev/null 2>&1 || need="$$need clang"; \
		/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need="$$need python3-torch"; \
		if [ -n "$$need" ]; then \
			echo "installing:$$need"; \
			apt-get install -y -q $$need >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $$need >/dev/null 2>&1; } || \
			echo "note: could not install$$need; the tests that need them will skip"; \
		fi; \
	fi
	@sh scripts/install-onnx-deps.sh
	@sh scripts/install-e2e-deps.sh

demo: build
	./$(BIN) build specs/nasnet_a.cell --n 6 --filters 768

# Train NASNet-A 2 @ 96 on Fashion-MNIST (the README's accuracy run: about
# 22 minutes on 2 cores).
train-demo: build
	./$(BIN) train specs/nasnet_a.cell --n 2 --filters 96 --aux-head=false --data fashion-mnist --epochs 4 --out runs/fashion-mnist
	./$(BIN) train specs/nasnet_a.cell --n 2 --filters 96 --aux-head=false --drop-path-keep-prob 1 --data fashion-mnist --epochs 9 --resume --out runs/fashion-mnist
	./$(BIN) eval runs/fashion-mnist/checkpoint.safetensors --data fashion-mnist

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# The whole-network gradient checks run once, in the build `make build`
# ships (SIMD loops, the BLAS it uses), where they take a quarter of the
# plain-Go build's time; the kernels' own gradient checks run in both.
NETGRAD := TestNetworkGradients|TestGradientCheckCatchesMutations

test: deps vet
	$(GO) test -skip '$(NETGRAD)' ./...
	@echo "== kernels, runtime and the search controller again with SIMD loops and the BLAS the build uses ($(BLAS_TAGS)),"
	@echo "   the whole-network gradient checks included"
	$(SIMD) $(GO) vet ./runtime/...
	$(SIMD) $(GO) test -tags "$(BLAS_TAGS)" ./runtime/kernels/ ./runtime/ ./search/controller/

# What scripts/gpu-check.sh needs on a GPU machine without Go: a CGO-free
# cellc (the CUDA libraries are loaded at run time), the runtime/cuda test
# binary (its parity suites run on the GPU with CELLC_TEST_DEVICE=cuda)
# and the PyTorch anchor.
gpu-check-build:
	CGO_ENABLED=0 $(SIMD) $(GO) build -ldflags="-s -w" -o $(BIN) ./cmd/cellc
	CGO_ENABLED=0 $(GO) test -c -ldflags="-s -w" -o bin/cuda.test ./runtime/cuda
	cp ../shared/bench/torch_nasnet.py bin/

# Longer fuzzing runs (the seed corpora already run in `make test`).
fuzz:
	$(GO) test ./lang -run '^$$' -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./lang -run '^$$' -fuzz FuzzFormatRoundTrip -fuzztime 60s

bench:
	$(GO) test ./cli -run '^$$' -bench . -benchmem

# Regenerate golden files; review `git diff testdata` before committing.
golden:
	CELLC_UPDATE=1 $(GO) test ./...

clean:
	rm -rf bin
