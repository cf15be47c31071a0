#include "common/isa.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kd {
namespace {

unsigned long long readXcr0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuIsa probe() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return CpuIsa::Scalar;
  bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, avx = c & bit_AVX;
  if (!osxsave || !avx) return CpuIsa::Scalar;
  unsigned long long xcr0 = readXcr0();
  bool ymmState = (xcr0 & 0x6) == 0x6, zmmState = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return CpuIsa::Scalar;
  bool avx2 = b & bit_AVX2;
  bool avx512 = (b & bit_AVX512F) && (b & bit_AVX512DQ) && (b & bit_AVX512BW) && (b & bit_AVX512VL);
  if (avx512 && fma && zmmState) return CpuIsa::Avx512;
  if (avx2 && fma && ymmState) return CpuIsa::Avx2;
  return CpuIsa::Scalar;
}

std::string gIsaConfigError;  // set before gActive is initialised (declared first)

// KINDLING_CPU_ISA narrows the detected ISA (a value above it runs at the detected one); a value
// that names no ISA is reported (isaConfigError) and the detected one used meanwhile.
CpuIsa initialIsa() {
  CpuIsa best = probe();
  if (const char* env = std::getenv("KINDLING_CPU_ISA"); env && *env) {  // unset or empty: the best
    CpuIsa want;
    if (!std::strcmp(env, "scalar")) want = CpuIsa::Scalar;
    else if (!std::strcmp(env, "avx2")) want = CpuIsa::Avx2;
    else if (!std::strcmp(env, "avx512")) want = CpuIsa::Avx512;
    else {
      gIsaConfigError = std::string("KINDLING_CPU_ISA='") + env + "' names no instruction set: expected avx512, avx2 or scalar";
      return best;
    }
    if (want <= best) return want;
  }
  return best;
}

std::atomic<CpuIsa> gActive{initialIsa()};
std::atomic<int64_t> gDispatchCounts[3];

}  // namespace

CpuIsa detectedIsa() {
  static CpuIsa best = probe();
  return best;
}

CpuIsa activeIsa() { return gActive; }

const std::string& isaConfigError() { return gIsaConfigError; }

bool setActiveIsa(CpuIsa isa) {
  if (isa > detectedIsa()) return false;
  gActive = isa;
  return true;
}

CpuIsa dispatchIsa(CpuIsa bestBuild) {
  const CpuIsa active = gActive.load(std::memory_order_relaxed);
  const CpuIsa isa = active < bestBuild ? active : bestBuild;
  gDispatchCounts[static_cast<int>(isa)].fetch_add(1, std::memory_order_relaxed);
  return isa;
}

int64_t dispatchCount(CpuIsa isa) { return gDispatchCounts[static_cast<int>(isa)].load(std::memory_order_relaxed); }

const char* isaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace kd
