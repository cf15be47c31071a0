#!/usr/bin/env bash
# `npm test` after the type check: the suite at the instruction set the CPU kernels pick by
# default, then the CPU kernel tests (GEMM, elementwise, reduce, softmax, conv, pool, index,
# optimizers: test/native, test/ops, test/optim) again under each lower KINDLING_CPU_ISA, so
# an AVX-512 machine also runs the AVX2 and scalar kernels. Arguments (vitest file filters or
# options) replace both selections: `npm test -- test/ops/conv.test.ts` runs conv under each ISA.
set -euo pipefail
cd "$(dirname "$0")/.."

KERNEL_TESTS=(test/native test/ops test/optim)

# The ISA the addon runs under a given KINDLING_CPU_ISA (it never goes above what the CPU has).
isa_in_use() {
  KINDLING_CPU_ISA="$1" node -e '
    const addon = process.env.KINDLING_ADDON
      ? require(process.env.KINDLING_ADDON)
      : require("node-gyp-build")(process.cwd());
    console.log(addon.cpuIsa());'
}

# The first pass runs under the caller's KINDLING_CPU_ISA if set, else the best the CPU has.
default_isa=$(isa_in_use "${KINDLING_CPU_ISA:-}")
echo "== tests, CPU kernels at ${default_isa}"
npx --no-install vitest run "$@"

for isa in avx2 scalar; do
  [ "$isa" = "$default_isa" ] && continue
  in_use=$(isa_in_use "$isa")
  if [ "$in_use" != "$isa" ]; then
    echo "== KINDLING_CPU_ISA=${isa}: skipped, this CPU runs ${in_use} at most"
    continue
  fi
  echo "== CPU kernel tests under KINDLING_CPU_ISA=${isa}"
  if [ $# -gt 0 ]; then
    KINDLING_CPU_ISA="$isa" npx --no-install vitest run "$@"
  else
    KINDLING_CPU_ISA="$isa" npx --no-install vitest run "${KERNEL_TESTS[@]}"
  fi
done

# The whole run (no file arguments) also packs the package and installs the tarball into a
# scratch project: its contents, source maps, a compiler-free install, require and import.
if [ $# -eq 0 ]; then
  echo "== npm pack and install (test/package)"
  KINDLING_PACK_TEST=1 npx --no-install vitest run test/package
fi
