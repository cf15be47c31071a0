// Entry points for convolution and pooling (float32, NCHW). Geometry arrives as one array of
// integers; every operand arrives as (buffer, offset) — plus strides for inputs the kernels read
// strided — and its whole span is checked against its storage in 128-bit arithmetic before any
// kernel runs. Kernels address inputs only inside the checked shapes (padding is never read), so
// no argument can make them touch memory outside a buffer.
//
//   conv2d(geom16, x, xOff, xStrides, w, wOff, bias|null, biasOff, out, outOff)   also conv2dRef
//   conv2dInputGrad(geom16, gradOut, gOff, w, wOff, gradX, gxOff)
//   conv2dWeightGrad(geom16, x, xOff, xStrides, gradOut, gOff, gradW, gwOff)
//   conv2dBiasGrad(geom16, gradOut, gOff, gradBias, gbOff)
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
#include "binding/storage.h"
#include "cpu/conv.h"
#include "cpu/conv_pooled.h"
#include "cpu/pool.h"

namespace kd::binding {
namespace {

constexpr int64_t kMaxSize = 2147483647;         // 2^31 - 1 per dimension / parameter
constexpr int64_t kMaxStride = int64_t{1} << 40;
constexpr int64_t kMaxOffset = (int64_t{1} << 53) - 1;

std::string fmtDims(const int64_t* v, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
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

// A 4-d float32 or int32 operand: (buffer, offset[, strides]) from info[at]; contiguous when
// `strided` is false. Checks that every element of `shape` lies inside the storage.
struct Operand4 {
  char* base;
  int64_t strides[4];
};

Operand4 readOperand4(const Napi::CallbackInfo& info, size_t at, const int64_t* shape, bool strided, const char* op,
                      const char* name) {
  Napi::Env env = info.Env();
  const HostView view = hostBuffer(info[at], op);
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

ConvGeometry readConvGeometry(const Napi::CallbackInfo& info, const char* op) {
  int64_t v[16];
  readGeometry(info, 0, 16, v, op);
  ConvGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  checkConvGeometry(g);
  return g;
}

struct ConvShapes {
  int64_t x[4], weight[4], out[4];
};

ConvShapes convShapes(const ConvGeometry& g) {
  return {{g.n, g.c, g.h, g.w}, {g.k, g.c / g.groups, g.kh, g.kw}, {g.n, g.k, g.oh, g.ow}};
}

ConvInput convInput(const Operand4& o) {
  return {reinterpret_cast<const float*>(o.base), o.strides[0], o.strides[1], o.strides[2], o.strides[3]};
}

const float* readBias(const Napi::CallbackInfo& info, size_t at, const ConvGeometry& g, const char* op) {
  if (info[at].IsNull() || info[at].IsUndefined()) return nullptr;
  const int64_t shape[4] = {1, 1, 1, g.k};
  return reinterpret_cast<const float*>(readOperand4(info, at, shape, false, op, "bias").base);
}

template <bool Reference>
Napi::Value conv2d(const Napi::CallbackInfo& info) {
  const char* op = Reference ? "conv2dRef" : "conv2d";
  const ConvGeometry g = readConvGeometry(info, op);
  const ConvShapes s = convShapes(g);
  const Operand4 x = readOperand4(info, 1, s.x, true, op, "input");
  const Operand4 w = readOperand4(info, 4, s.weight, false, op, "weight");
  const float* bias = readBias(info, 6, g, op);
  const Operand4 out = readOperand4(info, 8, s.out, false, op, "output");
  auto* wp = reinterpret_cast<const float*>(w.base);
  auto* op_ = reinterpret_cast<float*>(out.base);
  if (Reference) conv2dForwardRef(g, convInput(x), wp, bias, op_);
  else conv2dForward(g, convInput(x), wp, bias, op_);
  return info.Env().Undefined();
}

Napi::Value conv2dInputGradEntry(const Napi::CallbackInfo& info) {
  const char* op = "conv2dInputGrad";
  const ConvGeometry g = readConvGeometry(info, op);
  const ConvShapes s = convShapes(g);
  const Operand4 gradOut = readOperand4(info, 1, s.out, false, op, "gradOutput");
  const Operand4 w = readOperand4(info, 3, s.weight, false, op, "weight");
  const Operand4 gradX = readOperand4(info, 5, s.x, false, op, "gradInput");
  conv2dInputGrad(g, reinterpret_cast<const float*>(gradOut.base), reinterpret_cast<const float*>(w.base),
                  reinterpret_cast<float*>(gradX.base));
  return info.Env().Undefined();
}

Napi::Value conv2dWeightGradEntry(const Napi::CallbackInfo& info) {
  const char* op = "conv2dWeightGrad";
  const ConvGeometry g = readConvGeometry(info, op);
  const ConvShapes s = convShapes(g);
  const Operand4 x = readOperand4(info, 1, s.x, true, op, "input");
  const Operand4 gradOut = readOperand4(info, 4, s.out, false, op, "gradOutput");
  const Operand4 gradW = readOperand4(info, 6, s.weight, false, op, "gradWeight");
  conv2dWeightGrad(g, convInput(x), reinterpret_cast<const float*>(gradOut.base), reinterpret_cast<float*>(gradW.base));
  return info.Env().Undefined();
}

Napi::Value conv2dBiasGradEntry(const Napi::CallbackInfo& info) {
  const char* op = "conv2dBiasGrad";
  const ConvGeometry g = readConvGeometry(info, op);
  const ConvShapes s = convShapes(g);
  const Operand4 gradOut = readOperand4(info, 1, s.out, false, op, "gradOutput");
  const int64_t biasShape[4] = {1, 1, 1, g.k};
  const Operand4 gradB = readOperand4(info, 3, biasShape, false, op, "gradBias");
  conv2dBiasGrad(g, reinterpret_cast<const float*>(gradOut.base), reinterpret_cast<float*>(gradB.base));
  return info.Env().Undefined();
}

// conv2dPooledBackward(geom16, pooledPlane, x, xOff, xStrides, weight, wOff, gradPooled, gpOff,
//                      indices, idxOff, gradX|null, gxOff, gradW|null, gwOff, gradB|null, gbOff)
Napi::Value conv2dPooledBackwardEntry(const Napi::CallbackInfo& info) {
  const char* op = "conv2dPooledBackward";
  const ConvGeometry g = readConvGeometry(info, op);
  const int64_t pooledPlane = readInt(info[1], op);
  if (pooledPlane < 1 || pooledPlane > g.oh * g.ow)
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": pooled plane " + std::to_string(pooledPlane) +
                                                " does not fit the " + std::to_string(g.oh * g.ow) + "-element output plane");
  const ConvShapes s = convShapes(g);
  const int64_t pooled[4] = {g.n, g.k, 1, pooledPlane};
  const Operand4 x = readOperand4(info, 2, s.x, true, op, "input");
  const Operand4 w = readOperand4(info, 5, s.weight, false, op, "weight");
  const Operand4 gp = readOperand4(info, 7, pooled, false, op, "gradPooled");
  const Operand4 idx = readOperand4(info, 9, pooled, false, op, "indices");
  auto optional = [&](size_t at, const int64_t* shape, const char* name) -> float* {
    if (info[at].IsNull() || info[at].IsUndefined()) return nullptr;
    return reinterpret_cast<float*>(readOperand4(info, at, shape, false, op, name).base);
  };
  const int64_t biasShape[4] = {1, 1, 1, g.k};
  float* gradX = optional(11, s.x, "gradInput");
  float* gradW = optional(13, s.weight, "gradWeight");
  float* gradB = optional(15, biasShape, "gradBias");
  try {
    conv2dPooledBackward(g, convInput(x), reinterpret_cast<const float*>(w.base),
                         reinterpret_cast<const float*>(gp.base), reinterpret_cast<const int32_t*>(idx.base), pooledPlane,
                         gradX, gradW, gradB);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

PoolGeometry readPoolGeometry(const Napi::CallbackInfo& info, const char* op) {
  int64_t v[14];
  readGeometry(info, 0, 14, v, op);
  PoolGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  checkPoolGeometry(g);
  return g;
}

PoolInput poolInput(const Operand4& o) {
  return {reinterpret_cast<const float*>(o.base), o.strides[0], o.strides[1], o.strides[2], o.strides[3]};
}

bool readFlag(const Napi::CallbackInfo& info, size_t at, const char* op) {
  if (!info[at].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": expected a boolean");
  return info[at].As<Napi::Boolean>().Value();
}

Napi::Value maxPool2dEntry(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  const PoolGeometry g = readPoolGeometry(info, op);
  const int64_t xShape[4] = {g.n, g.c, g.h, g.w}, outShape[4] = {g.n, g.c, g.oh, g.ow};
  const Operand4 x = readOperand4(info, 1, xShape, true, op, "input");
  const Operand4 out = readOperand4(info, 4, outShape, false, op, "output");
  const Operand4 idx = readOperand4(info, 6, outShape, false, op, "indices");
  maxPool2dForward(g, poolInput(x), reinterpret_cast<float*>(out.base), reinterpret_cast<int32_t*>(idx.base));
  return info.Env().Undefined();
}

Napi::Value maxPool2dBackwardEntry(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  const PoolGeometry g = readPoolGeometry(info, op);
  const int64_t xShape[4] = {g.n, g.c, g.h, g.w}, outShape[4] = {g.n, g.c, g.oh, g.ow};
  const Operand4 gradOut = readOperand4(info, 1, outShape, false, op, "gradOutput");
  const Operand4 idx = readOperand4(info, 3, outShape, false, op, "indices");
  const Operand4 gradX = readOperand4(info, 5, xShape, false, op, "gradInput");
  maxPool2dBackward(g, reinterpret_cast<const float*>(gradOut.base), reinterpret_cast<const int32_t*>(idx.base),
                    reinterpret_cast<float*>(gradX.base));
  return info.Env().Undefined();
}

// conv2dMaxPoolForward(geom16, poolGeom14, x, xOff, xStrides, weight, wOff, bias|null, bOff, out, outOff,
//                      indices, idxOff)
Napi::Value conv2dMaxPoolForwardEntry(const Napi::CallbackInfo& info) {
  const char* op = "conv2dMaxPoolForward";
  const ConvGeometry g = readConvGeometry(info, op);
  int64_t v[14];
  readGeometry(info, 1, 14, v, op);
  const PoolGeometry pg{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  if (pg.n != g.n || pg.c != g.k || pg.h != g.oh || pg.w != g.ow)
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": pooling input [" + std::to_string(pg.n) + "," +
                                                std::to_string(pg.c) + "," + std::to_string(pg.h) + "," + std::to_string(pg.w) +
                                                "] is not the convolution's output");
  try {
    checkPoolGeometry(pg);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
  const ConvShapes s = convShapes(g);
  const int64_t pooled[4] = {pg.n, pg.c, pg.oh, pg.ow};
  const Operand4 x = readOperand4(info, 2, s.x, true, op, "input");
  const Operand4 w = readOperand4(info, 5, s.weight, false, op, "weight");
  const float* bias = readBias(info, 7, g, op);
  const Operand4 out = readOperand4(info, 9, pooled, false, op, "output");
  const Operand4 idx = readOperand4(info, 11, pooled, false, op, "indices");
  conv2dMaxPoolForward(g, convInput(x), reinterpret_cast<const float*>(w.base), bias, pg,
                       reinterpret_cast<float*>(out.base), reinterpret_cast<int32_t*>(idx.base));
  return info.Env().Undefined();
}

Napi::Value avgPool2dEntry(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2d";
  const PoolGeometry g = readPoolGeometry(info, op);
  const bool countIncludePad = readFlag(info, 1, op);
  const int64_t xShape[4] = {g.n, g.c, g.h, g.w}, outShape[4] = {g.n, g.c, g.oh, g.ow};
  const Operand4 x = readOperand4(info, 2, xShape, true, op, "input");
  const Operand4 out = readOperand4(info, 5, outShape, false, op, "output");
  avgPool2dForward(g, countIncludePad, poolInput(x), reinterpret_cast<float*>(out.base));
  return info.Env().Undefined();
}

Napi::Value avgPool2dBackwardEntry(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2dBackward";
  const PoolGeometry g = readPoolGeometry(info, op);
  const bool countIncludePad = readFlag(info, 1, op);
  const int64_t xShape[4] = {g.n, g.c, g.h, g.w}, outShape[4] = {g.n, g.c, g.oh, g.ow};
  const Operand4 gradOut = readOperand4(info, 2, outShape, false, op, "gradOutput");
  const Operand4 gradX = readOperand4(info, 4, xShape, false, op, "gradInput");
  avgPool2dBackward(g, countIncludePad, reinterpret_cast<const float*>(gradOut.base), reinterpret_cast<float*>(gradX.base));
  return info.Env().Undefined();
}

Napi::Value adaptiveAvgPool2dEntry(const Napi::CallbackInfo& info) {
  const char* op = "adaptiveAvgPool2d";
  int64_t v[6];
  readGeometry(info, 0, 6, v, op);
  const int64_t xShape[4] = {v[0], v[1], v[2], v[3]}, outShape[4] = {v[0], v[1], v[4], v[5]};
  const Operand4 x = readOperand4(info, 1, xShape, true, op, "input");
  const Operand4 out = readOperand4(info, 4, outShape, false, op, "output");
  adaptiveAvgPool2dForward(v[0], v[1], v[2], v[3], v[4], v[5], poolInput(x), reinterpret_cast<float*>(out.base));
  return info.Env().Undefined();
}

Napi::Value adaptiveAvgPool2dBackwardEntry(const Napi::CallbackInfo& info) {
  const char* op = "adaptiveAvgPool2dBackward";
  int64_t v[6];
  readGeometry(info, 0, 6, v, op);
  const int64_t xShape[4] = {v[0], v[1], v[2], v[3]}, outShape[4] = {v[0], v[1], v[4], v[5]};
  const Operand4 gradOut = readOperand4(info, 1, outShape, false, op, "gradOutput");
  const Operand4 gradX = readOperand4(info, 3, xShape, false, op, "gradInput");
  adaptiveAvgPool2dBackward(v[0], v[1], v[2], v[3], v[4], v[5], reinterpret_cast<const float*>(gradOut.base),
                            reinterpret_cast<float*>(gradX.base));
  return info.Env().Undefined();
}

}  // namespace

void registerConv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, conv2d<false>, "conv2d"));
  exports.Set("conv2dRef", Napi::Function::New(env, conv2d<true>, "conv2dRef"));
  exports.Set("conv2dInputGrad", Napi::Function::New(env, conv2dInputGradEntry, "conv2dInputGrad"));
  exports.Set("conv2dWeightGrad", Napi::Function::New(env, conv2dWeightGradEntry, "conv2dWeightGrad"));
  exports.Set("conv2dBiasGrad", Napi::Function::New(env, conv2dBiasGradEntry, "conv2dBiasGrad"));
  exports.Set("conv2dMaxPoolForward", Napi::Function::New(env, conv2dMaxPoolForwardEntry, "conv2dMaxPoolForward"));
  exports.Set("conv2dPooledBackward", Napi::Function::New(env, conv2dPooledBackwardEntry, "conv2dPooledBackward"));
  exports.Set("maxPool2d", Napi::Function::New(env, maxPool2dEntry, "maxPool2d"));
  exports.Set("maxPool2dBackward", Napi::Function::New(env, maxPool2dBackwardEntry, "maxPool2dBackward"));
  exports.Set("avgPool2d", Napi::Function::New(env, avgPool2dEntry, "avgPool2d"));
  exports.Set("avgPool2dBackward", Napi::Function::New(env, avgPool2dBackwardEntry, "avgPool2dBackward"));
  exports.Set("adaptiveAvgPool2d", Napi::Function::New(env, adaptiveAvgPool2dEntry, "adaptiveAvgPool2d"));
  exports.Set("adaptiveAvgPool2dBackward",
              Napi::Function::New(env, adaptiveAvgPool2dBackwardEntry, "adaptiveAvgPool2dBackward"));
}

}  // namespace kd::binding
