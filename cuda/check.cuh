// Host-side error helpers shared by every .cu file: each failure names the CUDA call (or the
// kernel whose launch failed) in a std::runtime_error, which the binding turns into a JS error.
//
// A kernel that faults (an illegal address, a trap) is reported by CUDA at the next call that
// waits for the device, usually a copy made for another op. With KINDLING_CUDA_SYNC=1 every
// launch is followed by a device synchronisation and the error names the kernel that faulted:
// slow, for debugging only. Every launch in cuda/ ends in checkLaunch, so this is the one place.
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace kd::cuda::detail {

inline void checkCuda(cudaError_t err, const char* call) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(call) + ": " + cudaGetErrorString(err));
}

// KINDLING_CUDA_SYNC set to anything but "" or "0"; read once.
inline bool syncEveryLaunch() {
  static const bool on = [] {
    const char* v = std::getenv("KINDLING_CUDA_SYNC");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

inline void checkLaunch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("cudaLaunchKernel(") + kernel + "): " + cudaGetErrorString(err));
  if (!syncEveryLaunch()) return;
  err = cudaDeviceSynchronize();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(kernel) + ": the kernel failed (KINDLING_CUDA_SYNC=1): " +
                             cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

}  // namespace kd::cuda::detail
