// The measured single-precision FMA peak of this machine, per instruction set: a short loop of
// independent fused multiply-adds on every thread, so benchmarks report kernels as a fraction of
// what the cores really sustain (AVX-512 runs on 256-bit units on some processors, e.g. Zen 4, and
// the clock drops under wide FMA on others) instead of an assumed FLOP/cycle.
#pragma once
#include <cstdint>

#include "common/isa.h"

namespace kd {

// GFLOP/s of `threads` threads each running the FMA loop for `isa` at once, each over its own CPU
// time so that load from other processes does not lower it (best of five runs of
// about 10 ms). Throws std::invalid_argument when the processor lacks `isa` or threads < 1.
double measurePeakGflops(CpuIsa isa, int threads);

namespace peak_detail {

// Run `iterations` rounds of the FMA loop; return the flops done (2 per lane per FMA).
double fmaLoopAvx512(int64_t iterations);
double fmaLoopAvx2(int64_t iterations);
double fmaLoopScalar(int64_t iterations);

}  // namespace peak_detail
}  // namespace kd
