// CUDA entry points for convolution and pooling, in exports.cuda with the CPU's names and
// argument layouts (see the header of conv.cc): geometry arrays, then (buffer, offset[, strides])
// per operand, every span checked against its storage before a kernel is enqueued. The kernels
// (cuda/conv.h, cuda/pool.h) read x strided where the CPU does, except convolution, which reads a
// dense copy of a non-contiguous x. Also gemmRaw, a bench-only entry running cuda::gemm on raw
// float32 / bf16 / fp16 buffers (tensors have no 16-bit dtypes).
#include <string>

#include "binding/args.h"
#include "binding/cuda_storage.h"
#include "binding/registry.h"
#include "common/reduce.h"
#include "conv.h"         // cuda/
#include "elementwise.h"  // cuda/
#include "gemm.h"         // cuda/
#include "pool.h"         // cuda/
#include "reduce.h"       // cuda/
#include "runtime.h"      // cuda/

namespace kd::binding {
namespace {

constexpr int64_t kMaxSize = 2147483647;  // 2^31 - 1 per dimension, per stride

void readGeometry(const Napi::CallbackInfo& info, int count, int* out, const char* op) {
  const Dims d = readDims(info[0], op);
  if (d.n != count)
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": expected " + std::to_string(count) + " geometry values");
  for (int i = 0; i < count; ++i) {
    if (d.v[i] < 0 || d.v[i] > kMaxSize)
      throw Napi::RangeError::New(info.Env(), std::string(op) + ": geometry value " + std::to_string(d.v[i]) + " out of range");
    out[i] = static_cast<int>(d.v[i]);
  }
}

// A 4-d float32/int32 operand on the device: (buffer, offset[, strides]) from info[at].
struct DeviceOperand4 {
  char* data;
  int64_t strides[4];
  bool contiguous;
};

DeviceOperand4 readOperand4(const Napi::CallbackInfo& info, size_t at, const int64_t (&shape)[4], bool strided,
                            const char* op) {
  Napi::Env env = info.Env();
  const HostView view = deviceBuffer(info[at], op);
  const int64_t offset = readInt(info[at + 1], op);
  DeviceOperand4 o;
  int64_t dense = 1;
  for (int i = 3; i >= 0; --i) {
    o.strides[i] = dense;
    dense *= shape[i];
  }
  o.contiguous = true;
  if (strided) {
    const Dims s = readDims(info[at + 2], op);
    if (s.n != 4) throw Napi::RangeError::New(env, std::string(op) + ": expected 4 strides");
    for (int i = 0; i < 4; ++i) {
      if (s.v[i] < -kMaxSize || s.v[i] > kMaxSize) throw Napi::RangeError::New(env, std::string(op) + ": stride out of range");
      if (shape[i] > 1 && s.v[i] != o.strides[i]) o.contiguous = false;
      o.strides[i] = s.v[i];
    }
  }
  checkSpan(view, offset, 4, shape, o.strides, 4, op);
  o.data = view.data + offset * 4;
  return o;
}

// A dense device copy of a strided x, freed when the scope ends (stream order makes that safe).
struct DenseCopy {
  void* block = nullptr;
  size_t reserved = 0;
  const float* data;
  DenseCopy(const DeviceOperand4& x, const int64_t (&shape)[4]) : data(reinterpret_cast<const float*>(x.data)) {
    if (x.contiguous) return;
    block = cuda::deviceAlloc(static_cast<size_t>(shape[0] * shape[1] * shape[2] * shape[3]) * 4, &reserved);
    const int64_t dense[4] = {shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1};
    cuda::cast(DType::Float32, DType::Float32, 4, shape, Operand{static_cast<char*>(block), dense},
               Operand{x.data, x.strides});
    data = static_cast<const float*>(block);
  }
  ~DenseCopy() {
    if (block) cuda::deviceFree(block, reserved);
  }
  DenseCopy(const DenseCopy&) = delete;
  DenseCopy& operator=(const DenseCopy&) = delete;
};

struct ConvArgs {
  cuda::Conv2dShape s;
  int64_t x[4], weight[4], out[4];
};

// geom16 = [n, c, h, w, k, kh, kw, oh, ow, strideH, strideW, padH, padW, dilationH, dilationW, groups]
ConvArgs readConv(const Napi::CallbackInfo& info, const char* op) {
  int v[16];
  readGeometry(info, 16, v, op);
  ConvArgs a;
  cuda::Conv2dShape& s = a.s;
  s.batch = v[0], s.inChannels = v[1], s.inH = v[2], s.inW = v[3], s.outChannels = v[4], s.kernelH = v[5], s.kernelW = v[6];
  s.outHeight = v[7], s.outWidth = v[8], s.strideH = v[9], s.strideW = v[10], s.padH = v[11], s.padW = v[12];
  s.dilationH = v[13], s.dilationW = v[14], s.groups = v[15];
  if (s.groups < 1 || s.inChannels % s.groups != 0 || s.outChannels % s.groups != 0)
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": groups must divide the channel counts");
  const int64_t x[4] = {v[0], v[1], v[2], v[3]}, w[4] = {v[4], v[1] / s.groups, v[5], v[6]}, o[4] = {v[0], v[4], v[7], v[8]};
  for (int i = 0; i < 4; ++i) a.x[i] = x[i], a.weight[i] = w[i], a.out[i] = o[i];
  return a;
}

void* stream() { return cuda::stream(); }
const float* floats(const DeviceOperand4& o) { return reinterpret_cast<const float*>(o.data); }
float* mutableFloats(const DeviceOperand4& o) { return reinterpret_cast<float*>(o.data); }

// conv2d(geom16, x, xOff, xStrides, w, wOff, bias|null, biasOff, out, outOff)
Napi::Value conv2d(const Napi::CallbackInfo& info) {
  const char* op = "conv2d";
  const ConvArgs a = readConv(info, op);
  const DeviceOperand4 x = readOperand4(info, 1, a.x, true, op);
  const DeviceOperand4 w = readOperand4(info, 4, a.weight, false, op);
  const float* bias = nullptr;
  if (!info[6].IsNull() && !info[6].IsUndefined()) {
    const int64_t biasShape[4] = {1, 1, 1, a.s.outChannels};
    bias = floats(readOperand4(info, 6, biasShape, false, op));
  }
  const DeviceOperand4 out = readOperand4(info, 8, a.out, false, op);
  const DenseCopy xd(x, a.x);
  cuda::conv2dForward(a.s, xd.data, floats(w), bias, mutableFloats(out), stream());
  return info.Env().Undefined();
}

// conv2dInputGrad(geom16, gradOut, gOff, w, wOff, gradX, gxOff)
Napi::Value conv2dInputGrad(const Napi::CallbackInfo& info) {
  const char* op = "conv2dInputGrad";
  const ConvArgs a = readConv(info, op);
  const DeviceOperand4 dy = readOperand4(info, 1, a.out, false, op);
  const DeviceOperand4 w = readOperand4(info, 3, a.weight, false, op);
  const DeviceOperand4 dx = readOperand4(info, 5, a.x, false, op);
  cuda::conv2dBackwardData(a.s, floats(dy), floats(w), mutableFloats(dx), stream());
  return info.Env().Undefined();
}

// conv2dWeightGrad(geom16, x, xOff, xStrides, gradOut, gOff, gradW, gwOff)
Napi::Value conv2dWeightGrad(const Napi::CallbackInfo& info) {
  const char* op = "conv2dWeightGrad";
  const ConvArgs a = readConv(info, op);
  const DeviceOperand4 x = readOperand4(info, 1, a.x, true, op);
  const DeviceOperand4 dy = readOperand4(info, 4, a.out, false, op);
  const DeviceOperand4 dw = readOperand4(info, 6, a.weight, false, op);
  const DenseCopy xd(x, a.x);
  cuda::conv2dBackwardWeight(a.s, xd.data, floats(dy), mutableFloats(dw), stream());
  return info.Env().Undefined();
}

// conv2dBiasGrad(geom16, gradOut, gOff, gradBias, gbOff): the sum of gradOut over n, oh, ow.
Napi::Value conv2dBiasGrad(const Napi::CallbackInfo& info) {
  const char* op = "conv2dBiasGrad";
  const ConvArgs a = readConv(info, op);
  const DeviceOperand4 dy = readOperand4(info, 1, a.out, false, op);
  const int64_t biasShape[4] = {1, 1, 1, a.s.outChannels};
  const DeviceOperand4 db = readOperand4(info, 3, biasShape, false, op);
  const int64_t kept[1] = {a.out[1]}, keptStrides[1] = {dy.strides[1]}, outStrides[1] = {1};
  const int64_t red[3] = {a.out[0], a.out[2], a.out[3]}, redStrides[3] = {dy.strides[0], dy.strides[2], dy.strides[3]};
  cuda::reduce(ReduceArgs{ReduceOp::Sum, DType::Float32, 1, kept, keptStrides, 3, red, redStrides, dy.data,
                          Operand{db.data, outStrides}});
  return info.Env().Undefined();
}

// geom14 = [n, c, h, w, oh, ow, kh, kw, strideH, strideW, padH, padW, dilationH, dilationW]
struct PoolArgs {
  cuda::Pool2dShape s;
  int64_t x[4], out[4];
};

PoolArgs readPool(const Napi::CallbackInfo& info, const char* op) {
  int v[14];
  readGeometry(info, 14, v, op);
  PoolArgs a;
  cuda::Pool2dShape& s = a.s;
  s.batch = v[0], s.channels = v[1], s.inH = v[2], s.inW = v[3], s.outHeight = v[4], s.outWidth = v[5];
  s.kernelH = v[6], s.kernelW = v[7], s.strideH = v[8], s.strideW = v[9], s.padH = v[10], s.padW = v[11];
  s.dilationH = v[12], s.dilationW = v[13];
  const int64_t x[4] = {v[0], v[1], v[2], v[3]}, o[4] = {v[0], v[1], v[4], v[5]};
  for (int i = 0; i < 4; ++i) a.x[i] = x[i], a.out[i] = o[i];
  return a;
}

void setXStrides(cuda::Pool2dShape& s, const DeviceOperand4& x) {
  for (int i = 0; i < 4; ++i) s.xStrides[i] = x.strides[i];
}

// maxPool2d(geom14, x, xOff, xStrides, out, outOff, indices, idxOff)
Napi::Value maxPool2d(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  PoolArgs a = readPool(info, op);
  const DeviceOperand4 x = readOperand4(info, 1, a.x, true, op);
  const DeviceOperand4 out = readOperand4(info, 4, a.out, false, op);
  const DeviceOperand4 idx = readOperand4(info, 6, a.out, false, op);
  setXStrides(a.s, x);
  cuda::maxPool2dForward(a.s, floats(x), mutableFloats(out), reinterpret_cast<int32_t*>(idx.data), stream());
  return info.Env().Undefined();
}

// maxPool2dBackward(geom14, gradOut, gOff, indices, idxOff, gradX, gxOff)
Napi::Value maxPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  const PoolArgs a = readPool(info, op);
  const DeviceOperand4 dy = readOperand4(info, 1, a.out, false, op);
  const DeviceOperand4 idx = readOperand4(info, 3, a.out, false, op);
  const DeviceOperand4 dx = readOperand4(info, 5, a.x, false, op);
  cuda::maxPool2dBackward(a.s, floats(dy), reinterpret_cast<const int32_t*>(idx.data), mutableFloats(dx), stream());
  return info.Env().Undefined();
}

// avgPool2d(geom14, countIncludePad, x, xOff, xStrides, out, outOff)
Napi::Value avgPool2d(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2d";
  PoolArgs a = readPool(info, op);
  a.s.countIncludePad = info[1].ToBoolean();
  const DeviceOperand4 x = readOperand4(info, 2, a.x, true, op);
  const DeviceOperand4 out = readOperand4(info, 5, a.out, false, op);
  setXStrides(a.s, x);
  cuda::avgPool2dForward(a.s, floats(x), mutableFloats(out), stream());
  return info.Env().Undefined();
}

// avgPool2dBackward(geom14, countIncludePad, gradOut, gOff, gradX, gxOff)
Napi::Value avgPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2dBackward";
  PoolArgs a = readPool(info, op);
  a.s.countIncludePad = info[1].ToBoolean();
  const DeviceOperand4 dy = readOperand4(info, 2, a.out, false, op);
  const DeviceOperand4 dx = readOperand4(info, 4, a.x, false, op);
  cuda::avgPool2dBackward(a.s, floats(dy), mutableFloats(dx), stream());
  return info.Env().Undefined();
}

// dims6 = [n, c, h, w, oh, ow]
PoolArgs readAdaptive(const Napi::CallbackInfo& info, const char* op) {
  int v[6];
  readGeometry(info, 6, v, op);
  PoolArgs a;
  a.s.batch = v[0], a.s.channels = v[1], a.s.inH = v[2], a.s.inW = v[3], a.s.outHeight = v[4], a.s.outWidth = v[5];
  const int64_t x[4] = {v[0], v[1], v[2], v[3]}, o[4] = {v[0], v[1], v[4], v[5]};
  for (int i = 0; i < 4; ++i) a.x[i] = x[i], a.out[i] = o[i];
  return a;
}

// adaptiveAvgPool2d(dims6, x, xOff, xStrides, out, outOff)
Napi::Value adaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  const char* op = "adaptiveAvgPool2d";
  PoolArgs a = readAdaptive(info, op);
  const DeviceOperand4 x = readOperand4(info, 1, a.x, true, op);
  const DeviceOperand4 out = readOperand4(info, 4, a.out, false, op);
  setXStrides(a.s, x);
  cuda::adaptiveAvgPool2dForward(a.s, floats(x), mutableFloats(out), stream());
  return info.Env().Undefined();
}

// adaptiveAvgPool2dBackward(dims6, gradOut, gOff, gradX, gxOff)
Napi::Value adaptiveAvgPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "adaptiveAvgPool2dBackward";
  const PoolArgs a = readAdaptive(info, op);
  const DeviceOperand4 dy = readOperand4(info, 1, a.out, false, op);
  const DeviceOperand4 dx = readOperand4(info, 3, a.x, false, op);
  cuda::adaptiveAvgPool2dBackward(a.s, floats(dy), mutableFloats(dx), stream());
  return info.Env().Undefined();
}

// gemmRaw(m, n, k, inType, a, b, c, tf32, transB): C (float32, m x n) = A (m x k) @ B, dense
// row-major, B stored k x n or (transB) n x k like a Linear weight, A and B of inType (0 float32,
// 1 bf16, 2 fp16). Bench-only: lets bench/gpu.ts time
// the 16-bit tensor-core paths, which no tensor dtype reaches.
Napi::Value gemmRaw(const Napi::CallbackInfo& info) {
  const char* op = "gemmRaw";
  cuda::GemmArgs g;
  g.m = static_cast<int>(readInt(info[0], op));
  g.n = static_cast<int>(readInt(info[1], op));
  g.k = static_cast<int>(readInt(info[2], op));
  const int64_t type = readInt(info[3], op);
  if (g.m < 1 || g.n < 1 || g.k < 1 || type < 0 || type > 2) throw Napi::RangeError::New(info.Env(), "gemmRaw: bad sizes or type");
  g.inType = static_cast<cuda::DType>(type);
  const size_t inBytes = type == 0 ? 4 : 2;
  const HostView a = deviceBuffer(info[4], op), b = deviceBuffer(info[5], op), c = deviceBuffer(info[6], op);
  if (a.bytes < size_t(g.m) * g.k * inBytes || b.bytes < size_t(g.k) * g.n * inBytes || c.bytes < size_t(g.m) * g.n * 4)
    throw Napi::RangeError::New(info.Env(), "gemmRaw: a buffer is too small");
  g.a = a.data, g.b = b.data, g.c = c.data;
  g.transB = info[8].ToBoolean();
  g.lda = g.k, g.ldb = g.transB ? g.k : g.n, g.ldc = g.n;
  g.math = info[7].ToBoolean() ? cuda::MathMode::TF32 : cuda::MathMode::ExactF32;
  cuda::gemm(g, stream());
  return info.Env().Undefined();
}

}  // namespace

void registerCudaConv(Napi::Env env, Napi::Object exports) {
  Napi::Object t = cudaTable(env, exports);
  t.Set("conv2d", Napi::Function::New(env, conv2d, "conv2d"));
  t.Set("conv2dInputGrad", Napi::Function::New(env, conv2dInputGrad, "conv2dInputGrad"));
  t.Set("conv2dWeightGrad", Napi::Function::New(env, conv2dWeightGrad, "conv2dWeightGrad"));
  t.Set("conv2dBiasGrad", Napi::Function::New(env, conv2dBiasGrad, "conv2dBiasGrad"));
  t.Set("maxPool2d", Napi::Function::New(env, maxPool2d, "maxPool2d"));
  t.Set("maxPool2dBackward", Napi::Function::New(env, maxPool2dBackward, "maxPool2dBackward"));
  t.Set("avgPool2d", Napi::Function::New(env, avgPool2d, "avgPool2d"));
  t.Set("avgPool2dBackward", Napi::Function::New(env, avgPool2dBackward, "avgPool2dBackward"));
  t.Set("adaptiveAvgPool2d", Napi::Function::New(env, adaptiveAvgPool2d, "adaptiveAvgPool2d"));
  t.Set("adaptiveAvgPool2dBackward", Napi::Function::New(env, adaptiveAvgPool2dBackward, "adaptiveAvgPool2dBackward"));
  t.Set("gemmRaw", Napi::Function::New(env, gemmRaw, "gemmRaw"));
}

}  // namespace kd::binding
