#!/bin/sh
# Side-by-side speed and memory of cellc and the PyTorch 1.13 anchor
# (../shared/bench/torch_nasnet.py) on four workloads:
# NASNet-A 6 @ 768 training (batch 32) and inference (batch 64), and the
# search-size child N=2, base filters 16, training (batch 32), and the
# children docs/search-fmnist.yaml trains (N=1, 4 base filters, 28x28x1,
# batch 32, where per-step overheads dominate). The programs
# alternate, ROUNDS times per workload; each line is one run: images/s,
# peak RSS (/usr/bin/time -v) and the baseline: the resident set before
# the first step (cellc bench prints it; for PyTorch, the model built in
# an interpreter with torch imported), so that peak − baseline, what the
# steps add, compares the frameworks without their fixed footprints (the
# Python interpreter and libtorch against the Go runtime). Both use 2
# threads.
#
#   scripts/bench-vs-torch.sh [ROUNDS]       (needs bin/cellc: make build)
set -eu
ROUNDS=${1:-3}
TORCH=${TORCH:-../shared/bench/torch_nasnet.py}
CELLC=${CELLC:-bin/cellc}
export OPENBLAS_NUM_THREADS=1 GOMAXPROCS=2
LIKE="--aux-head=false --drop-path-keep-prob 1" # the PyTorch model has neither

rss() { awk '/Maximum resident set size/ {printf "%.2f GiB", $NF/1048576}' "$1"; }

# torch_base N FILTERS: PyTorch's resident set with the model built, in
# GiB (the anchor script prints none, so this builds the same model).
torch_base() {
	/usr/bin/python3 -c "
import sys; sys.path.insert(0, '$(dirname "$TORCH")')
import torch, torch_nasnet as t
torch.set_num_threads(2); torch.manual_seed(0)
m = t.NASNetCIFAR($1, $2, classes=10, in_ch=3)
opt = torch.optim.SGD(m.parameters(), lr=0.025, momentum=0.9)
print('%.2f GiB' % (int([l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]) / 1048576))"
}

run() { # name, then the command
	name=$1
	shift
	/usr/bin/time -v "$@" >/tmp/bench.out 2>/tmp/bench.time || { cat /tmp/bench.out /tmp/bench.time; exit 1; }
	rate=$(awk '/^images\/s:/ {print $2} /img_per_s=/ {sub(/.*img_per_s=/, ""); print}' /tmp/bench.out)
	base=$(awk '/^baseline:/ {printf "%.2f GiB", $2 / ($3 == "MiB" ? 1024 : 1)}' /tmp/bench.out)
	[ -n "$base" ] || base=${BASE:-?}
	printf '%-28s %8s images/s  peak %s  baseline %s  (load %s)\n' "$name" "$rate" "$(rss /tmp/bench.time)" "$base" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "cellc: $($CELLC bench --help >/dev/null 2>&1 && $CELLC version 2>/dev/null | head -1)"
for r in $(seq "$ROUNDS"); do
	echo "== round $r"
	run "cellc   6@768 train b32" $CELLC bench specs/nasnet_a.cell --n 6 --filters 768 $LIKE --batch 32 --steps 4 --warmup 1 --workers 2
	BASE=$(torch_base 6 32) run "pytorch 6@768 train b32" /usr/bin/python3 "$TORCH" --n 6 --filters 32 --batch 32 --threads 2 --steps 3
	run "cellc   6@768 infer b64" $CELLC bench specs/nasnet_a.cell --n 6 --filters 768 --mode infer --batch 64 --steps 4 --warmup 1 --workers 2
	BASE=$(torch_base 6 32) run "pytorch 6@768 infer b64" /usr/bin/python3 "$TORCH" --n 6 --filters 32 --batch 64 --threads 2 --steps 4 --infer
	run "cellc   N2/16 train b32" $CELLC bench specs/nasnet_a.cell --n 2 --base-filters 16 $LIKE --batch 32 --steps 8 --warmup 1 --workers 2
	BASE=$(torch_base 2 16) run "pytorch N2/16 train b32" /usr/bin/python3 "$TORCH" --n 2 --filters 16 --batch 32 --threads 2 --steps 8
	run "cellc   fmnist child b32" $CELLC bench specs/nasnet_a.cell --n 1 --base-filters 4 --image-size 28 --channels 1 $LIKE --batch 32 --steps 60 --warmup 3 --workers 2
	BASE=$(torch_base 1 4) run "pytorch fmnist child b32" /usr/bin/python3 "$TORCH" --n 1 --filters 4 --size 28 --channels 1 --batch 32 --threads 2 --steps 60
done
