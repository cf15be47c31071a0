// Which CPU instruction set the kernels use: detected once from cpuid, narrowed by
// KINDLING_CPU_ISA=avx512|avx2|scalar, and settable at run time so tests can cover each path.
// Every kernel picks its build through dispatchIsa(): the ISA-specific code lives in files named
// *_avx2.cc / *_avx512.cc, compiled with the matching -m flags (CMakeLists.txt).
#pragma once
#include <cstdint>
#include <string>

namespace kd {

enum class CpuIsa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

CpuIsa detectedIsa();   // the best the processor (and OS) supports
CpuIsa activeIsa();     // what kernels use now
// Selects an ISA; returns false (and changes nothing) when the processor lacks it.
bool setActiveIsa(CpuIsa isa);
const char* isaName(CpuIsa isa);
// Empty, or why KINDLING_CPU_ISA was not used (a value naming no ISA).
const std::string& isaConfigError();

// The build a kernel call runs: activeIsa(), capped at the best build the kernel has (kernels
// with no AVX-512 build pass Avx2). Each call is counted per ISA returned, so tests can check
// which build ran; call it once per kernel call, not per tile.
CpuIsa dispatchIsa(CpuIsa bestBuild = CpuIsa::Avx512);
// How many dispatchIsa() calls returned `isa` since the process started.
int64_t dispatchCount(CpuIsa isa);

}  // namespace kd
