// The softmax kernels, written over GCC vectors that compile to the ISA of the including file
// (softmax.cc: portable SSE2, softmax_avx2.cc: AVX2+FMA). exp is a polynomial in plain
// arithmetic, so no libm call and no -ffast-math is needed.
// Include only from those files, with KD_ISA_NS and KD_SOFTMAX_VECTOR_BYTES defined.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "common/softmax.h"
#include "common/strided.h"

namespace kd {

// The builds, chosen by softmaxKernel / softmaxBackwardKernel: isa_scalar (softmax.cc) and
// isa_avx2 (softmax_avx2.cc).
#define KD_DECLARE_SOFTMAX(ns)                                                                 \
  namespace ns {                                                                               \
  void softmaxKernel(bool, int, const int64_t*, int, Operand, Operand);                        \
  void softmaxBackwardKernel(bool, int, const int64_t*, int, Operand, Operand, Operand);       \
  }
KD_DECLARE_SOFTMAX(isa_scalar)
KD_DECLARE_SOFTMAX(isa_avx2)
#undef KD_DECLARE_SOFTMAX

namespace KD_ISA_NS {
namespace {

constexpr int64_t kColumnWidth = 64;  // columns handled together when rows are strided
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kInf = std::numeric_limits<float>::infinity();

// kW float lanes as a GCC vector: 8 (an AVX2 register) in softmax_avx2.cc, 4 (SSE) elsewhere.
constexpr int kW = KD_SOFTMAX_VECTOR_BYTES / 4;
typedef float FV __attribute__((vector_size(KD_SOFTMAX_VECTOR_BYTES)));
typedef int32_t IV __attribute__((vector_size(KD_SOFTMAX_VECTOR_BYTES)));

inline FV splat(float v) { return FV{} + v; }
inline FV loadV(const float* p) {
  FV v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storeV(float* p, FV v) { std::memcpy(p, &v, sizeof v); }
// The first n (< 8) elements of p, the other lanes set to `fill`.
inline FV loadPart(const float* p, int64_t n, float fill) {
  float t[kW];
  for (int i = 0; i < kW; ++i) t[i] = i < n ? p[i] : fill;
  return loadV(t);
}
inline void storePart(float* p, FV v, int64_t n) {
  float t[kW];
  storeV(t, v);
  for (int64_t i = 0; i < n; ++i) p[i] = t[i];
}
inline FV vmax(const FV& a, const FV& b) { return a > b ? a : b; }  // NaN in a is skipped
inline float hsum(FV v) {
  float s = v[0];
  for (int i = 1; i < kW; ++i) s += v[i];
  return s;
}
inline float hmax(FV v) {
  float m = v[0];
  for (int i = 1; i < kW; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

// exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln2 / 2, exp(r) by a degree-7 polynomial
// (relative error ~1e-7). Below the normal range the result is 0; NaN stays NaN.
inline FV vexp(FV x) {
  const FV lo = splat(-87.3365448f), hi = splat(88.3762626f), round = splat(12582912.0f);  // 1.5 * 2^23
  FV xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  FV t = xc * 1.44269504088896341f + round;
  FV n = t - round;
  IV ni = __builtin_bit_cast(IV, t) - __builtin_bit_cast(IV, round);
  FV r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  FV p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  FV y = p * __builtin_bit_cast(FV, (ni + 127) << 23);
  y = x < lo ? splat(0.0f) : y;
  y = x > 88.7228394f ? splat(kInf) : y;
  return x != x ? x : y;
}

// NaN is skipped here; it reaches the output through the sum of exp.
float rowMax(const float* x, int64_t n) {
  FV m = splat(kNegInf);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) m = vmax(loadV(x + i), m);
  if (i < n) m = vmax(loadPart(x + i, n - i, kNegInf), m);
  return hmax(m);
}

// y = exp(x - m); returns sum(y).
float rowExp(const float* x, float m, float* y, int64_t n) {
  FV s = splat(0.0f), mv = splat(m);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    FV e = vexp(loadV(x + i) - mv);
    storeV(y + i, e);
    s += e;
  }
  if (i < n) {
    FV e = vexp(loadPart(x + i, n - i, kNegInf) - mv);  // padding lanes give exp(-inf) = 0
    storePart(y + i, e, n - i);
    s += e;
  }
  return hsum(s);
}

// sum(a * b), or sum(a) when b is null.
float rowDot(const float* a, const float* b, int64_t n) {
  FV s = splat(0.0f);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) s += b ? loadV(a + i) * loadV(b + i) : loadV(a + i);
  if (i < n) s += b ? loadPart(a + i, n - i, 0.0f) * loadPart(b + i, n - i, 0.0f) : loadPart(a + i, n - i, 0.0f);
  return hsum(s);
}

// One contiguous row: y = softmax(x) or log-softmax(x). All -inf gives NaN, as in PyTorch.
void forwardRow(bool log, float* y, const float* x, int64_t n) {
  const float m = rowMax(x, n);
  const float sum = rowExp(x, m, y, n);
  if (log) {
    const float lse = std::log(sum);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - lse;
  } else {
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

void backwardRow(bool log, float* dx, const float* y, const float* g, int64_t n) {
  if (log) {
    const FV s = splat(rowDot(g, nullptr, n));
    int64_t i = 0;
    for (; i + kW <= n; i += kW) storeV(dx + i, loadV(g + i) - vexp(loadV(y + i)) * s);
    if (i < n) storePart(dx + i, loadPart(g + i, n - i, 0.0f) - vexp(loadPart(y + i, n - i, 0.0f)) * s, n - i);
  } else {
    const float s = rowDot(g, y, n);
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] * (g[i] - s);
  }
}

// w <= kColumnWidth adjacent columns (contiguous in memory), each a row of n elements with
// stride ys / xs along dim. Each pass walks the rows once, kW columns per vector, so the
// w columns' running max and sum stay in registers.
struct ColumnBlock {
  int64_t groups, tail;  // vectors of kW columns; the last holds `tail` (1..kW)
  explicit ColumnBlock(int64_t w) : groups((w + kW - 1) / kW), tail(w - ((w + kW - 1) / kW - 1) * kW) {}
  FV load(const float* p, int64_t g, float fill) const {
    return g + 1 < groups || tail == kW ? loadV(p + kW * g) : loadPart(p + kW * g, tail, fill);
  }
  void store(float* p, int64_t g, FV v) const {
    if (g + 1 < groups || tail == kW) storeV(p + kW * g, v); else storePart(p + kW * g, v, tail);
  }
};

void forwardColumns(bool log, float* y, int64_t ys, const float* x, int64_t xs, int64_t n, int64_t w) {
  const ColumnBlock cb(w);
  FV m[kColumnWidth / kW], s[kColumnWidth / kW];
  for (int64_t g = 0; g < cb.groups; ++g) m[g] = splat(kNegInf), s[g] = splat(0.0f);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t g = 0; g < cb.groups; ++g) m[g] = vmax(cb.load(x + j * xs, g, kNegInf), m[g]);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t g = 0; g < cb.groups; ++g) {
      const FV e = vexp(cb.load(x + j * xs, g, kNegInf) - m[g]);
      if (!log) cb.store(y + j * ys, g, e);
      s[g] += e;
    }
  }
  if (log) {
    for (int64_t g = 0; g < cb.groups; ++g)
      for (int i = 0; i < kW; ++i) s[g][i] = std::log(s[g][i]);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t g = 0; g < cb.groups; ++g) cb.store(y + j * ys, g, (cb.load(x + j * xs, g, 0.0f) - m[g]) - s[g]);
  } else {
    for (int64_t g = 0; g < cb.groups; ++g) s[g] = 1.0f / s[g];
    for (int64_t j = 0; j < n; ++j)
      for (int64_t g = 0; g < cb.groups; ++g) cb.store(y + j * ys, g, cb.load(y + j * ys, g, 0.0f) * s[g]);
  }
}

void backwardColumns(bool log, float* dx, int64_t ds, const float* y, int64_t ys, const float* g, int64_t gs,
                     int64_t n, int64_t w) {
  const ColumnBlock cb(w);
  FV s[kColumnWidth / kW];
  for (int64_t v = 0; v < cb.groups; ++v) s[v] = splat(0.0f);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t v = 0; v < cb.groups; ++v)
      s[v] += log ? cb.load(g + j * gs, v, 0.0f) : cb.load(g + j * gs, v, 0.0f) * cb.load(y + j * ys, v, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t v = 0; v < cb.groups; ++v) {
      const FV gv = cb.load(g + j * gs, v, 0.0f), yv = cb.load(y + j * ys, v, 0.0f);
      cb.store(dx + j * ds, v, log ? gv - vexp(yv) * s[v] : yv * (gv - s[v]));
    }
  }
}

// Walks every row along `dim` of N float32 operands (operand 0 is the output). The dims off
// `dim` are coalesced into rows x K. Rows contiguous in every operand go to row(p, n); when
// instead the K dim is contiguous in every operand, blocks of columns go to columns(p, dimStrides,
// n, w); anything else is copied through per-thread contiguous buffers and handed to row().
template <int N, class Row, class Columns>
void forEachSoftmaxRow(int ndim, const int64_t* shape, int dim, const Operand (&ops)[N], Row row, Columns columns) {
  const int64_t n = shape[dim];
  int64_t pShape[kMaxDims], pStrides[N][kMaxDims];
  int m = 0;
  for (int d = 0; d < ndim; ++d) {
    if (d == dim) continue;
    pShape[m] = shape[d];
    for (int k = 0; k < N; ++k) pStrides[k][m] = ops[k].strides[d];
    ++m;
  }
  for (int d = 0; d < m; ++d)
    if (pShape[d] == 0) return;
  if (n == 0) return;
  const int64_t* strideLists[N];
  int bytes[N];
  for (int k = 0; k < N; ++k) strideLists[k] = pStrides[k], bytes[k] = sizeof(float);
  StridedLoop<N> loop(m, pShape, strideLists, bytes);
  const int64_t K = loop.innerLength(), R = loop.rowCount();
  int64_t ks[N], ds[N];  // elements
  bool rowsContiguous = true, columnsContiguous = K > 1;
  for (int k = 0; k < N; ++k) {
    ks[k] = loop.strides[k][loop.ndim - 1] / static_cast<int64_t>(sizeof(float));
    ds[k] = ops[k].strides[dim];
    rowsContiguous = rowsContiguous && (ds[k] == 1 || n == 1);
    columnsContiguous = columnsContiguous && ks[k] == 1;
  }
  auto pointers = [&](int64_t r, int64_t kk, float* p[N]) {
    int64_t off[N];
    loop.rowOffsets(r, off);
    for (int k = 0; k < N; ++k)
      p[k] = reinterpret_cast<float*>(ops[k].data + off[k]) + kk * ks[k];
  };

  if (!rowsContiguous && columnsContiguous) {
    const int64_t blocks = (K + kColumnWidth - 1) / kColumnWidth;
    parallelFor(R * blocks, bytesCost(16.0 * n * kColumnWidth), [&](int64_t b, int64_t e) {
      float* p[N];
      for (int64_t u = b; u < e; ++u) {
        const int64_t r = u / blocks, k0 = (u % blocks) * kColumnWidth;
        pointers(r, k0, p);
        columns(p, ds, n, std::min(kColumnWidth, K - k0));
      }
    });
    return;
  }
  parallelFor(R * K, bytesCost(16.0 * n), [&](int64_t b, int64_t e) {
    float* p[N];
    std::vector<float> buffer(rowsContiguous ? 0 : static_cast<size_t>(N * n));
    for (int64_t u = b; u < e; ++u) {
      pointers(u / K, u % K, p);
      if (rowsContiguous) {
        row(p, n);
        continue;
      }
      float* q[N];
      for (int k = 0; k < N; ++k) {
        q[k] = buffer.data() + k * n;
        if (k == 0) continue;
        for (int64_t j = 0; j < n; ++j) q[k][j] = p[k][j * ds[k]];
      }
      row(q, n);
      for (int64_t j = 0; j < n; ++j) p[0][j * ds[0]] = q[0][j];
    }
  });
}

}  // namespace

void softmaxKernel(bool log, int ndim, const int64_t* shape, int dim, Operand out, Operand x) {
  const Operand ops[2] = {out, x};
  forEachSoftmaxRow<2>(
      ndim, shape, dim, ops, [&](float* const* p, int64_t n) { forwardRow(log, p[0], p[1], n); },
      [&](float* const* p, const int64_t* ds, int64_t n, int64_t w) {
        forwardColumns(log, p[0], ds[0], p[1], ds[1], n, w);
      });
}

void softmaxBackwardKernel(bool log, int ndim, const int64_t* shape, int dim, Operand dx, Operand y, Operand g) {
  const Operand ops[3] = {dx, y, g};
  forEachSoftmaxRow<3>(
      ndim, shape, dim, ops, [&](float* const* p, int64_t n) { backwardRow(log, p[0], p[1], p[2], n); },
      [&](float* const* p, const int64_t* ds, int64_t n, int64_t w) {
        backwardColumns(log, p[0], ds[0], p[1], ds[1], p[2], ds[2], n, w);
      });
}

}  // namespace KD_ISA_NS
}  // namespace kd
