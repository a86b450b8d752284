#!/usr/bin/env bash
# The one prepared GPU run of issue 10, for a lent machine with no Go:
# build here with `make gpu-check-build` (a CGO-free bin/cellc, the
# runtime/cuda test binary bin/cuda.test and a copy of the PyTorch anchor
# bin/torch_nasnet.py), carry bin/, and run
#
#   bash scripts/gpu-check.sh          (writes everything under $OUT)
#
# In a few minutes it
#   1. lists the GPU and where libcuda, cuBLAS and NVRTC are;
#   2. runs the kernel and small-network parity suites on the GPU against
#      the CPU backend in the same process (the tests make test runs on
#      the host emulator);
#   3. builds NASNet-A 6@768 and compares its logits with the CPU backend,
#      then the losses of $PAPER_STEPS training steps;
#   4. times cellc against PyTorch eager and torch.compile side by side on
#      the same GPU: 6@768 training at batch 32 and 128, inference at 64
#      and 256, fp32 (and PyTorch's bf16 autocast), alternating rounds.
# Every part has its own time limit and the script goes on past a failure,
# so one run brings back whatever worked.
set -u
OUT=${OUT:-gpu-check-out}
BIN=${BIN:-bin}
PAPER_STEPS=${PAPER_STEPS:-20}
ROUNDS=${ROUNDS:-2}
COMPILE=${COMPILE:-1} # 0 skips torch.compile (its first compile takes minutes)
mkdir -p "$OUT"
export CELLC_CACHE_DIR=${CELLC_CACHE_DIR:-$PWD/.cellc-cache}
say() { echo "== $*" | tee -a "$OUT/summary.txt"; }

say "$(date -u +%FT%TZ) gpu-check on $(hostname)"
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
head -15 "$OUT/nvidia-smi.txt" | tee -a "$OUT/summary.txt"

# 1. Libraries: cellc searches for them itself (CELLC_CUDA_PATH, then the
# loader path, system folders, /usr/local/cuda*, python's nvidia/*/lib);
# record where they are, for the README.
timeout 60 find / -xdev \( -name 'libcuda.so*' -o -name 'libcublas.so*' -o -name 'libnvrtc.so*' \) 2>/dev/null | sort >"$OUT/libs.txt"
say "libraries found: $(wc -l <"$OUT/libs.txt")"
cat "$OUT/libs.txt" >>"$OUT/summary.txt"
PY=$(command -v python3)
say "python3: $PY $($PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1)"

# 2. Parity on the device.
say "parity suite (kernels, 7 specs forward+backward, inference plans)"
# The test binary reads the specs relative to its package folder.
ROOT=$PWD
CELLC_TEST_DEVICE=cuda timeout 240 sh -c "cd runtime/cuda && exec $ROOT/$BIN/cuda.test -test.v -test.run 'KernelsAgainstCPU|NetworkParity|InferenceParity'" >"$OUT/parity.txt" 2>&1
say "parity exit status $?: $(grep -c -- '--- PASS' "$OUT/parity.txt") passed, $(grep -c -- '--- FAIL' "$OUT/parity.txt") failed"
grep -- '--- FAIL' "$OUT/parity.txt" | head -20 >>"$OUT/summary.txt"

# 3. Paper size.
say "NASNet-A 6@768: logits and $PAPER_STEPS training steps against the CPU backend"
CELLC_TEST_DEVICE=cuda CELLC_TEST_PAPER_SIZE=$PAPER_STEPS timeout 300 sh -c "cd runtime/cuda && exec $ROOT/$BIN/cuda.test -test.v -test.run PaperSizeParity" >"$OUT/papersize.txt" 2>&1
say "paper-size exit status $?"
grep -E 'logits|step|FAIL|PASS' "$OUT/papersize.txt" | tail -25 >>"$OUT/summary.txt"

# 4. Side by side. cellc's bench prints images/s and the peak device
# memory; torch_nasnet.py prints img_per_s and device_peak_MiB.
rate() { awk '/^images\/s:/ {print $2} /img_per_s=/ {sub(/.*img_per_s=/, ""); sub(/ .*/, ""); print}' "$1" | head -1; }
mem() { awk '/^peak GPU:/ {print $3, $4} /device_peak_MiB=/ {sub(/.*device_peak_MiB=/, ""); sub(/ .*/, ""); print $1 " MiB"}' "$1" | head -1; }
side() { # label, timeout, command...
	label=$1
	lim=$2
	shift 2
	timeout "$lim" "$@" >"$OUT/run.txt" 2>&1
	rc=$?
	printf '%-44s %10s images/s  %-12s rc=%d\n' "$label" "$(rate "$OUT/run.txt")" "$(mem "$OUT/run.txt")" "$rc" | tee -a "$OUT/table.txt"
	cat "$OUT/run.txt" >>"$OUT/runs.log"
}
LIKE="--aux-head=false --drop-path-keep-prob 1" # the PyTorch model has neither
T="$PY $BIN/torch_nasnet.py --n 6 --filters 32 --device cuda"
for r in $(seq "$ROUNDS"); do
	echo "== round $r" | tee -a "$OUT/table.txt"
	for b in 32 128; do
		side "cellc fp32 6@768 train b$b" 120 "$BIN/cellc" bench specs/nasnet_a.cell --n 6 --filters 768 $LIKE --device cuda --batch $b --steps 10 --warmup 2
		side "torch eager fp32 train b$b" 120 $T --batch $b --steps 10
		side "torch eager bf16 train b$b" 120 $T --batch $b --steps 10 --amp bf16
		[ "$COMPILE" = 1 ] && [ "$r" = 1 ] && side "torch.compile fp32 train b$b" 400 $T --batch $b --steps 10 --compile
	done
	for b in 64 256; do
		side "cellc fp32 6@768 infer b$b" 120 "$BIN/cellc" bench specs/nasnet_a.cell --n 6 --filters 768 --mode infer --device cuda --batch $b --steps 10 --warmup 2
		side "torch eager fp32 infer b$b" 120 $T --batch $b --steps 10 --infer
		side "torch eager bf16 infer b$b" 120 $T --batch $b --steps 10 --infer --amp bf16
	done
done
say "done $(date -u +%FT%TZ)"
