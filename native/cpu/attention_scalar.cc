// The fused attention kernels in portable C++ (any x86-64): 4-lane vectors as plain arrays,
// which the compiler maps to SSE, and std::exp.
#include <algorithm>
#include <cmath>
#include <cstdint>

#define KD_ISA_NS isa_scalar

namespace kd::isa_scalar {
namespace {

struct Vec {
  struct V {
    float x[4];
  };
  static constexpr int W = 4, kRows = 4, kCols = 2;
  static V zero() { return V{{0.0f, 0.0f, 0.0f, 0.0f}}; }
  static V set1(float a) { return V{{a, a, a, a}}; }
  static V load(const float* p) { return V{{p[0], p[1], p[2], p[3]}}; }
  static void store(float* p, V a) {
    for (int i = 0; i < 4; ++i) p[i] = a.x[i];
  }
  static void stream(float* p, V a) { store(p, a); }  // no streaming stores in portable code
  static V add(V a, V b) {
    for (int i = 0; i < 4; ++i) a.x[i] += b.x[i];
    return a;
  }
  static V sub(V a, V b) {
    for (int i = 0; i < 4; ++i) a.x[i] -= b.x[i];
    return a;
  }
  static V mul(V a, V b) {
    for (int i = 0; i < 4; ++i) a.x[i] *= b.x[i];
    return a;
  }
  static V max(V a, V b) {
    for (int i = 0; i < 4; ++i) a.x[i] = std::max(a.x[i], b.x[i]);
    return a;
  }
  static V fmadd(V a, V b, V c) {
    for (int i = 0; i < 4; ++i) c.x[i] += a.x[i] * b.x[i];
    return c;
  }
  static float reduceMax(V a) { return std::max(std::max(a.x[0], a.x[1]), std::max(a.x[2], a.x[3])); }
  static float reduceAdd(V a) { return (a.x[0] + a.x[1]) + (a.x[2] + a.x[3]); }
  static void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd, float f) {
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) dst[c * ldd + r] = src[r * lds + c] * f;
  }
  static V exp(V a) {
    for (int i = 0; i < 4; ++i) a.x[i] = std::exp(a.x[i]);
    return a;
  }
};

}  // namespace
}  // namespace kd::isa_scalar

#include "cpu/attention_impl.h"
