#!/bin/sh
# Side-by-side inference speed and memory of cellc and ONNX Runtime (its
# CPU provider, MLAS, through onnxruntime-node: the inference anchor of
# ../shared/bench/README.md) on NASNet-A 6 @ 768: throughput at batch 64
# and latency at batch 1. Both run the same network: `cellc export` of the
# spec with the same flags, i.e. cellc's own inference plan (batch norms
# folded into the convs, no aux head, drop path or dropout) with the same
# initial weights, whose logits runtime/onnx's parity test checks against
# ONNX Runtime's. (ORT_MODEL=file.onnx times another model instead, e.g.
# the PyTorch anchor's `torch_nasnet.py --n 6 --filters 32 --onnx`, whose
# batch norms ONNX Runtime folds itself.) The programs alternate, ROUNDS
# times; each line is one run: images/s (at batch 1, ms per image too),
# peak RSS (/usr/bin/time -v) and the baseline: the resident set before
# the first pass (cellc bench prints it; ort_bench.js prints the node
# process's with the session created), so that peak − baseline, what the
# passes add, compares the two without their fixed footprints. Both use 2
# threads (GOMAXPROCS=2 and 2 workers; 2 intra-op threads).
#
#   scripts/bench-vs-ort.sh [ROUNDS]   (needs bin/cellc: make build, and
#                                       onnxruntime-node: scripts/install-onnx-deps.sh)
set -eu
ROUNDS=${1:-3}
CELLC=${CELLC:-bin/cellc}
ORT_DIR=${CELLC_ORT_DIR:-$HOME/.cache/cellc-ort}
export OPENBLAS_NUM_THREADS=1 GOMAXPROCS=2 NODE_PATH="$ORT_DIR/node_modules"
NET="specs/nasnet_a.cell --n 6 --filters 768"
if ! command -v node >/dev/null 2>&1 || [ ! -f "$NODE_PATH/onnxruntime-node/package.json" ]; then
	echo "bench-vs-ort.sh: needs node and onnxruntime-node in $NODE_PATH (scripts/install-onnx-deps.sh)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
MODEL=${ORT_MODEL:-$tmp/nasnet_a.onnx}
[ -n "${ORT_MODEL:-}" ] || $CELLC export $NET -o "$MODEL" >/dev/null
ORT_BENCH="$(dirname "$0")/ort_bench.js"

rss() { awk '/Maximum resident set size/ {printf "%.0f MiB", $NF/1024}' "$1"; }

run() { # name, then the command
	name=$1
	shift
	/usr/bin/time -v "$@" >"$tmp/out" 2>"$tmp/time" || { cat "$tmp/out" "$tmp/time"; exit 1; }
	rate=$(awk '/^images\/s:/ {print $2} /img_per_s=/ {sub(/.*img_per_s=/, ""); print $1}' "$tmp/out")
	ms=$(awk '/^ms\/step:/ {m = $2} /^latency:/ {m = $2} /ms_per_step_median=/ {sub(/.*ms_per_step_median=/, ""); m = $1} END {print m}' "$tmp/out")
	base=$(awk '/^baseline:/ {printf "%.0f MiB", $2 * ($3 == "GiB" ? 1024 : 1)} /baseline_rss_mib=/ {sub(/.*baseline_rss_mib=/, ""); printf "%.0f MiB", $1}' "$tmp/out")
	printf '%-24s %8s images/s  %7s ms/step  peak %s  baseline %s  (load %s)\n' "$name" "$rate" "$ms" "$(rss "$tmp/time")" "$base" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "cellc: $($CELLC version 2>/dev/null | head -1); model: ${ORT_MODEL:-cellc export $NET}"
for r in $(seq "$ROUNDS"); do
	echo "== round $r"
	run "cellc 6@768 infer b64" $CELLC bench $NET --mode infer --batch 64 --steps 4 --warmup 1 --workers 2
	run "ort   6@768 infer b64" node "$ORT_BENCH" "$MODEL" 2 64 4 1
	run "cellc 6@768 infer b1" $CELLC bench $NET --mode infer --batch 1 --steps 40 --warmup 5 --workers 2
	run "ort   6@768 infer b1" node "$ORT_BENCH" "$MODEL" 2 1 40 5
done
