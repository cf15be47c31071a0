// The batch-norm kernels, written over GCC vectors that compile to the ISA of the including file
// (batchnorm.cc: portable SSE2, batchnorm_avx2.cc: AVX2+FMA). The loops are memory-bound: each
// channel is reduced once and written once, and a thread owns whole channels, so the second
// pass finds the channel in its cache.
// Include only from those files, with KD_ISA_NS and KD_BATCHNORM_VECTOR_BYTES defined.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/batchnorm.h"
#include "common/parallel.h"

namespace kd {

// The builds, chosen by batchNormForward / batchNormBackward: isa_scalar (batchnorm.cc) and
// isa_avx2 (batchnorm_avx2.cc).
#define KD_DECLARE_BATCHNORM(ns)                            \
  namespace ns {                                            \
  void batchNormForward(const BatchNormForwardArgs& a);     \
  void batchNormBackward(const BatchNormBackwardArgs& a);   \
  }
KD_DECLARE_BATCHNORM(isa_scalar)
KD_DECLARE_BATCHNORM(isa_avx2)
#undef KD_DECLARE_BATCHNORM

namespace KD_ISA_NS {
namespace {

// Values reduced in float before their sums join the channel's double totals: small enough
// that float rounding stays ~1e-6 relative, large enough to keep the vector loops long.
constexpr int64_t kChunkElems = 1024;

constexpr int kW = KD_BATCHNORM_VECTOR_BYTES / 4;
typedef float FV __attribute__((vector_size(KD_BATCHNORM_VECTOR_BYTES)));

inline FV splat(float v) { return FV{} + v; }
inline FV loadV(const float* p) {
  FV v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storeV(float* p, FV v) { std::memcpy(p, &v, sizeof v); }
inline float hsum(FV v) {
  float s = v[0];
  for (int i = 1; i < kW; ++i) s += v[i];
  return s;
}

// One operand of [n, c, l] at channel c: element (i, j) is at base + i * sn + j * sl.
struct ChannelView {
  float* base;
  int64_t sn, sl;
  float* at(int64_t i, int64_t j) const { return base + i * sn + j * sl; }
};
inline ChannelView channelOf(const Operand& o, int64_t c) {
  return {reinterpret_cast<float*>(o.data) + c * o.strides[1], o.strides[0], o.strides[2]};
}
inline float perChannel(const Operand& o, int64_t c, float absent) {
  return o.data ? reinterpret_cast<const float*>(o.data)[c * o.strides[0]] : absent;
}

// The sum of len values p[0], p[sl], ...
inline float rowSum(const float* p, int64_t len, int64_t sl) {
  float s = 0.f;
  int64_t j = 0;
  if (sl == 1) {
    FV acc = splat(0.f);
    for (; j + kW <= len; j += kW) acc += loadV(p + j);
    s = hsum(acc);
  }
  for (; j < len; ++j) s += p[j * sl];
  return s;
}

// d += sum(x - center), q += sum((x - center)^2) over one row segment.
inline void rowDeviations(const float* p, int64_t len, int64_t sl, float center, double& d, double& q) {
  float sd = 0.f, sq = 0.f;
  int64_t j = 0;
  if (sl == 1) {
    FV accD = splat(0.f), accQ = splat(0.f);
    const FV vc = splat(center);
    for (; j + kW <= len; j += kW) {
      const FV dev = loadV(p + j) - vc;
      accD += dev;
      accQ += dev * dev;
    }
    sd = hsum(accD);
    sq = hsum(accQ);
  }
  for (; j < len; ++j) {
    const float dev = p[j * sl] - center;
    sd += dev;
    sq += dev * dev;
  }
  d += sd;
  q += sq;
}

// The channel's values as chunks of whole rows (short rows) or of parts of one row (long rows).
template <class Visit>
void forEachChunk(int64_t n, int64_t l, Visit visit) {
  const int64_t rows = std::max<int64_t>(1, kChunkElems / std::max<int64_t>(l, 1));
  const int64_t cols = std::min<int64_t>(l, kChunkElems);
  for (int64_t i0 = 0; i0 < n; i0 += rows) {
    const int64_t i1 = std::min(n, i0 + rows);
    for (int64_t j0 = 0; j0 < l; j0 += cols) visit(i0, i1, j0, std::min(l, j0 + cols));
  }
}

// Mean and biased variance of one channel's n * l values. Each chunk is reduced about its own
// float mean (two reads of data in L1: the sum, then the deviations), and the chunks are
// combined in double with Chan's formula, so neither a large mean nor a large count loses
// precision.
void channelMoments(const ChannelView& x, int64_t n, int64_t l, double& mean, double& var) {
  double count = 0, mu = 0, m2 = 0;
  forEachChunk(n, l, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const int64_t len = j1 - j0;
    const double k = double(i1 - i0) * double(len);
    double s = 0;
    for (int64_t i = i0; i < i1; ++i) s += rowSum(x.at(i, j0), len, x.sl);
    const float center = float(s / k);
    double d = 0, q = 0;
    for (int64_t i = i0; i < i1; ++i) rowDeviations(x.at(i, j0), len, x.sl, center, d, q);
    // About the chunk's exact mean center + d/k: M2 = q - d^2 / k.
    const double chunkMean = center + d / k, chunkM2 = std::max(0.0, q - d * d / k);
    const double total = count + k, delta = chunkMean - mu;
    mu += delta * k / total;
    m2 += chunkM2 + delta * delta * count * k / total;
    count = total;
  });
  mean = mu;
  var = count > 0 ? m2 / count : 0;
}

// out[i, j] = a * u[i, j] + b (+ c * v[i, j] when v is given) over one channel.
void affineRows(const ChannelView& out, const ChannelView& u, const ChannelView* v, int64_t n, int64_t l, float a,
                float b, float c) {
  for (int64_t i = 0; i < n; ++i) {
    float* o = out.at(i, 0);
    const float* pu = u.at(i, 0);
    const float* pv = v ? v->at(i, 0) : nullptr;
    int64_t j = 0;
    if (out.sl == 1 && u.sl == 1 && (!v || v->sl == 1)) {
      const FV va = splat(a), vb = splat(b), vc = splat(c);
      if (pv) {
        for (; j + kW <= l; j += kW) storeV(o + j, va * loadV(pu + j) + vc * loadV(pv + j) + vb);
      } else {
        for (; j + kW <= l; j += kW) storeV(o + j, va * loadV(pu + j) + vb);
      }
    }
    for (; j < l; ++j) o[j * out.sl] = a * pu[j * u.sl] + (pv ? c * pv[j * v->sl] : 0.f) + b;
  }
}

}  // namespace

void batchNormForward(const BatchNormForwardArgs& a) {
  const int64_t n = a.s.n, l = a.s.l;
  const double count = double(n) * double(l);
  parallelFor(a.s.c, bytesCost(16.0 * count), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const ChannelView x = channelOf(a.x, c), y = channelOf(a.y, c);
      double mean, var;
      if (a.training) {
        channelMoments(x, n, l, mean, var);
        if (a.runningMean.data) {
          float& rm = reinterpret_cast<float*>(a.runningMean.data)[c * a.runningMean.strides[0]];
          rm = float((1 - a.momentum) * rm + a.momentum * mean);
        }
        if (a.runningVar.data) {
          float& rv = reinterpret_cast<float*>(a.runningVar.data)[c * a.runningVar.strides[0]];
          const double unbiased = count > 1 ? var * count / (count - 1) : var;
          rv = float((1 - a.momentum) * rv + a.momentum * unbiased);
        }
      } else {
        mean = perChannel(a.runningMean, c, 0.f);
        var = perChannel(a.runningVar, c, 1.f);
      }
      const double invstd = 1.0 / std::sqrt(var + a.eps);
      a.saveMean[c] = float(mean);
      a.saveInvstd[c] = float(invstd);
      const double scale = invstd * perChannel(a.weight, c, 1.f);
      const double shift = perChannel(a.bias, c, 0.f) - mean * scale;
      affineRows(y, x, nullptr, n, l, float(scale), float(shift), 0.f);
    }
  });
}

void batchNormBackward(const BatchNormBackwardArgs& a) {
  const int64_t n = a.s.n, l = a.s.l;
  const double count = double(n) * double(l);
  parallelFor(a.s.c, bytesCost(20.0 * count), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const ChannelView x = channelOf(a.x, c), g = channelOf(a.g, c);
      const float mean = a.saveMean[c];
      const double invstd = a.saveInvstd[c];
      // sum g and sum g * (x - mean), each chunk in float, the totals in double.
      double sumG = 0, sumGXc = 0;
      forEachChunk(n, l, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
        const int64_t len = j1 - j0;
        for (int64_t i = i0; i < i1; ++i) {
          const float* pg = g.at(i, j0);
          const float* px = x.at(i, j0);
          float sg = 0.f, sgx = 0.f;
          int64_t j = 0;
          if (g.sl == 1 && x.sl == 1) {
            FV accG = splat(0.f), accGX = splat(0.f);
            const FV vm = splat(mean);
            for (; j + kW <= len; j += kW) {
              const FV vg = loadV(pg + j);
              accG += vg;
              accGX += vg * (loadV(px + j) - vm);
            }
            sg = hsum(accG);
            sgx = hsum(accGX);
          }
          for (; j < len; ++j) {
            sg += pg[j * g.sl];
            sgx += pg[j * g.sl] * (px[j * x.sl] - mean);
          }
          sumG += sg;
          sumGXc += sgx;
        }
      });
      const double sumGXhat = sumGXc * invstd;
      if (a.dbias) a.dbias[c] = float(sumG);
      if (a.dweight) a.dweight[c] = float(sumGXhat);
      if (!a.dx.data) continue;
      const ChannelView dx = channelOf(a.dx, c);
      const double k1 = invstd * perChannel(a.weight, c, 1.f);
      if (!a.training) {
        affineRows(dx, g, nullptr, n, l, float(k1), 0.f, 0.f);
        continue;
      }
      // dx = k1 * (g - sumG / M - xhat * sumGXhat / M) = k1 * g + k2 * x + k3.
      const double k2 = -k1 * invstd * sumGXhat / count;
      const double k3 = -k1 * sumG / count - k2 * mean;
      affineRows(dx, g, &x, n, l, float(k1), float(k3), float(k2));
    }
  });
}

}  // namespace KD_ISA_NS
}  // namespace kd
