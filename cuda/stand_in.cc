// Built instead of cuda/*.cu when nvcc is absent: the runtime (cuda/runtime.h) answers "built
// without CUDA" (deviceCount answers 0, so lib/ reports "no CUDA device" before reaching most of
// these). The kernel families need no stand-ins: without CUDA the binding never instantiates
// their CUDA entry points (native/binding/targets.h, registerFamily).
#include <stdexcept>

#include "runtime.h"

namespace kd::cuda {
namespace {

[[noreturn]] void notBuilt() { throw std::runtime_error("kindling was built without CUDA"); }

}  // namespace

bool builtWithCuda() { return false; }
int deviceCount() { return 0; }
std::string unavailableReason() { return "kindling was built without CUDA"; }
std::string deviceName(int) { notBuilt(); }
int currentDevice() { notBuilt(); }
void setDevice(int) { notBuilt(); }
void* stream() { notBuilt(); }
void synchronize() { notBuilt(); }
void memGetInfo(size_t*, size_t*) { notBuilt(); }

bool gAllowTf32 = true;  // kept so that the setting reads back the same in every build
void setAllowTf32(bool allow) { gAllowTf32 = allow; }
bool allowTf32() { return gAllowTf32; }

void* deviceAlloc(size_t, size_t*) { notBuilt(); }
void deviceFree(void*, size_t) { notBuilt(); }
MemoryStats memoryStats() { return MemoryStats{}; }
void resetPeakMemory() {}
void emptyCache() {}

void copyToDevice(void*, const void*, size_t) { notBuilt(); }
void copyToHost(void*, const void*, size_t) { notBuilt(); }
void copyDeviceToDevice(void*, const void*, size_t) { notBuilt(); }
void fillBytes(void*, int, size_t) { notBuilt(); }

}  // namespace kd::cuda
