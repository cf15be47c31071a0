// The two devices as a family binding sees them. A family file (elementwise.cc, conv.cc, ...)
// writes its entry points once, as templates over a kernel table, and names its kernels in two
// small structs in the same file: one deriving from CpuTarget, one from CudaTarget, with the same
// static members. Instantiating the entry points with each gives the CPU table (`exports`) and
// the CUDA one (`exports.cuda`) the same names, argument layouts and checks:
//
//   struct CpuSoftmax : CpuTarget { static constexpr auto softmax = softmaxKernel; };
//   struct CudaSoftmax : CudaTarget { static constexpr auto softmax = cuda::softmax; };
//   registerFor<CpuSoftmax>(env, exports);  registerFor<CudaSoftmax>(env, cudaTable(env, exports));
#pragma once

#include "binding/cuda_storage.h"
#include "binding/storage.h"

namespace kd::binding {

struct CpuTarget {
  static constexpr const char* kDevice = "cpu";
  // Resolves a storage handle of this device to its memory (host pointer here).
  static HostView buffer(const Napi::Value& v, const char* op) { return hostBuffer(v, op); }
};

struct CudaTarget {
  static constexpr const char* kDevice = "cuda";
  // A device pointer the binding never dereferences; spans are checked on the host.
  static HostView buffer(const Napi::Value& v, const char* op) { return deviceBuffer(v, op); }
};

}  // namespace kd::binding
