// The CUDA runtime as the binding sees it: plain C++ with no CUDA types, so the addon compiles
// the same with or without nvcc. stand_in.cc answers every call when built without CUDA.
#pragma once
#include <string>

namespace kd::cuda {

bool builtWithCuda();
// Number of usable devices; 0 when there is no driver or no device. Never throws.
int deviceCount();
// Device name, or throws std::runtime_error naming the failed CUDA call.
std::string deviceName(int device);

}  // namespace kd::cuda
