// Host-side error helpers shared by every .cu file: each failure names the CUDA call (or the
// kernel whose launch failed) in a std::runtime_error, which the binding turns into a JS error.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace kd::cuda::detail {

inline void checkCuda(cudaError_t err, const char* call) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(call) + ": " + cudaGetErrorString(err));
}
inline void checkLaunch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("cudaLaunchKernel(") + kernel + "): " + cudaGetErrorString(err));
}

}  // namespace kd::cuda::detail
