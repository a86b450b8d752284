#!/bin/sh
# Side-by-side speed and memory of cellc and the PyTorch 1.13 anchor
# (../shared/bench/torch_nasnet.py) on the three workloads of the README:
# NASNet-A 6 @ 768 training (batch 32) and inference (batch 64), and the
# search-size child N=2, base filters 16, training (batch 32). The programs
# alternate, ROUNDS times per workload; each line is one run: images/s and
# peak RSS (/usr/bin/time -v). Both use 2 threads.
#
#   scripts/bench-vs-torch.sh [ROUNDS]       (needs bin/cellc: make build)
set -eu
ROUNDS=${1:-3}
TORCH=${TORCH:-../shared/bench/torch_nasnet.py}
CELLC=${CELLC:-bin/cellc}
export OPENBLAS_NUM_THREADS=1 GOMAXPROCS=2
LIKE="--aux-head=false --drop-path-keep-prob 1" # the PyTorch model has neither

rss() { awk '/Maximum resident set size/ {printf "%.2f GiB", $NF/1048576}' "$1"; }

run() { # name, then the command
	name=$1
	shift
	/usr/bin/time -v "$@" >/tmp/bench.out 2>/tmp/bench.time || { cat /tmp/bench.out /tmp/bench.time; exit 1; }
	rate=$(awk '/^images\/s:/ {print $2} /img_per_s=/ {sub(/.*img_per_s=/, ""); print}' /tmp/bench.out)
	printf '%-28s %8s images/s  %s  (load %s)\n' "$name" "$rate" "$(rss /tmp/bench.time)" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "cellc: $($CELLC bench --help >/dev/null 2>&1 && $CELLC version 2>/dev/null | head -1)"
for r in $(seq "$ROUNDS"); do
	echo "== round $r"
	run "cellc   6@768 train b32" $CELLC bench specs/nasnet_a.cell --n 6 --filters 768 $LIKE --batch 32 --steps 4 --warmup 1 --workers 2
	run "pytorch 6@768 train b32" /usr/bin/python3 "$TORCH" --n 6 --filters 32 --batch 32 --threads 2 --steps 3
	run "cellc   6@768 infer b64" $CELLC bench specs/nasnet_a.cell --n 6 --filters 768 --mode infer --batch 64 --steps 4 --warmup 1 --workers 2
	run "pytorch 6@768 infer b64" /usr/bin/python3 "$TORCH" --n 6 --filters 32 --batch 64 --threads 2 --steps 4 --infer
	run "cellc   N2/16 train b32" $CELLC bench specs/nasnet_a.cell --n 2 --base-filters 16 $LIKE --batch 32 --steps 8 --warmup 1 --workers 2
	run "pytorch N2/16 train b32" /usr/bin/python3 "$TORCH" --n 2 --filters 16 --batch 32 --threads 2 --steps 8
done
