// Entry points for convolution and pooling (float32, NCHW), on the CPU and CUDA tables alike.
// Geometry arrives as one array of integers; every operand arrives as (buffer, offset) — plus
// strides for inputs the kernels read strided — and its whole span is checked against its storage
// in 128-bit arithmetic before any kernel runs. Kernels address inputs only inside the checked
// shapes (padding is never read), so no argument can make them touch memory outside a buffer.
// Which algorithm runs (image by image, fused, composed) is each kernel's own choice.
//
//   conv2d(geom16, x, xOff, xStrides, w, wOff, bias|null, biasOff, out, outOff)   also conv2dRef (CPU)
//   conv2dInputGrad(geom16, gradOut, gOff, w, wOff, gradX, gxOff)
//   conv2dWeightGrad(geom16, x, xOff, xStrides, gradOut, gOff, gradW, gwOff)
//   conv2dBiasGrad(geom16, gradOut, gOff, gradBias, gbOff)
//   conv2dMaxPool2d(geom16, geom14, x, xOff, xStrides, w, wOff, bias|null, bOff, out, outOff, indices, idxOff)
//   conv2dPooledBackward(geom16, geom14, x, xOff, xStrides, w, wOff, gradPooled, gpOff, indices, idxOff,
//                        gradX|null, gxOff, gradW|null, gwOff, gradB|null, gbOff)
//     geom16 = [n, c, h, w, k, kh, kw, oh, ow, strideH, strideW, padH, padW, dilationH, dilationW, groups]
//   maxPool2d(geom14, x, xOff, xStrides, out, outOff, indices, idxOff)
//   maxPool2dBackward(geom14, gradOut, gOff, indices, idxOff, gradX, gxOff)
//   avgPool2d(geom14, countIncludePad, x, xOff, xStrides, out, outOff)
//   avgPool2dBackward(geom14, countIncludePad, gradOut, gOff, gradX, gxOff)
//     geom14 = [n, c, h, w, oh, ow, kh, kw, strideH, strideW, padH, padW, dilationH, dilationW]
//   adaptiveAvgPool2d(dims6, x, xOff, xStrides, out, outOff)
//   adaptiveAvgPool2dBackward(dims6, gradOut, gOff, gradX, gxOff)
//     dims6 = [n, c, h, w, oh, ow]
#include <cstdint>
#include <stdexcept>
#include <string>

#include "binding/args.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/conv.h"
#include "common/conv_pooled.h"
#include "common/pool.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto conv2d = kd::conv2dForward;
  static constexpr auto conv2dInputGrad = kd::conv2dInputGrad;
  static constexpr auto conv2dWeightGrad = kd::conv2dWeightGrad;
  static constexpr auto conv2dBiasGrad = kd::conv2dBiasGrad;
  static constexpr auto conv2dMaxPool2d = kd::conv2dMaxPoolForward;
  static constexpr auto conv2dPooledBackward = kd::conv2dPooledBackward;
  static constexpr auto maxPool2d = kd::maxPool2dForward;
  static constexpr auto maxPool2dBackward = kd::maxPool2dBackward;
  static constexpr auto avgPool2d = kd::avgPool2dForward;
  static constexpr auto avgPool2dBackward = kd::avgPool2dBackward;
  static constexpr auto adaptiveAvgPool2d = kd::adaptiveAvgPool2dForward;
  static constexpr auto adaptiveAvgPool2dBackward = kd::adaptiveAvgPool2dBackward;
};

struct CudaKernels : CudaTarget {
  static constexpr auto conv2d = cuda::conv2dForward;
  static constexpr auto conv2dInputGrad = cuda::conv2dInputGrad;
  static constexpr auto conv2dWeightGrad = cuda::conv2dWeightGrad;
  static constexpr auto conv2dBiasGrad = cuda::conv2dBiasGrad;
  static constexpr auto conv2dMaxPool2d = cuda::conv2dMaxPoolForward;
  static constexpr auto conv2dPooledBackward = cuda::conv2dPooledBackward;
  static constexpr auto maxPool2d = cuda::maxPool2dForward;
  static constexpr auto maxPool2dBackward = cuda::maxPool2dBackward;
  static constexpr auto avgPool2d = cuda::avgPool2dForward;
  static constexpr auto avgPool2dBackward = cuda::avgPool2dBackward;
  static constexpr auto adaptiveAvgPool2d = cuda::adaptiveAvgPool2dForward;
  static constexpr auto adaptiveAvgPool2dBackward = cuda::adaptiveAvgPool2dBackward;
};

constexpr int64_t kMaxSize = 2147483647;         // 2^31 - 1 per dimension / parameter
constexpr int64_t kMaxStride = int64_t{1} << 40;
constexpr int64_t kMaxOffset = (int64_t{1} << 53) - 1;

std::string fmtDims(const int64_t* v, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Runs a geometry check or a kernel; its std::invalid_argument / out_of_range (a bad argument,
// found before anything is written) reaches JavaScript as a RangeError.
template <class F>
void checked(const Napi::Env& env, F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::out_of_range& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

// Reads `count` integers in [0, kMaxSize] from an array argument.
void readGeometry(const Napi::CallbackInfo& info, size_t at, int count, int64_t* out, const char* op) {
  const Dims d = readDims(info[at], op);
  if (d.n != count)
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": expected " + std::to_string(count) + " geometry values");
  for (int i = 0; i < count; ++i) {
    if (d.v[i] < 0 || d.v[i] > kMaxSize)
      throw Napi::RangeError::New(info.Env(), std::string(op) + ": geometry value " + std::to_string(d.v[i]) + " out of range");
    out[i] = d.v[i];
  }
}

// The geometry arrays hold up to 16 values, which is kMaxDims; readDims rejects longer ones.
static_assert(kMaxDims >= 16, "conv geometry needs 16 values");

ConvGeometry readConvGeometry(const Napi::CallbackInfo& info, size_t at, const char* op) {
  int64_t v[16];
  readGeometry(info, at, 16, v, op);
  ConvGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  checked(info.Env(), [&] { checkConvGeometry(g); });
  return g;
}

PoolGeometry readPoolGeometry(const Napi::CallbackInfo& info, size_t at, const char* op) {
  int64_t v[14];
  readGeometry(info, at, 14, v, op);
  PoolGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  checked(info.Env(), [&] { checkPoolGeometry(g); });
  return g;
}

// A convolution followed by pooling: the pooling geometry must describe the convolution's output.
PoolGeometry readPoolAfterConv(const Napi::CallbackInfo& info, size_t at, const ConvGeometry& g, const char* op) {
  const PoolGeometry pg = readPoolGeometry(info, at, op);
  if (pg.n != g.n || pg.c != g.k || pg.h != g.oh || pg.w != g.ow) {
    const int64_t pooledInput[4] = {pg.n, pg.c, pg.h, pg.w}, convOutput[4] = {g.n, g.k, g.oh, g.ow};
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": pooling input " + fmtDims(pooledInput, 4) +
                                                " is not the convolution's output " + fmtDims(convOutput, 4));
  }
  return pg;
}

// A 4-d float32 or int32 operand: (buffer, offset[, strides]) from info[at]; contiguous when
// `strided` is false. Checks that every element of `shape` lies inside the storage.
struct Operand4 {
  char* base;
  int64_t strides[4];
  const float* floats() const { return reinterpret_cast<const float*>(base); }
  float* mutableFloats() const { return reinterpret_cast<float*>(base); }
  int32_t* ints() const { return reinterpret_cast<int32_t*>(base); }
  ImageInput image() const { return {floats(), strides[0], strides[1], strides[2], strides[3]}; }
};

template <class Target>
Operand4 readOperand4(const Napi::CallbackInfo& info, size_t at, const int64_t* shape, bool strided, const char* op,
                      const char* name) {
  Napi::Env env = info.Env();
  const HostView view = Target::buffer(info[at], op);
  const int64_t offset = readInt(info[at + 1], op);
  if (offset < 0 || offset > kMaxOffset)
    throw Napi::RangeError::New(env, std::string(op) + ": " + name + " offset " + std::to_string(offset) + " out of range");
  Operand4 o;
  if (strided) {
    const Dims s = readDims(info[at + 2], op);
    if (s.n != 4) throw Napi::RangeError::New(env, std::string(op) + ": " + name + " needs 4 strides");
    for (int i = 0; i < 4; ++i) {
      if (s.v[i] < -kMaxStride || s.v[i] > kMaxStride)
        throw Napi::RangeError::New(env, std::string(op) + ": " + name + " stride out of range");
      o.strides[i] = s.v[i];
    }
  } else {
    int64_t acc = 1;
    for (int i = 3; i >= 0; --i) {
      o.strides[i] = acc;
      acc *= shape[i] == 0 ? 1 : shape[i];
      if (acc > kMaxStride) throw Napi::RangeError::New(env, std::string(op) + ": " + name + " is too large");
    }
  }
  __int128 lo = offset, hi = offset;
  bool empty = false;
  for (int i = 0; i < 4; ++i) {
    if (shape[i] == 0) empty = true;
    const __int128 reach = static_cast<__int128>(shape[i] - 1) * o.strides[i];
    if (reach < 0) lo += reach; else hi += reach;
  }
  if (!empty && (lo < 0 || (hi + 1) * 4 > static_cast<__int128>(view.bytes)))
    throw Napi::RangeError::New(env, std::string(op) + ": " + name + " " + fmtDims(shape, 4) + " at offset " +
                                         std::to_string(offset) + ", strides " + fmtDims(o.strides, 4) +
                                         " reaches outside its storage of " + std::to_string(view.bytes) + " bytes");
  o.base = view.data + offset * 4;
  return o;
}

// An optional contiguous operand: nullptr when info[at] is null or undefined.
template <class Target>
float* readOptional(const Napi::CallbackInfo& info, size_t at, const int64_t* shape, const char* op, const char* name) {
  if (info[at].IsNull() || info[at].IsUndefined()) return nullptr;
  return readOperand4<Target>(info, at, shape, false, op, name).mutableFloats();
}

bool readFlag(const Napi::CallbackInfo& info, size_t at, const char* op) {
  if (!info[at].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": expected a boolean");
  return info[at].As<Napi::Boolean>().Value();
}

// The operand shapes a convolution geometry implies.
struct ConvShapes {
  int64_t x[4], weight[4], out[4], bias[4];
  explicit ConvShapes(const ConvGeometry& g)
      : x{g.n, g.c, g.h, g.w}, weight{g.k, g.c / g.groups, g.kh, g.kw}, out{g.n, g.k, g.oh, g.ow}, bias{1, 1, 1, g.k} {}
};

struct PoolShapes {
  int64_t x[4], out[4];
  explicit PoolShapes(const PoolGeometry& g) : x{g.n, g.c, g.h, g.w}, out{g.n, g.c, g.oh, g.ow} {}
};

template <class Target>
Napi::Value conv2d(const Napi::CallbackInfo& info) {
  const char* op = "conv2d";
  const ConvGeometry g = readConvGeometry(info, 0, op);
  const ConvShapes s(g);
  const Operand4 x = readOperand4<Target>(info, 1, s.x, true, op, "input");
  const Operand4 w = readOperand4<Target>(info, 4, s.weight, false, op, "weight");
  const float* bias = readOptional<Target>(info, 6, s.bias, op, "bias");
  const Operand4 out = readOperand4<Target>(info, 8, s.out, false, op, "output");
  checked(info.Env(), [&] { Target::conv2d(g, x.image(), w.floats(), bias, out.mutableFloats()); });
  return info.Env().Undefined();
}

// CPU only: the direct double-accumulation reference, for tests.
Napi::Value conv2dRef(const Napi::CallbackInfo& info) {
  const char* op = "conv2dRef";
  const ConvGeometry g = readConvGeometry(info, 0, op);
  const ConvShapes s(g);
  const Operand4 x = readOperand4<CpuTarget>(info, 1, s.x, true, op, "input");
  const Operand4 w = readOperand4<CpuTarget>(info, 4, s.weight, false, op, "weight");
  const float* bias = readOptional<CpuTarget>(info, 6, s.bias, op, "bias");
  const Operand4 out = readOperand4<CpuTarget>(info, 8, s.out, false, op, "output");
  conv2dForwardRef(g, x.image(), w.floats(), bias, out.mutableFloats());
  return info.Env().Undefined();
}

template <class Target>
Napi::Value conv2dInputGrad(const Napi::CallbackInfo& info) {
  const char* op = "conv2dInputGrad";
  const ConvGeometry g = readConvGeometry(info, 0, op);
  const ConvShapes s(g);
  const Operand4 gradOut = readOperand4<Target>(info, 1, s.out, false, op, "gradOutput");
  const Operand4 w = readOperand4<Target>(info, 3, s.weight, false, op, "weight");
  const Operand4 gradX = readOperand4<Target>(info, 5, s.x, false, op, "gradInput");
  checked(info.Env(), [&] { Target::conv2dInputGrad(g, gradOut.floats(), w.floats(), gradX.mutableFloats()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value conv2dWeightGrad(const Napi::CallbackInfo& info) {
  const char* op = "conv2dWeightGrad";
  const ConvGeometry g = readConvGeometry(info, 0, op);
  const ConvShapes s(g);
  const Operand4 x = readOperand4<Target>(info, 1, s.x, true, op, "input");
  const Operand4 gradOut = readOperand4<Target>(info, 4, s.out, false, op, "gradOutput");
  const Operand4 gradW = readOperand4<Target>(info, 6, s.weight, false, op, "gradWeight");
  checked(info.Env(), [&] { Target::conv2dWeightGrad(g, x.image(), gradOut.floats(), gradW.mutableFloats()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value conv2dBiasGrad(const Napi::CallbackInfo& info) {
  const char* op = "conv2dBiasGrad";
  const ConvGeometry g = readConvGeometry(info, 0, op);
  const ConvShapes s(g);
  const Operand4 gradOut = readOperand4<Target>(info, 1, s.out, false, op, "gradOutput");
  const Operand4 gradB = readOperand4<Target>(info, 3, s.bias, false, op, "gradBias");
  checked(info.Env(), [&] { Target::conv2dBiasGrad(g, gradOut.floats(), gradB.mutableFloats()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value conv2dMaxPool2d(const Napi::CallbackInfo& info) {
  const char* op = "conv2dMaxPool2d";
  const ConvGeometry g = readConvGeometry(info, 0, op);
  const PoolGeometry pg = readPoolAfterConv(info, 1, g, op);
  const ConvShapes s(g);
  const PoolShapes ps(pg);
  const Operand4 x = readOperand4<Target>(info, 2, s.x, true, op, "input");
  const Operand4 w = readOperand4<Target>(info, 5, s.weight, false, op, "weight");
  const float* bias = readOptional<Target>(info, 7, s.bias, op, "bias");
  const Operand4 out = readOperand4<Target>(info, 9, ps.out, false, op, "output");
  const Operand4 idx = readOperand4<Target>(info, 11, ps.out, false, op, "indices");
  checked(info.Env(), [&] { Target::conv2dMaxPool2d(g, x.image(), w.floats(), bias, pg, out.mutableFloats(), idx.ints()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value conv2dPooledBackward(const Napi::CallbackInfo& info) {
  const char* op = "conv2dPooledBackward";
  const ConvGeometry g = readConvGeometry(info, 0, op);
  const PoolGeometry pg = readPoolAfterConv(info, 1, g, op);
  const ConvShapes s(g);
  const PoolShapes ps(pg);
  const Operand4 x = readOperand4<Target>(info, 2, s.x, true, op, "input");
  const Operand4 w = readOperand4<Target>(info, 5, s.weight, false, op, "weight");
  const Operand4 gp = readOperand4<Target>(info, 7, ps.out, false, op, "gradPooled");
  const Operand4 idx = readOperand4<Target>(info, 9, ps.out, false, op, "indices");
  float* gradX = readOptional<Target>(info, 11, s.x, op, "gradInput");
  float* gradW = readOptional<Target>(info, 13, s.weight, op, "gradWeight");
  float* gradB = readOptional<Target>(info, 15, s.bias, op, "gradBias");
  checked(info.Env(), [&] {
    Target::conv2dPooledBackward(g, pg, x.image(), w.floats(), gp.floats(), idx.ints(), gradX, gradW, gradB);
  });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value maxPool2d(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  const PoolGeometry g = readPoolGeometry(info, 0, op);
  const PoolShapes s(g);
  const Operand4 x = readOperand4<Target>(info, 1, s.x, true, op, "input");
  const Operand4 out = readOperand4<Target>(info, 4, s.out, false, op, "output");
  const Operand4 idx = readOperand4<Target>(info, 6, s.out, false, op, "indices");
  checked(info.Env(), [&] { Target::maxPool2d(g, x.image(), out.mutableFloats(), idx.ints()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value maxPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  const PoolGeometry g = readPoolGeometry(info, 0, op);
  const PoolShapes s(g);
  const Operand4 gradOut = readOperand4<Target>(info, 1, s.out, false, op, "gradOutput");
  const Operand4 idx = readOperand4<Target>(info, 3, s.out, false, op, "indices");
  const Operand4 gradX = readOperand4<Target>(info, 5, s.x, false, op, "gradInput");
  checked(info.Env(), [&] { Target::maxPool2dBackward(g, gradOut.floats(), idx.ints(), gradX.mutableFloats()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value avgPool2d(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2d";
  const PoolGeometry g = readPoolGeometry(info, 0, op);
  const bool countIncludePad = readFlag(info, 1, op);
  const PoolShapes s(g);
  const Operand4 x = readOperand4<Target>(info, 2, s.x, true, op, "input");
  const Operand4 out = readOperand4<Target>(info, 5, s.out, false, op, "output");
  checked(info.Env(), [&] { Target::avgPool2d(g, countIncludePad, x.image(), out.mutableFloats()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value avgPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2dBackward";
  const PoolGeometry g = readPoolGeometry(info, 0, op);
  const bool countIncludePad = readFlag(info, 1, op);
  const PoolShapes s(g);
  const Operand4 gradOut = readOperand4<Target>(info, 2, s.out, false, op, "gradOutput");
  const Operand4 gradX = readOperand4<Target>(info, 4, s.x, false, op, "gradInput");
  checked(info.Env(), [&] { Target::avgPool2dBackward(g, countIncludePad, gradOut.floats(), gradX.mutableFloats()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value adaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  const char* op = "adaptiveAvgPool2d";
  int64_t v[6];
  readGeometry(info, 0, 6, v, op);
  const int64_t xShape[4] = {v[0], v[1], v[2], v[3]}, outShape[4] = {v[0], v[1], v[4], v[5]};
  const Operand4 x = readOperand4<Target>(info, 1, xShape, true, op, "input");
  const Operand4 out = readOperand4<Target>(info, 4, outShape, false, op, "output");
  checked(info.Env(), [&] { Target::adaptiveAvgPool2d(v[0], v[1], v[2], v[3], v[4], v[5], x.image(), out.mutableFloats()); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value adaptiveAvgPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "adaptiveAvgPool2dBackward";
  int64_t v[6];
  readGeometry(info, 0, 6, v, op);
  const int64_t xShape[4] = {v[0], v[1], v[2], v[3]}, outShape[4] = {v[0], v[1], v[4], v[5]};
  const Operand4 gradOut = readOperand4<Target>(info, 1, outShape, false, op, "gradOutput");
  const Operand4 gradX = readOperand4<Target>(info, 3, xShape, false, op, "gradInput");
  checked(info.Env(), [&] {
    Target::adaptiveAvgPool2dBackward(v[0], v[1], v[2], v[3], v[4], v[5], gradOut.floats(), gradX.mutableFloats());
  });
  return info.Env().Undefined();
}

void registerConv(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"conv2d", conv2d<Target>},
            {"conv2dInputGrad", conv2dInputGrad<Target>},
            {"conv2dWeightGrad", conv2dWeightGrad<Target>},
            {"conv2dBiasGrad", conv2dBiasGrad<Target>},
            {"conv2dMaxPool2d", conv2dMaxPool2d<Target>},
            {"conv2dPooledBackward", conv2dPooledBackward<Target>},
            {"maxPool2d", maxPool2d<Target>},
            {"maxPool2dBackward", maxPool2dBackward<Target>},
            {"avgPool2d", avgPool2d<Target>},
            {"avgPool2dBackward", avgPool2dBackward<Target>},
            {"adaptiveAvgPool2d", adaptiveAvgPool2d<Target>},
            {"adaptiveAvgPool2dBackward", adaptiveAvgPool2dBackward<Target>}};
  });
  exports.Set("conv2dRef", Napi::Function::New(env, conv2dRef, "conv2dRef"));
}

}  // namespace

KD_REGISTER(registerConv);

}  // namespace kd::binding
