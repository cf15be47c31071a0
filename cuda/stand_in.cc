// Built instead of cuda/*.cu when nvcc is absent: every call answers "built without CUDA"
// (deviceCount answers 0, so lib/ reports "no CUDA device" before reaching most of these).
#include <stdexcept>

#include "conv.h"
#include "conv_pooled.h"
#include "elementwise.h"
#include "gemm.h"
#include "index.h"
#include "matmul.h"
#include "optim.h"
#include "pool.h"
#include "reduce.h"
#include "runtime.h"
#include "softmax.h"

namespace kd::cuda {
namespace {

[[noreturn]] void notBuilt() { throw std::runtime_error("kindling was built without CUDA"); }

}  // namespace

bool builtWithCuda() { return false; }
int deviceCount() { return 0; }
std::string deviceName(int) { notBuilt(); }
int currentDevice() { notBuilt(); }
void setDevice(int) { notBuilt(); }
void* stream() { notBuilt(); }
void synchronize() { notBuilt(); }

void* deviceAlloc(size_t, size_t*) { notBuilt(); }
void deviceFree(void*, size_t) { notBuilt(); }
MemoryStats memoryStats() { return MemoryStats{}; }
void resetPeakMemory() {}
void emptyCache() {}

void copyToDevice(void*, const void*, size_t) { notBuilt(); }
void copyToHost(void*, const void*, size_t) { notBuilt(); }
void copyDeviceToDevice(void*, const void*, size_t) { notBuilt(); }
void fillBytes(void*, int, size_t) { notBuilt(); }

void unary(UnaryOp, kd::DType, double, double, int, const int64_t*, Operand, Operand) { notBuilt(); }
void binary(BinaryOp, kd::DType, int, const int64_t*, Operand, Operand, Operand) { notBuilt(); }
void where(kd::DType, int, const int64_t*, Operand, Operand, Operand, Operand) { notBuilt(); }
void cast(kd::DType, kd::DType, int, const int64_t*, Operand, Operand) { notBuilt(); }
void fill(kd::DType, double, int, const int64_t*, Operand) { notBuilt(); }

void reduce(const ReduceArgs&) { notBuilt(); }

void softmax(bool, int, const int64_t*, int, Operand, Operand) { notBuilt(); }
void softmaxBackward(bool, int, const int64_t*, int, Operand, Operand, Operand) { notBuilt(); }

BadIndex firstBadIndex(int, const int64_t*, Operand, int64_t) { notBuilt(); }
BadIndex gather(kd::DType, int, const int64_t*, int, int64_t, Operand, Operand, Operand) { notBuilt(); }
BadIndex scatterAdd(kd::DType, int, const int64_t*, int, int64_t, Operand, Operand, Operand) { notBuilt(); }

void adamStep(const AdamHyper&, const AdamTensor*, int) { notBuilt(); }

void gemm(const GemmArgs&, void*) { notBuilt(); }
void matmul(int64_t, int64_t, int64_t, int64_t, StridedMatrix, StridedMatrix, StridedMatrix, float, float, bool) {
  notBuilt();
}

void conv2dForward(const ConvGeometry&, ConvInput, const float*, const float*, float*) { notBuilt(); }
void conv2dInputGrad(const ConvGeometry&, const float*, const float*, float*) { notBuilt(); }
void conv2dWeightGrad(const ConvGeometry&, ConvInput, const float*, float*) { notBuilt(); }
void conv2dBiasGrad(const ConvGeometry&, const float*, float*) { notBuilt(); }
void conv2dMaxPoolForward(const ConvGeometry&, ConvInput, const float*, const float*, const PoolGeometry&, float*,
                          int32_t*) {
  notBuilt();
}
void conv2dPooledBackward(const ConvGeometry&, const PoolGeometry&, ConvInput, const float*, const float*,
                          const int32_t*, float*, float*, float*) {
  notBuilt();
}

void maxPool2dForward(const PoolGeometry&, PoolInput, float*, int32_t*) { notBuilt(); }
void maxPool2dBackward(const PoolGeometry&, const float*, const int32_t*, float*) { notBuilt(); }
void avgPool2dForward(const PoolGeometry&, bool, PoolInput, float*) { notBuilt(); }
void avgPool2dBackward(const PoolGeometry&, bool, const float*, float*) { notBuilt(); }
void adaptiveAvgPool2dForward(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, PoolInput, float*) { notBuilt(); }
void adaptiveAvgPool2dBackward(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const float*, float*) {
  notBuilt();
}

}  // namespace kd::cuda
