// Entry points for the row-wise fused kernels (layer / RMS norm, bias + GELU, softmax
// cross-entropy) on the CPU and CUDA tables alike. Every operand is a contiguous run given as
// (buffer | null, offset in elements), checked against its storage before a kernel runs; rows
// and cols describe the [rows, cols] matrix. float32 throughout except the int32 targets.
//   rowNormForward(rows, cols, rms, eps, x, xOffset, weight | null, .., bias | null, .., y, ..,
//                  mean, .., rstd, ..)
//   rowNormBackward(rows, cols, rms, g, .., x, .., weight | null, .., mean, .., rstd, ..,
//                   dx | null, .., dweight | null, .., dbias | null, ..[, accumulateDx])
//     accumulateDx: dx += the input gradient (a gradient already accumulated there) instead of dx =
//   biasGeluForward(rows, cols, tanh, x, .., bias, .., y, ..)
//   biasGeluBackward(rows, cols, tanh, g, .., x, .., bias, .., dx | null, .., dbias | null, ..)
//   crossEntropyForward(rows, cols, ignoreIndex, labelSmoothing, x, .., target, .., weight | null, ..,
//                       loss, .., targetWeight, .., lse ([rows, 2]), ..)
//   crossEntropyBackward(rows, cols, ignoreIndex, labelSmoothing, x, .., target, .., weight | null, ..,
//                        lse, .., g, .., dx, ..)
#include <string>

#include "binding/operand.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/fused_rows.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto rowNormForward = kd::rowNormForward;
  static constexpr auto rowNormBackward = kd::rowNormBackward;
  static constexpr auto biasGeluForward = kd::biasGeluForward;
  static constexpr auto biasGeluBackward = kd::biasGeluBackward;
  static constexpr auto crossEntropyForward = kd::crossEntropyForward;
  static constexpr auto crossEntropyBackward = kd::crossEntropyBackward;
};

struct CudaKernels : CudaTarget {
  static constexpr auto rowNormForward = cuda::rowNormForward;
  static constexpr auto rowNormBackward = cuda::rowNormBackward;
  static constexpr auto biasGeluForward = cuda::biasGeluForward;
  static constexpr auto biasGeluBackward = cuda::biasGeluBackward;
  static constexpr auto crossEntropyForward = cuda::crossEntropyForward;
  static constexpr auto crossEntropyBackward = cuda::crossEntropyBackward;
};

bool absent(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

// rows and cols at info[0], info[1], both >= 0.
void readMatrix(const Napi::CallbackInfo& info, int64_t& rows, int64_t& cols, const char* op) {
  rows = readInt(info[0], op);
  cols = readInt(info[1], op);
  if (rows < 0 || cols < 0) throw Napi::RangeError::New(info.Env(), std::string(op) + ": expected rows and cols >= 0");
}

// A contiguous run of `count` elements of T at (info[at], info[at + 1]); nullptr when absent and
// not required.
template <class Target, class T>
T* readRun(const Napi::CallbackInfo& info, size_t at, int64_t count, bool required, const char* op, const char* what) {
  if (absent(info[at])) {
    if (required) throw Napi::TypeError::New(info.Env(), std::string(op) + ": missing " + what);
    return nullptr;
  }
  HostView view = Target::buffer(info[at], op);
  const int64_t offset = readInt(info[at + 1], op);
  const int64_t shape[1] = {count}, strides[1] = {1};
  checkSpan(view, offset, 1, shape, strides, sizeof(T), op);
  return elementPtr<T>(view, offset, sizeof(T));
}

template <class Target>
Napi::Value rowNormForward(const Napi::CallbackInfo& info) {
  const char* name = "rowNormForward";
  RowNormForwardArgs a{};
  readMatrix(info, a.rows, a.cols, name);
  a.rms = info[2].ToBoolean();
  a.eps = readDouble(info[3], name);
  const int64_t n = a.rows * a.cols;
  a.x = readRun<Target, float>(info, 4, n, true, name, "x");
  a.weight = readRun<Target, float>(info, 6, a.cols, false, name, "weight");
  a.bias = readRun<Target, float>(info, 8, a.cols, false, name, "bias");
  a.y = readRun<Target, float>(info, 10, n, true, name, "y");
  a.mean = readRun<Target, float>(info, 12, a.rows, true, name, "mean");
  a.rstd = readRun<Target, float>(info, 14, a.rows, true, name, "rstd");
  Target::rowNormForward(a);
  return info.Env().Undefined();
}

template <class Target>
Napi::Value rowNormBackward(const Napi::CallbackInfo& info) {
  const char* name = "rowNormBackward";
  RowNormBackwardArgs a{};
  readMatrix(info, a.rows, a.cols, name);
  a.rms = info[2].ToBoolean();
  const int64_t n = a.rows * a.cols;
  a.g = readRun<Target, float>(info, 3, n, true, name, "g");
  a.x = readRun<Target, float>(info, 5, n, true, name, "x");
  a.weight = readRun<Target, float>(info, 7, a.cols, false, name, "weight");
  a.mean = readRun<Target, float>(info, 9, a.rows, true, name, "mean");
  a.rstd = readRun<Target, float>(info, 11, a.rows, true, name, "rstd");
  a.dx = readRun<Target, float>(info, 13, n, false, name, "dx");
  a.dweight = readRun<Target, float>(info, 15, a.cols, false, name, "dweight");
  a.dbias = readRun<Target, float>(info, 17, a.cols, false, name, "dbias");
  a.accumulateDx = info.Length() > 19 && info[19].ToBoolean() && a.dx != nullptr;
  Target::rowNormBackward(a);
  return info.Env().Undefined();
}

template <class Target>
Napi::Value biasGeluForward(const Napi::CallbackInfo& info) {
  const char* name = "biasGeluForward";
  int64_t rows, cols;
  readMatrix(info, rows, cols, name);
  const bool tanh = info[2].ToBoolean();
  const float* x = readRun<Target, float>(info, 3, rows * cols, true, name, "x");
  const float* bias = readRun<Target, float>(info, 5, cols, true, name, "bias");
  float* y = readRun<Target, float>(info, 7, rows * cols, true, name, "y");
  Target::biasGeluForward(rows, cols, tanh, x, bias, y);
  return info.Env().Undefined();
}

template <class Target>
Napi::Value biasGeluBackward(const Napi::CallbackInfo& info) {
  const char* name = "biasGeluBackward";
  int64_t rows, cols;
  readMatrix(info, rows, cols, name);
  const bool tanh = info[2].ToBoolean();
  const float* g = readRun<Target, float>(info, 3, rows * cols, true, name, "g");
  const float* x = readRun<Target, float>(info, 5, rows * cols, true, name, "x");
  const float* bias = readRun<Target, float>(info, 7, cols, true, name, "bias");
  float* dx = readRun<Target, float>(info, 9, rows * cols, false, name, "dx");
  float* dbias = readRun<Target, float>(info, 11, cols, false, name, "dbias");
  Target::biasGeluBackward(rows, cols, tanh, g, x, bias, dx, dbias);
  return info.Env().Undefined();
}

// The arguments both cross-entropy calls start with (info[0..9]).
template <class Target>
CrossEntropyArgs readCrossEntropy(const Napi::CallbackInfo& info, const char* name) {
  CrossEntropyArgs a{};
  readMatrix(info, a.rows, a.cols, name);
  a.ignoreIndex = readInt(info[2], name);
  a.labelSmoothing = readDouble(info[3], name);
  a.x = readRun<Target, float>(info, 4, a.rows * a.cols, true, name, "logits");
  a.target = readRun<Target, int32_t>(info, 6, a.rows, true, name, "target");
  a.weight = readRun<Target, float>(info, 8, a.cols, false, name, "weight");
  return a;
}

template <class Target>
Napi::Value crossEntropyForward(const Napi::CallbackInfo& info) {
  const char* name = "crossEntropyForward";
  const CrossEntropyArgs a = readCrossEntropy<Target>(info, name);
  float* loss = readRun<Target, float>(info, 10, a.rows, true, name, "loss");
  float* targetWeight = readRun<Target, float>(info, 12, a.rows, true, name, "targetWeight");
  float* lse = readRun<Target, float>(info, 14, 2 * a.rows, true, name, "lse");
  Target::crossEntropyForward(a, loss, targetWeight, lse);
  return info.Env().Undefined();
}

template <class Target>
Napi::Value crossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* name = "crossEntropyBackward";
  const CrossEntropyArgs a = readCrossEntropy<Target>(info, name);
  const float* lse = readRun<Target, float>(info, 10, 2 * a.rows, true, name, "lse");
  const float* g = readRun<Target, float>(info, 12, a.rows, true, name, "g");
  float* dx = readRun<Target, float>(info, 14, a.rows * a.cols, true, name, "dx");
  Target::crossEntropyBackward(a, lse, g, dx);
  return info.Env().Undefined();
}

void registerFusedRows(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"rowNormForward", rowNormForward<Target>},
            {"rowNormBackward", rowNormBackward<Target>},
            {"biasGeluForward", biasGeluForward<Target>},
            {"biasGeluBackward", biasGeluBackward<Target>},
            {"crossEntropyForward", crossEntropyForward<Target>},
            {"crossEntropyBackward", crossEntropyBackward<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerFusedRows);

}  // namespace kd::binding
