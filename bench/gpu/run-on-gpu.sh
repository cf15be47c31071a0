#!/usr/bin/env bash
# The first run of the CUDA backend on a GPU machine (issue 14), in one call of the device tool of
# under 8 minutes, with no network and no Node.js there. It builds nothing: bench/gpu/prepare.sh
# built the addon, check_kernels, dist/ and a packed node into build-gpurun/ beforehand, on a
# machine without a GPU; carry that folder. Steps, each with its own time limit so that one hang
# does not eat the budget, and every log under $OUT:
#   device   unpack node, node_modules (vitest) and dist/; refuse (exit 3) unless the addon sees a
#            CUDA device
#   check    check_kernels --check-only: every kernel against float64     -> check_kernels.log
#   tests    the GPU suites (vitest, KINDLING_REQUIRE_CUDA=1: a skip fails) -> tests.log
#   memcheck compute-sanitizer memcheck on check_kernels (small cases) and
#            on a small node training run (bench/gpu/smoke.mjs)            -> memcheck.log
#   bench    npm run bench -- gpu beside PyTorch (python3) on the same GPU -> bench.log, bench_gpu.json
# summary.txt gets one line per step (exit code, seconds) and the device. Exit code: 0 when every
# step passed, 3 when there is no device (nothing else ran), else 1.
#
# usage: bash bench/gpu/run-on-gpu.sh [--only STEPS] [--budget SECONDS] [--help]
#   --only STEPS      comma-separated subset of check,tests,memcheck,bench (device always runs)
#   --budget SECONDS  wall-clock budget for all steps (default 450); later steps get what is left
#   KINDLING_CUDA_SYNC=1 in the environment makes every kernel launch synchronise and name its op
set -uo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
only=check,tests,memcheck,bench
budget=450
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-on-gpu.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bundle="${KINDLING_GPU_BUNDLE:-$top/build-gpurun}"  # what prepare.sh built (override for tests)
OUT="${OUT:-$top/gpu-out}"
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"
start=$(date +%s)
failed=0

say() { echo "$*" | tee -a "$summary"; }
left() { echo $((budget - ($(date +%s) - start))); }

# step NAME LIMIT LOG CMD...: runs CMD under min(LIMIT, what is left of the budget), appending to LOG.
step() {
  local name="$1" limit="$2" log="$3"
  shift 3
  local remaining
  remaining=$(left)
  [ "$remaining" -lt "$limit" ] && limit="$remaining"
  if [ "$limit" -lt 10 ]; then
    say "$name: SKIPPED (budget spent)"
    failed=1
    return 1
  fi
  local t0 rc
  t0=$(date +%s)
  echo "== $name (limit ${limit}s): $*" >> "$log"
  timeout -k 10 "$limit" "$@" >> "$log" 2>&1
  rc=$?
  local verdict=ok
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && verdict="TIMED OUT"
  [ "$rc" -ne 0 ] && [ "$verdict" = ok ] && verdict=FAILED
  say "$name: $verdict (exit $rc, $(($(date +%s) - t0))s)"
  [ "$rc" -ne 0 ] && failed=1
  tail -n 25 "$log"
  return "$rc"
}
wants() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# ---- device: unpack, then refuse unless a device is there -------------------------------------
if [ ! -f "$bundle/manifest.txt" ]; then
  say "refusing: $bundle/ is missing: run bench/gpu/prepare.sh on the build machine and carry build-gpurun"
  exit 3
fi
say "bundle: $(tr '\n' ';' < "$bundle/manifest.txt")"
mkdir -p "$bundle/bin"
for f in node kindling.node check_kernels; do
  if [ ! -s "$bundle/bin/$f" ]; then
    xz -dc "$bundle/$f.xz" > "$bundle/bin/$f.tmp" && chmod +x "$bundle/bin/$f.tmp" && mv "$bundle/bin/$f.tmp" "$bundle/bin/$f"
  fi
done
export PATH="$bundle/bin:$PATH"
if [ ! -f node_modules/vitest/package.json ]; then
  [ -L node_modules ] && rm node_modules  # a link to the build machine's node_modules
  mkdir -p node_modules && xz -dc "$bundle/node_modules.tar.xz" | tar -xf -
fi
rm -rf dist && xz -dc "$bundle/dist.tar.xz" | tar -xf -
export KINDLING_ADDON="$bundle/bin/kindling.node"
export KINDLING_REQUIRE_CUDA=1
command -v nvidia-smi >/dev/null && nvidia-smi -L >> "$summary" 2>&1
deviceLine=$(timeout -k 5 60 node --input-type=module -e '
  const kd = await import(process.cwd() + "/dist/lib/index.js");
  if (!kd.cuda.isAvailable()) { console.log("no CUDA device: " + kd.cuda.unavailableReason()); process.exit(3); }
  const [free, total] = kd.cuda.memGetInfo();
  console.log(`${kd.cuda.getDeviceName(0)} (${kd.cuda.deviceCount()} device(s), ${(free / 2 ** 30).toFixed(1)} of ${(total / 2 ** 30).toFixed(1)} GiB free)`);
' 2>&1)
deviceRc=$?
if [ "$deviceRc" -ne 0 ]; then
  say "refusing: the addon sees no CUDA device (exit $deviceRc): $deviceLine"
  exit 3
fi
say "device: $deviceLine"

# ---- the steps ----------------------------------------------------------------------------------
if wants check; then
  step check 100 "$OUT/check_kernels.log" "$bundle/bin/check_kernels" --check-only
fi
if wants tests; then
  step tests 170 "$OUT/tests.log" node node_modules/vitest/vitest.mjs run test/gpu \
    test/cuda.test.ts test/ops/pointwise.test.ts test/ops/select.test.ts test/nn/fusion.test.ts
fi
if wants memcheck; then
  if command -v compute-sanitizer >/dev/null; then
    step memcheck-kernels 70 "$OUT/memcheck.log" compute-sanitizer --tool memcheck --error-exitcode 9 \
      "$bundle/bin/check_kernels" --check-only --small
    step memcheck-node 50 "$OUT/memcheck.log" compute-sanitizer --tool memcheck --error-exitcode 9 \
      --target-processes all node bench/gpu/smoke.mjs
  else
    say "memcheck: SKIPPED (compute-sanitizer not on the PATH)"
  fi
fi
if wants bench; then
  export KINDLING_PEER_PYTHON="${KINDLING_PEER_PYTHON:-$(command -v python3 || true)}"
  step bench 600 "$OUT/bench.log" node dist/bench/run.js gpu
  [ -f bench/results/gpu.json ] && cp bench/results/gpu.json "$OUT/bench_gpu.json"
fi

say "total: $(($(date +%s) - start))s of a ${budget}s budget; $([ "$failed" -eq 0 ] && echo 'every step passed' || echo 'some steps FAILED')"
exit "$failed"
