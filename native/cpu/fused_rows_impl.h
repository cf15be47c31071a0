// The row-wise fused kernels (layer / RMS norm, bias + GELU, softmax cross-entropy), written once
// and compiled per ISA by fused_rows.cc (baseline x86-64), fused_rows_avx2.cc (AVX2 + FMA) and
// fused_rows_avx512.cc, so the compiler vectorises the elementwise passes for each: the exp / erfc maps go to glibc's
// vector math (vector_math.h; CMakeLists.txt gives these files the elementwise kernels' math
// flags, which keep NaN, infinity and the order of every sum). Row sums run in float lanes per
// chunk with the chunks added in double (chunkedSum); the column sums of a backward go to per-part
// partial sums in double, reduced after.
// Include only from those files, with KD_ISA_NS defined.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/fused_rows.h"
#include "common/parallel.h"
#include "cpu/vector_math.h"

namespace kd {

// The builds, chosen by the entry points in fused_rows.cc.
#define KD_DECLARE_FUSED_ROWS(ns)                                                                        \
  namespace ns {                                                                                         \
  void rowNormForward(const RowNormForwardArgs&);                                                        \
  void rowNormBackward(const RowNormBackwardArgs&);                                                      \
  void biasGeluForward(int64_t, int64_t, bool, const float*, const float*, float*);                      \
  void biasGeluBackward(int64_t, int64_t, bool, const float*, const float*, const float*, float*, float*); \
  void crossEntropyForward(const CrossEntropyArgs&, float*, float*, float*);                             \
  void crossEntropyBackward(const CrossEntropyArgs&, const float*, const float*, float*);                \
  }
KD_DECLARE_FUSED_ROWS(isa_scalar)
KD_DECLARE_FUSED_ROWS(isa_avx2)
KD_DECLARE_FUSED_ROWS(isa_avx512)
#undef KD_DECLARE_FUSED_ROWS

namespace KD_ISA_NS {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
// Logits handled as one chunk of a cross-entropy row: its maximum and its sum of exponentials
// are taken while the chunk sits in L1, so the row is read from memory once.
constexpr int64_t kChunk = 2048;
constexpr int kLanes = 16;  // float partial sums in chunkedSum
// Rows whose column gradients (dbias, dweight) are summed in float before they join the double
// column sums.
constexpr int64_t kBiasRows = 32;

// Column sums over rows split in parts: part p adds into its own [cols] slice of `partial`
// (parts * width doubles), then reduce() writes the totals as floats.
struct ColumnPartials {
  int parts;
  int64_t cols;
  std::vector<double> partial;
  ColumnPartials(int parts, int64_t cols, int perPart) : parts(parts), cols(cols), partial(size_t(parts) * cols * perPart, 0.0) {}
  double* slice(int part, int which, int perPart) { return partial.data() + (size_t(part) * perPart + which) * cols; }
  void reduce(float* out, int which, int perPart) {
    if (!out) return;
    parallelFor(cols, bytesCost(8.0 * parts), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int p = 0; p < parts; ++p) s += partial[(size_t(p) * perPart + which) * cols + c];
        out[c] = static_cast<float>(s);
      }
    });
  }
};

// Rows [r0, r1) of part `part` out of `parts` for `rows` rows.
inline void partRows(int64_t rows, int part, int parts, int64_t& r0, int64_t& r1) {
  r0 = rows * part / parts;
  r1 = rows * (part + 1) / parts;
}

// gelu(z) and its derivative, PyTorch's two forms (vector_math.h).
inline float geluValue(float z, bool tanhForm) { return tanhForm ? geluTanh(z) : geluErf(z); }
inline float geluSlope(float z, bool tanhForm) { return tanhForm ? geluTanhSlope(z) : geluErfSlope(z); }

// sum_j term(j) over [0, n): kLanes float partial sums within each kSumChunk-element chunk (a
// loop the compiler vectorises), the chunks' totals added in double. Each float lane adds at most
// kSumChunk / kLanes terms, so the result keeps close to double accuracy.
constexpr int64_t kSumChunk = 256;
template <class Term>
inline double chunkedSum(int64_t n, Term term) {
  double total = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kSumChunk) {
    const int64_t len = std::min(kSumChunk, n - c0), full = len - len % kLanes;
    float lanes[kLanes] = {};
    for (int64_t j = 0; j < full; j += kLanes) {
      for (int k = 0; k < kLanes; ++k) lanes[k] += term(c0 + j + k);
    }
    for (int64_t j = full; j < len; ++j) lanes[0] += term(c0 + j);
    double s = 0;
    for (int k = 0; k < kLanes; ++k) s += lanes[k];
    total += s;
  }
  return total;
}

// The cross-entropy's chunk maximum: max over x[0, n) skipping NaN, in kLanes float lanes, so the
// compiler vectorises it (x > m ? x : m is maxps); one running maximum would be a scalar chain.
inline float chunkMax(const float* x, int64_t n) {
  float lanes[kLanes];
  for (int k = 0; k < kLanes; ++k) lanes[k] = kNegInf;
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    for (int k = 0; k < kLanes; ++k) lanes[k] = x[j + k] > lanes[k] ? x[j + k] : lanes[k];
  }
  for (int64_t j = full; j < n; ++j) lanes[0] = x[j] > lanes[0] ? x[j] : lanes[0];
  float m = kNegInf;
  for (int k = 0; k < kLanes; ++k) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

// W = the sum of the class weights (the class count without weights).
inline double classWeightSum(const CrossEntropyArgs& a) {
  if (!a.weight) return static_cast<double>(a.cols);
  double s = 0;
  for (int64_t j = 0; j < a.cols; ++j) s += a.weight[j];
  return s;
}

}  // namespace

void rowNormForward(const RowNormForwardArgs& a) {
  const int64_t n = a.cols;
  parallelFor(a.rows, bytesCost(12.0 * n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * n;
      float* y = a.y + r * n;
      const double mean = a.rms || n == 0 ? 0.0 : chunkedSum(n, [x](int64_t j) { return x[j]; }) / n;
      // Two passes (the row stays in cache): the squares of x - mean, not mean(x²) - mean².
      const float m = static_cast<float>(mean);
      const double ss = chunkedSum(n, [x, m](int64_t j) {
        const float d = x[j] - m;
        return d * d;
      });
      const double var = n > 0 ? ss / n : 0.0;
      const float rs = static_cast<float>(1.0 / std::sqrt(var + a.eps));
      a.mean[r] = m;
      a.rstd[r] = rs;
      if (a.weight && a.bias) {
        for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - m) * rs * a.weight[j] + a.bias[j];
      } else if (a.weight) {
        for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - m) * rs * a.weight[j];
      } else if (a.bias) {
        for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - m) * rs + a.bias[j];
      } else {
        for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - m) * rs;
      }
    }
  });
}

void rowNormBackward(const RowNormBackwardArgs& a) {
  const int64_t n = a.cols;
  const bool columns = a.dweight || a.dbias;
  const Cost total = bytesCost(16.0 * n * a.rows);
  const int parts = columns ? std::max(1, std::min<int>(threadsForCost(total), static_cast<int>(std::max<int64_t>(a.rows, 1)))) : 1;
  ColumnPartials sums(columns ? parts : 0, n, 2);
  auto body = [&](int64_t r0, int64_t r1, double* dw, double* db) {
    // dweight and dbias: float column sums over blocks of kBiasRows rows, added into the part's
    // double sums after each block.
    std::vector<float> blockSums(dw || db ? 2 * n : 0);
    float* __restrict fw = blockSums.data();
    float* __restrict fb = fw + n;
    for (int64_t r = r0; r < r1; ++r) {
      if ((r - r0) % kBiasRows == 0) std::fill(blockSums.begin(), blockSums.end(), 0.0f);
      const float* x = a.x + r * n;
      const float* g = a.g + r * n;
      const float m = a.mean[r], rs = a.rstd[r];
      if (a.dx) {
        // sums of gw and gw * xhat
        const float* w = a.weight;
        double sg = 0, sgx = 0;
        if (w) {
          sg = a.rms ? 0.0 : chunkedSum(n, [g, w](int64_t j) { return g[j] * w[j]; });
          sgx = chunkedSum(n, [g, w, x, m, rs](int64_t j) { return g[j] * w[j] * ((x[j] - m) * rs); });
        } else {
          sg = a.rms ? 0.0 : chunkedSum(n, [g](int64_t j) { return g[j]; });
          sgx = chunkedSum(n, [g, x, m, rs](int64_t j) { return g[j] * ((x[j] - m) * rs); });
        }
        const float c1 = a.rms ? 0.0f : static_cast<float>(sg / n), c2 = static_cast<float>(sgx / n);
        float* dx = a.dx + r * n;
        if (a.accumulateDx) {
          for (int64_t j = 0; j < n; ++j) {
            const float gw = a.weight ? g[j] * a.weight[j] : g[j];
            dx[j] += rs * (gw - c1 - (x[j] - m) * rs * c2);
          }
        } else {
          for (int64_t j = 0; j < n; ++j) {
            const float gw = a.weight ? g[j] * a.weight[j] : g[j];
            dx[j] = rs * (gw - c1 - (x[j] - m) * rs * c2);
          }
        }
      }
      if (dw) for (int64_t j = 0; j < n; ++j) fw[j] += g[j] * ((x[j] - m) * rs);
      if (db) for (int64_t j = 0; j < n; ++j) fb[j] += g[j];
      if ((r - r0) % kBiasRows == kBiasRows - 1 || r == r1 - 1) {
        if (dw) for (int64_t j = 0; j < n; ++j) dw[j] += fw[j];
        if (db) for (int64_t j = 0; j < n; ++j) db[j] += fb[j];
      }
    }
  };
  if (!columns) {
    parallelFor(a.rows, bytesCost(16.0 * n), [&](int64_t r0, int64_t r1) { body(r0, r1, nullptr, nullptr); });
    return;
  }
  // parallelRun may run fewer parts than asked (one inside another region): split by its count.
  parallelRun(parts, total, [&](int part, int partsRun) {
    int64_t r0, r1;
    partRows(a.rows, part, partsRun, r0, r1);
    body(r0, r1, a.dweight ? sums.slice(part, 0, 2) : nullptr, a.dbias ? sums.slice(part, 1, 2) : nullptr);
  });
  sums.reduce(a.dweight, 0, 2);
  sums.reduce(a.dbias, 1, 2);
}

void biasGeluForward(int64_t rows, int64_t cols, bool tanhForm, const float* x, const float* bias, float* y) {
  parallelFor(rows, bytesCost(8.0 * cols) * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      if (tanhForm) {
        for (int64_t j = 0; j < cols; ++j) yr[j] = geluValue(xr[j] + bias[j], true);
      } else {
        for (int64_t j = 0; j < cols; ++j) yr[j] = geluValue(xr[j] + bias[j], false);
      }
    }
  });
}

void biasGeluBackward(int64_t rows, int64_t cols, bool tanhForm, const float* g, const float* x, const float* bias,
                      float* dx, float* dbias) {
  const Cost total = bytesCost(12.0 * cols * rows) * 4;
  const int parts = std::max(1, std::min<int>(threadsForCost(total), static_cast<int>(std::max<int64_t>(rows, 1))));
  ColumnPartials sums(dbias ? parts : 0, cols, 1);
  parallelRun(parts, total, [&](int part, int partsRun) {
    int64_t r0, r1;
    partRows(rows, part, partsRun, r0, r1);
    double* db = dbias ? sums.slice(part, 0, 1) : nullptr;
    // dbias: float column sums over blocks of kBiasRows rows, taken in the pass that writes dx,
    // added into the part's double sums after each block.
    std::vector<float> row(dx ? 0 : cols), block(db ? cols : 0);
    float* __restrict acc = block.data();
    for (int64_t b0 = r0; b0 < r1; b0 += kBiasRows) {
      const int64_t b1 = std::min(r1, b0 + kBiasRows);
      std::fill(block.begin(), block.end(), 0.0f);
      for (int64_t r = b0; r < b1; ++r) {
        const float* xr = x + r * cols;
        const float* gr = g + r * cols;
        float* __restrict dr = dx ? dx + r * cols : row.data();
        if (tanhForm && db) {
          for (int64_t j = 0; j < cols; ++j) acc[j] += dr[j] = gr[j] * geluSlope(xr[j] + bias[j], true);
        } else if (tanhForm) {
          for (int64_t j = 0; j < cols; ++j) dr[j] = gr[j] * geluSlope(xr[j] + bias[j], true);
        } else if (db) {
          for (int64_t j = 0; j < cols; ++j) acc[j] += dr[j] = gr[j] * geluSlope(xr[j] + bias[j], false);
        } else {
          for (int64_t j = 0; j < cols; ++j) dr[j] = gr[j] * geluSlope(xr[j] + bias[j], false);
        }
      }
      if (db) for (int64_t j = 0; j < cols; ++j) db[j] += acc[j];
    }
  });
  if (!dbias) return;
  sums.reduce(dbias, 0, 1);
}

void crossEntropyForward(const CrossEntropyArgs& a, float* loss, float* targetWeight, float* lse) {
  const int64_t c = a.cols;
  const double weightSum = classWeightSum(a);
  const double eps = a.labelSmoothing;
  parallelFor(a.rows, bytesCost(4.0 * c) * 4, [&](int64_t r0, int64_t r1) {
    float exps[kChunk];
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * c;
      // Running maximum and sum of exp(x - maximum), merged chunk by chunk.
      float rowMax = kNegInf;
      double sumExp = 0, sumWX = 0;
      for (int64_t c0 = 0; c0 < c; c0 += kChunk) {
        const int64_t c1 = std::min(c, c0 + kChunk);
        const float newMax = std::max(rowMax, chunkMax(x + c0, c1 - c0));  // NaN is skipped here
        if (newMax == kNegInf) {
          // Every logit so far is -inf: nothing to add to the sum.
        } else {
          if (rowMax != newMax) sumExp *= std::exp(static_cast<double>(rowMax) - newMax);
          // exp over the chunk into a buffer (a vectorised map), then summed.
          for (int64_t j = c0; j < c1; ++j) exps[j - c0] = std::exp(x[j] - newMax);
          sumExp += chunkedSum(c1 - c0, [&exps](int64_t j) { return exps[j]; });
          rowMax = newMax;
        }
        if (eps > 0) {
          const float* xc = x + c0;
          const float* wc = a.weight ? a.weight + c0 : nullptr;
          sumWX += wc ? chunkedSum(c1 - c0, [xc, wc](int64_t j) { return wc[j] * xc[j]; })
                      : chunkedSum(c1 - c0, [xc](int64_t j) { return xc[j]; });
        }
      }
      const double l = static_cast<double>(rowMax) + std::log(sumExp);
      const float hi = static_cast<float>(l);
      lse[2 * r] = hi;
      lse[2 * r + 1] = static_cast<float>(l - hi);
      const int64_t t = a.target[r];
      if (t == a.ignoreIndex) {
        loss[r] = 0;
        targetWeight[r] = 0;
        continue;
      }
      if (t < 0 || t >= c) {
        loss[r] = kNaN;
        targetWeight[r] = kNaN;
        continue;
      }
      const double wt = a.weight ? a.weight[t] : 1.0;
      double value = (1.0 - eps) * wt * (l - x[t]);
      if (eps > 0) value += eps / c * (l * weightSum - sumWX);
      loss[r] = static_cast<float>(value);
      targetWeight[r] = static_cast<float>(wt);
    }
  });
}

void crossEntropyBackward(const CrossEntropyArgs& a, const float* lse, const float* g, float* dx) {
  const int64_t c = a.cols;
  const double weightSum = classWeightSum(a);
  const double eps = a.labelSmoothing;
  parallelFor(a.rows, bytesCost(8.0 * c) * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * c;
      float* d = dx + r * c;
      const int64_t t = a.target[r];
      if (t == a.ignoreIndex) {
        std::fill(d, d + c, 0.0f);
        continue;
      }
      if (t < 0 || t >= c) {
        std::fill(d, d + c, kNaN);
        continue;
      }
      const float hi = lse[2 * r], lo = lse[2 * r + 1];
      const double wt = a.weight ? a.weight[t] : 1.0;
      const float pick = static_cast<float>(g[r] * (1.0 - eps) * wt);  // subtracted at the target
      const float spread = static_cast<float>(g[r] * eps / c);         // times weight_c, subtracted everywhere
      const float scale = static_cast<float>(g[r] * ((1.0 - eps) * wt + eps / c * weightSum));  // times p
      if (a.weight && eps > 0) {
        for (int64_t j = 0; j < c; ++j) d[j] = std::exp((x[j] - hi) - lo) * scale - spread * a.weight[j];
      } else {
        const float flat = eps > 0 ? spread : 0.0f;
        for (int64_t j = 0; j < c; ++j) d[j] = std::exp((x[j] - hi) - lo) * scale - flat;
      }
      d[t] -= pick;
    }
  });
}

}  // namespace KD_ISA_NS
}  // namespace kd
