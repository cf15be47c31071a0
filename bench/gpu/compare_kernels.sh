#!/usr/bin/env bash
# Times kindling's CUDA GEMM/conv kernels and the PyTorch (cuBLAS/cuDNN) peer on the same cases and
# prints one table: case, kindling TFLOP/s, torch TFLOP/s, ratio. Needs a CUDA GPU, nvcc, PyTorch.
#   bench/gpu/compare_kernels.sh [path/to/check_kernels]   (built if absent; see its header)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-.devbin/cuda/check_kernels}"
if [ ! -x "$bin" ]; then
  mkdir -p "$(dirname "$bin")"
  nvcc -O3 -std=c++17 -arch=sm_90 -Icuda -Inative -o "$bin" test/cuda/check_kernels.cu cuda/gemm.cu cuda/conv.cu \
    cuda/pool.cu cuda/runtime.cu cuda/alloc.cu cuda/elementwise.cu cuda/reduce.cu cuda/softmax.cu cuda/index.cu \
    cuda/optim.cu cuda/matmul.cu
fi
ours=$(mktemp) peer=$(mktemp)
trap 'rm -f "$ours" "$peer"' EXIT
"$bin" --bench-only | tee /dev/stderr | grep '^{' >"$ours"
python3 bench/gpu/peer_torch.py | tee /dev/stderr | grep '^{' >"$peer"
python3 - "$ours" "$peer" <<'PY'
import json, sys
ours = {r["case"]: r for r in map(json.loads, open(sys.argv[1]))}
peer = {r["case"]: r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'case':<44} {'kindling':>10} {'torch':>10} {'ratio':>7}")
for case, r in ours.items():
    p = peer.get(case)
    ratio = f"{r['tflops'] / p['tflops']:.2f}" if p and p["tflops"] else "-"
    print(f"{case:<44} {r['tflops']:>10.1f} {(p['tflops'] if p else float('nan')):>10.1f} {ratio:>7}")
PY
