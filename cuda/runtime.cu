#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "runtime.h"

namespace kd::cuda {

bool builtWithCuda() { return true; }

int deviceCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string deviceName(int device) {
  cudaDeviceProp prop;
  cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(err));
  return prop.name;
}

}  // namespace kd::cuda
