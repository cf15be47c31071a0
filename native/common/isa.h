// Which CPU instruction set the kernels use: detected once from cpuid, narrowed by
// KINDLING_CPU_ISA=avx512|avx2|scalar, and settable at run time so tests can cover each path.
#pragma once

namespace kd {

enum class CpuIsa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

CpuIsa detectedIsa();   // the best the processor (and OS) supports
CpuIsa activeIsa();     // what kernels use now
// Selects an ISA; returns false (and changes nothing) when the processor lacks it.
bool setActiveIsa(CpuIsa isa);
const char* isaName(CpuIsa isa);

}  // namespace kd
