#!/usr/bin/env bash
# Builds, on a machine without a GPU, everything bench/gpu/run-on-gpu.sh needs on a GPU machine
# that has CUDA but no Node.js and no network, into one ignored folder (build-gpurun/), and prints
# the device tool's `run` call that carries it:
#   build-gpurun/kindling.node.xz     the addon built with CUDA for KINDLING_CUDA_ARCHS (default 90a)
#   build-gpurun/check_kernels.xz     test/cuda/check_kernels.cu, same architectures
#   build-gpurun/node.xz              this machine's node binary (as ../shared/tools/pack-node.sh packs it)
#   build-gpurun/dist.tar.xz          `tsc -p tsconfig.json` output (lib/ and bench/ as JavaScript)
#   build-gpurun/node_modules.tar.xz  vitest and what it loads (not typescript), to run the GPU suites
#   build-gpurun/manifest.txt         what was built, from which commit, for which architectures
# What travels (the working tree and the bundle) must stay under the device tool's 64 MiB; this
# script checks it.
#
# usage: bench/gpu/prepare.sh [--build-dir DIR] [--help]
#   --build-dir DIR   cmake-js build folder (default build-gpu; reused incrementally)
#   KINDLING_CUDA_ARCHS  CUDA architectures (default "90a": H100/H200; "90;90a" for both)
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
buildDir=build-gpu
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) buildDir="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "prepare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

top=$(git rev-parse --show-toplevel)
cd "$top"
archs="${KINDLING_CUDA_ARCHS:-90a}"
bundle=build-gpurun
limitBytes=$((64 * 1024 * 1024))
command -v nvcc >/dev/null || { echo "prepare.sh: nvcc not found: the addon must be built with CUDA" >&2; exit 1; }
[ -d node_modules/vitest ] || { echo "prepare.sh: node_modules/vitest missing: run npm install first" >&2; exit 1; }

echo "== addon with CUDA for '$archs' in $buildDir/"
KINDLING_CUDA=1 KINDLING_CUDA_ARCHS="$archs" npx cmake-js compile --out "$buildDir"
echo "== check_kernels"
cmake --build "$buildDir" --target kindling_check_kernels
echo "== dist/ (tsc)"
npx tsc -p tsconfig.json

rm -rf "$bundle"
mkdir -p "$bundle"
checkBin=$(find "$buildDir" -maxdepth 2 -type f -name kindling_check_kernels | head -n 1)
[ -n "$checkBin" ] || { echo "prepare.sh: kindling_check_kernels was not built" >&2; exit 1; }
# The device code (fatbins) compresses about sixfold.
echo "== addon and check_kernels"
xz -T0 -6 -c "$buildDir/Release/kindling.node" > "$bundle/kindling.node.xz"
xz -T0 -6 -c "$checkBin" > "$bundle/check_kernels.xz"
# cmake-js reuses a configured build folder as it is: check that it builds the architectures asked for.
builtArchs=$(grep -o 'generate-code=arch=compute_[0-9a-z]*,code=\[[^]]*\]' "$buildDir/build.ninja" 2>/dev/null | sort -u | tr '\n' ' ' || true)
for a in ${archs//;/ }; do
  if [ -n "$builtArchs" ] && ! grep -q "sm_$a[],]" <<<"$builtArchs"; then
    echo "prepare.sh: $buildDir/ was configured for other CUDA architectures ($builtArchs), not sm_$a: remove it and run again" >&2
    exit 1
  fi
done

echo "== node binary"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$bundle/node.xz"

echo "== dist/"
tar -cf - dist | xz -T0 -6 > "$bundle/dist.tar.xz"

echo "== node_modules: vitest, kindling's runtime dependencies, and theirs"
# The closure of vitest's and kindling's runtime dependencies (optional ones included where installed), minus the
# integrations the GPU suites never load.
node --input-type=module -e '
import { existsSync, readFileSync } from "node:fs";
const skip = new Set(["typescript", "cmake-js", "node-addon-api", "@types/node", "@vitest/browser", "@vitest/ui", "happy-dom", "jsdom", "@edge-runtime/vm",
  "@types/debug", "less", "sass", "sass-embedded", "stylus", "sugarss", "terser", "lightningcss", "tsx", "yaml", "jiti",
  "@vitest/coverage-v8", "@vitest/coverage-istanbul"]);
const root = JSON.parse(readFileSync("package.json", "utf8"));
const seen = new Set(), stack = ["vitest", ...Object.keys(root.dependencies ?? {})];
while (stack.length) {
  const name = stack.pop();
  const file = `node_modules/${name}/package.json`;
  if (seen.has(name) || skip.has(name) || !existsSync(file)) continue;
  seen.add(name);
  const pj = JSON.parse(readFileSync(file, "utf8"));
  for (const k of ["dependencies", "optionalDependencies", "peerDependencies"]) stack.push(...Object.keys(pj[k] ?? {}));
}
console.log([...seen].sort().map((n) => `node_modules/${n}`).join("\n"));
' > "$bundle/node_modules.list"
[ -d node_modules/.bin ] && echo node_modules/.bin >> "$bundle/node_modules.list"
tar -chf - -T "$bundle/node_modules.list" | xz -T0 -6 > "$bundle/node_modules.tar.xz"

{
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!build-gpurun' || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cuda archs: $archs, device code for: ${builtArchs:-unknown} ($(nvcc --version | tail -n 1))"
  echo "node: $(node --version)"
  echo "node_modules packages: $(grep -c . "$bundle/node_modules.list")"
} > "$bundle/manifest.txt"

# What travels: the tracked and untracked-not-ignored files, plus the carried bundle.
bundleBytes=$(du -sb "$bundle" | cut -f1)
treeBytes=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 -r du -cb 2>/dev/null | awk '/\ttotal$/ { s += $1 } END { print s + 0 }')
bytes=$((bundleBytes + treeBytes))
echo "== $bundle/ holds $((bundleBytes / 1024 / 1024)) MiB; with the working tree $((bytes / 1024 / 1024)) MiB travel:"
ls -la "$bundle"
if [ "$bytes" -ge "$limitBytes" ]; then
  echo "prepare.sh: that is over the device tool's 64 MiB (working tree and carried paths together)" >&2
  exit 1
fi
cat <<RUN

Ready. On a GPU machine, one call of the device tool (about 8 minutes at most):
  run(command="bash bench/gpu/run-on-gpu.sh", carry=["$bundle"], timeout_s=540)
Logs and results come back under \$OUT (at most 8 files): summary.txt, check_kernels.log, tests.log,
memcheck.log, bench.log, bench_gpu.json. Rerun some steps only with e.g.
  bash bench/gpu/run-on-gpu.sh --only check,tests
RUN
