// Built instead of cuda/*.cu when nvcc is absent: every call answers "built without CUDA".
#include <stdexcept>

#include "runtime.h"

namespace kd::cuda {

bool builtWithCuda() { return false; }
int deviceCount() { return 0; }
std::string deviceName(int) { throw std::runtime_error("kindling was built without CUDA"); }

}  // namespace kd::cuda
