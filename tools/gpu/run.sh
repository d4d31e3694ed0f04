#!/usr/bin/env bash
# Runs on the GPU machine, from the folder pack.sh filled (.gpu/ in the repository, carried by the device tool), in two
# phases that each fit one device call of 600 s (run both, in order, when no argument is given):
#   figures (steps' limits 335 s): the GPU tests, gpu-check at 16 M, 64 M and 256 M elements (every filter guarded and
#     as the pass alone), gpu-optimizers (the fused AdamW + filters, 16 M and GPT-2 small), a PyTorch anchor of the same
#     filters and of AdamW;
#   grok (420 s): the grokking run on CUDA over seeds 0-4 with each optimizer path, in bfloat16, and PyTorch's reference
#     script (the published filters) on the same GPU.
# Writes everything under $OUT (default /tmp/grokfast-gpu-out), with build-info.txt (the commit packed). Exits non-zero
# when a GPU test fails or is skipped, when gpu-check or gpu-optimizers finds a mismatch, or when a step fails or runs
# past its limit; each step has its own limit, so that a slow one cannot use up the device time of the rest.
# Usage: run.sh [figures|grok]
set -uo pipefail
phase=${1:-all}
case "$phase" in figures|grok|all) ;; *) echo "usage: run.sh [figures|grok]" >&2; exit 2;; esac
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/grokfast-gpu-out}
app=/tmp/grokfast-gpu/app
mkdir -p "$out" && rm -rf /tmp/grokfast-gpu && mkdir -p /tmp/grokfast-gpu
tar -xJf "$here/app.tar.xz" -C /tmp/grokfast-gpu
cp "$here/build-info.txt" "$out/" 2>/dev/null || echo "no build-info.txt: pack.sh did not pack this folder" > "$out/build-info.txt"
cat "$out/build-info.txt"
if ! python3 -c 'import torch; assert torch.cuda.is_available()' 2>"$out/torch-import.txt"; then
  echo "PyTorch with CUDA is needed here (its libtorch and NCCL are loaded by the app):" >&2; cat "$out/torch-import.txt" >&2
  exit 2
fi
# TorchSharp's libLibTorchSharp.so (in the app) binds to the libtorch it finds first: PyTorch's CUDA build.
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
# NCCL (the data-parallel path on CUDA) ships beside it in PyTorch's wheels, as nvidia/nccl/lib.
nccl_lib=$(python3 -c 'import glob, os, torch; print(":".join(glob.glob(os.path.join(os.path.dirname(os.path.dirname(torch.__file__)), "nvidia", "nccl", "lib"))))')
export LD_LIBRARY_PATH="$torch_lib${nccl_lib:+:$nccl_lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
status=0
step() { echo "== $1 ($(date -u +%T))"; }

step "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nvidia-smi | grep -o 'CUDA Version: [0-9.]*';
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "nccl", ".".join(map(str, torch.cuda.nccl.version())))'; nproc; } | tee "$out/machine.txt"

if [ "$phase" != grok ]; then
step "GPU tests"
timeout 90 "$app/Grokfast.Tests" -trait "Requires=Cuda" -failSkips -noColor -result-xml "$out/gpu-tests.xml" 2>&1 | tee "$out/gpu-tests.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "gpu-check"
# Every filter guarded and as the pass alone; the larger sizes compare fewer steps (the CPU twin checks every element).
timeout 20 "$app/Grokfast.Bench" gpu-check --elements 16777216 --steps 20 --json > "$out/gpu-check-16m.json" || status=1
timeout 30 "$app/Grokfast.Bench" gpu-check --elements 67108864 --steps 3 --json > "$out/gpu-check-64m.json" || status=1
timeout 60 "$app/Grokfast.Bench" gpu-check --elements 268435456 --steps 2 --json > "$out/gpu-check-256m.json" || status=1
cat "$out"/gpu-check-*.json

step "gpu-optimizers"
timeout 75 "$app/Grokfast.Bench" gpu-optimizers --elements 16777216 --steps 10 --json > "$out/gpu-optimizers.json" || status=1
cat "$out/gpu-optimizers.json"

step "PyTorch anchor"
timeout 60 python3 "$here/torch_anchor.py" 2>&1 | tee "$out/torch-anchor.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

if [ "$phase" != figures ]; then
step "grok --device cuda, beside PyTorch's reference"
# Both optimizer paths over seeds 0-4 (CUDA runs are not bit-reproducible, so one seed says little), then bfloat16,
# then the published filters in PyTorch on the same GPU.
sweep="--filter ema,ma --seeds 0-4 --steps 2000 --stop-at 0.95"
for path in torch fused; do
  limit=$([ $path = torch ] && echo 150 || echo 110)
  timeout $limit "$app/Grokfast.Bench" grok --device cuda --optimizer $path $sweep --out "$out/grok-$path" > "$out/grok-$path.txt" 2>&1 || status=1
  tail -n 16 "$out/grok-$path.txt"
done
timeout 40 "$app/Grokfast.Bench" grok --device cuda --optimizer fused --dtype bfloat16 --filter ema --seeds 0-2 --steps 2000 --stop-at 0.95 --out "$out/grok-bf16" > "$out/grok-bf16.txt" 2>&1 || status=1
tail -n 12 "$out/grok-bf16.txt"
timeout 120 python3 "$here/reference.py" --device cuda $sweep --json "$out/grok-reference.json" > "$out/grok-reference.txt" 2>&1 || status=1
tail -n 6 "$out/grok-reference.txt"
fi

# The device tool hands back only the first few files (by name): everything also goes into one archive named to sort first.
tar -czf /tmp/grokfast-gpu/all.tar.gz -C "$out" . && mv /tmp/grokfast-gpu/all.tar.gz "$out/0-all.tar.gz"
step "done, status $status"
exit $status
