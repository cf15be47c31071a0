// The two devices as the family bindings see them: how a handle resolves to memory and which
// kernels run. elementwise.cc, reduce.cc, index.cc and softmax.cc convert and check arguments
// once, as templates over a Target, and register the CPU instantiation in `exports` and the CUDA
// one in `exports.cuda` under the same names, so both backends share every argument check.
#pragma once

#include "binding/cuda_storage.h"
#include "binding/storage.h"
#include "cpu/elementwise.h"
#include "cpu/index.h"
#include "cpu/reduce.h"
#include "cpu/softmax.h"
#include "elementwise.h"  // cuda/
#include "index.h"        // cuda/
#include "reduce.h"       // cuda/
#include "softmax.h"      // cuda/

namespace kd::binding {

struct CpuTarget {
  static HostView buffer(const Napi::Value& v, const char* op) { return hostBuffer(v, op); }
  static void unary(UnaryOp op, DType t, double p0, double p1, int nd, const int64_t* s, Operand o, Operand x) {
    unaryKernel(op, t, p0, p1, nd, s, o, x);
  }
  static void binary(BinaryOp op, DType t, int nd, const int64_t* s, Operand o, Operand a, Operand b) {
    binaryKernel(op, t, nd, s, o, a, b);
  }
  static void where(DType t, int nd, const int64_t* s, Operand o, Operand c, Operand a, Operand b) {
    whereKernel(t, nd, s, o, c, a, b);
  }
  static void cast(DType from, DType to, int nd, const int64_t* s, Operand o, Operand x) { castKernel(from, to, nd, s, o, x); }
  static void fill(DType t, double v, int nd, const int64_t* s, Operand o) { fillKernel(t, v, nd, s, o); }
  static void reduce(const ReduceArgs& a) { reduceKernel(a); }
  static void softmax(bool log, int nd, const int64_t* s, int dim, Operand o, Operand x) { softmaxKernel(log, nd, s, dim, o, x); }
  static void softmaxBackward(bool log, int nd, const int64_t* s, int dim, Operand dx, Operand y, Operand g) {
    softmaxBackwardKernel(log, nd, s, dim, dx, y, g);
  }
  static BadIndex firstBadIndex(int nd, const int64_t* s, Operand index, int64_t bound) {
    return kd::firstBadIndex(nd, s, index, bound);
  }
  static BadIndex gather(DType t, int nd, const int64_t* s, int dim, int64_t size, Operand o, Operand i, Operand x) {
    return gatherKernel(t, nd, s, dim, size, o, i, x);
  }
  static BadIndex scatterAdd(DType t, int nd, const int64_t* s, int dim, int64_t size, Operand o, Operand i, Operand src) {
    return scatterAddKernel(t, nd, s, dim, size, o, i, src);
  }
};

struct CudaTarget {
  static HostView buffer(const Napi::Value& v, const char* op) { return deviceBuffer(v, op); }
  static void unary(UnaryOp op, DType t, double p0, double p1, int nd, const int64_t* s, Operand o, Operand x) {
    cuda::unary(op, t, p0, p1, nd, s, o, x);
  }
  static void binary(BinaryOp op, DType t, int nd, const int64_t* s, Operand o, Operand a, Operand b) {
    cuda::binary(op, t, nd, s, o, a, b);
  }
  static void where(DType t, int nd, const int64_t* s, Operand o, Operand c, Operand a, Operand b) {
    cuda::where(t, nd, s, o, c, a, b);
  }
  static void cast(DType from, DType to, int nd, const int64_t* s, Operand o, Operand x) { cuda::cast(from, to, nd, s, o, x); }
  static void fill(DType t, double v, int nd, const int64_t* s, Operand o) { cuda::fill(t, v, nd, s, o); }
  static void reduce(const ReduceArgs& a) { cuda::reduce(a); }
  static void softmax(bool log, int nd, const int64_t* s, int dim, Operand o, Operand x) { cuda::softmax(log, nd, s, dim, o, x); }
  static void softmaxBackward(bool log, int nd, const int64_t* s, int dim, Operand dx, Operand y, Operand g) {
    cuda::softmaxBackward(log, nd, s, dim, dx, y, g);
  }
  static BadIndex firstBadIndex(int nd, const int64_t* s, Operand index, int64_t bound) {
    return fromDevice(cuda::firstBadIndex(nd, s, index, bound));
  }
  static BadIndex gather(DType t, int nd, const int64_t* s, int dim, int64_t size, Operand o, Operand i, Operand x) {
    return fromDevice(cuda::gather(t, nd, s, dim, size, o, i, x));
  }
  static BadIndex scatterAdd(DType t, int nd, const int64_t* s, int dim, int64_t size, Operand o, Operand i, Operand src) {
    return fromDevice(cuda::scatterAdd(t, nd, s, dim, size, o, i, src));
  }

 private:
  static BadIndex fromDevice(const cuda::BadIndex& b) { return BadIndex{b.position, b.value}; }
};

}  // namespace kd::binding
