# cellc: `make demo` builds the compiler and compiles NASNet-A (CIFAR, 6 @ 768);
# `make test` runs every test, golden file and fuzz seed corpus.
GO    ?= go
BIN   := bin/cellc

.PHONY: all build demo test deps vet fuzz bench golden clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/cellc

# Optional system tools: graphviz renders `cellc draw -o x.svg`. Installed
# only when running as root and missing; everything else works without it.
deps:
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get install -y -q graphviz >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null 2>&1)) ; } || \
		echo "note: graphviz not installed; SVG drawing tests will skip"

demo: build
	./$(BIN) build specs/nasnet_a.cell --n 6 --filters 768

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test: deps vet
	$(GO) test ./...

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
