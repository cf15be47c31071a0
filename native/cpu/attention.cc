// Dispatch of the fused attention kernels on kd::activeIsa(), and the float64 reference.
#include "common/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/isa.h"

namespace kd {

const char* attentionGeometryProblem(const AttentionGeometry& g) {
  if (g.batch < 0 || g.qLen < 0 || g.kvLen < 0) return "batch, qLen and kvLen must be >= 0";
  if (g.heads < 1 || g.kvHeads < 1) return "heads and kvHeads must be >= 1";
  if (g.heads % g.kvHeads != 0) return "heads must be a multiple of kvHeads";
  if (g.headDim < 1 || g.headDim > kAttentionMaxHeadDim) return "headDim must be in [1, 256]";
  if (!(g.dropoutP >= 0.0f && g.dropoutP < 1.0f)) return "dropoutP must be in [0, 1)";
  if (!std::isfinite(g.scale)) return "scale must be finite";
  if (g.maskKind != AttentionMaskKind::None && g.maskKind != AttentionMaskKind::Additive &&
      g.maskKind != AttentionMaskKind::Bool)
    return "unknown mask kind";
  return nullptr;
}

void attentionForward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                      AttentionMask mask, AttentionOutput out, float* logsumexp) {
  switch (activeIsa()) {
    case CpuIsa::Avx512: return isa_avx512::attentionForward(g, q, k, v, mask, out, logsumexp);
    case CpuIsa::Avx2: return isa_avx2::attentionForward(g, q, k, v, mask, out, logsumexp);
    default: return isa_scalar::attentionForward(g, q, k, v, mask, out, logsumexp);
  }
}

void attentionBackward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                       AttentionMask mask, AttentionInput out, AttentionInput gradOut, const float* logsumexp,
                       AttentionOutput gradQ, AttentionOutput gradK, AttentionOutput gradV) {
  switch (activeIsa()) {
    case CpuIsa::Avx512:
      return isa_avx512::attentionBackward(g, q, k, v, mask, out, gradOut, logsumexp, gradQ, gradK, gradV);
    case CpuIsa::Avx2:
      return isa_avx2::attentionBackward(g, q, k, v, mask, out, gradOut, logsumexp, gradQ, gradK, gradV);
    default:
      return isa_scalar::attentionBackward(g, q, k, v, mask, out, gradOut, logsumexp, gradQ, gradK, gradV);
  }
}

namespace {

constexpr double kNegInfD = -std::numeric_limits<double>::infinity();

// The weights of one (b, h) before dropout, P [qLen][kvLen] (zero rows where fully masked),
// the dropout factors Z, and each row's log-sum-exp.
struct RefWeights {
  std::vector<double> p, z, lse;
};

RefWeights refWeights(const AttentionGeometry& g, const double* q, const double* k, const AttentionMask& mask,
                      int64_t b, int64_t h) {
  const int64_t L = g.qLen, S = g.kvLen, D = g.headDim, kvh = h / (g.heads / g.kvHeads);
  const double* qh = q + (b * g.heads + h) * L * D;
  const double* kh = k + (b * g.kvHeads + kvh) * S * D;
  RefWeights w{std::vector<double>(L * S), std::vector<double>(L * S, 1.0), std::vector<double>(L)};
  const double keepScale = g.dropoutP > 0.0f ? 1.0 / (1.0 - static_cast<double>(g.dropoutP)) : 1.0;
  for (int64_t i = 0; i < L; ++i) {
    double* row = w.p.data() + i * S;
    for (int64_t j = 0; j < S; ++j) {
      double s = 0.0;
      for (int64_t c = 0; c < D; ++c) s += qh[i * D + c] * kh[j * D + c];
      s *= static_cast<double>(g.scale);
      const int64_t at = b * mask.strides[0] + h * mask.strides[1] + i * mask.strides[2] + j * mask.strides[3];
      if (g.maskKind == AttentionMaskKind::Additive) s += static_cast<const float*>(mask.data)[at];
      if (g.maskKind == AttentionMaskKind::Bool && !static_cast<const uint8_t*>(mask.data)[at]) s = kNegInfD;
      if (g.causal && j > i) s = kNegInfD;
      row[j] = s;
    }
    const double m = S > 0 ? *std::max_element(row, row + S) : kNegInfD;
    if (m == kNegInfD) {
      std::fill(row, row + S, 0.0);
      w.lse[i] = kNegInfD;
    } else {
      double sum = 0.0;
      for (int64_t j = 0; j < S; ++j) sum += row[j] = std::exp(row[j] - m);
      for (int64_t j = 0; j < S; ++j) row[j] /= sum;
      w.lse[i] = m + std::log(sum);
    }
    if (g.dropoutP > 0.0f) {
      const uint64_t rowKey = attentionDropoutRowKey(g.seed, g.offset, (b * g.heads + h) * L + i);
      for (int64_t j = 0; j < S; ++j)
        w.z[i * S + j] = attentionDropoutUniform(rowKey, static_cast<uint32_t>(j)) < g.dropoutP ? 0.0 : keepScale;
    }
  }
  return w;
}

}  // namespace

void attentionRef(const AttentionGeometry& g, const double* q, const double* k, const double* v,
                  AttentionMask mask, double* out, double* logsumexp) {
  const int64_t L = g.qLen, S = g.kvLen, D = g.headDim;
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t h = 0; h < g.heads; ++h) {
      const RefWeights w = refWeights(g, q, k, mask, b, h);
      const double* vh = v + (b * g.kvHeads + h / (g.heads / g.kvHeads)) * S * D;
      double* oh = out + (b * g.heads + h) * L * D;
      for (int64_t i = 0; i < L; ++i) {
        for (int64_t c = 0; c < D; ++c) {
          double acc = 0.0;
          for (int64_t j = 0; j < S; ++j) acc += w.p[i * S + j] * w.z[i * S + j] * vh[j * D + c];
          oh[i * D + c] = acc;
        }
        if (logsumexp) logsumexp[(b * g.heads + h) * L + i] = w.lse[i];
      }
    }
}

// With P the weights, Z the dropout factors and O = (P∘Z) V:
//   dV = (P∘Z)ᵀ dO,  dP = Z ∘ (dO Vᵀ),  dS = P ∘ (dP - rowsum(P∘dP)),  dQ = scale dS K,
//   dK = scale dSᵀ Q (summed over the query heads that share a key/value head).
void attentionBackwardRef(const AttentionGeometry& g, const double* q, const double* k, const double* v,
                          AttentionMask mask, const double* gradOut, double* gradQ, double* gradK,
                          double* gradV) {
  const int64_t L = g.qLen, S = g.kvLen, D = g.headDim;
  std::fill(gradK, gradK + g.batch * g.kvHeads * S * D, 0.0);
  std::fill(gradV, gradV + g.batch * g.kvHeads * S * D, 0.0);
  const double scale = g.scale;
  std::vector<double> ds(S);
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t h = 0; h < g.heads; ++h) {
      const RefWeights w = refWeights(g, q, k, mask, b, h);
      const int64_t kvh = h / (g.heads / g.kvHeads);
      const double* qh = q + (b * g.heads + h) * L * D;
      const double* kh = k + (b * g.kvHeads + kvh) * S * D;
      const double* vh = v + (b * g.kvHeads + kvh) * S * D;
      const double* doh = gradOut + (b * g.heads + h) * L * D;
      double* dqh = gradQ + (b * g.heads + h) * L * D;
      double* dkh = gradK + (b * g.kvHeads + kvh) * S * D;
      double* dvh = gradV + (b * g.kvHeads + kvh) * S * D;
      for (int64_t i = 0; i < L; ++i) {
        const double* p = w.p.data() + i * S;
        const double* z = w.z.data() + i * S;
        double rowDot = 0.0;
        for (int64_t j = 0; j < S; ++j) {
          double dp = 0.0;
          for (int64_t c = 0; c < D; ++c) dp += doh[i * D + c] * vh[j * D + c];
          ds[j] = z[j] * dp;  // dP
          rowDot += p[j] * ds[j];
          for (int64_t c = 0; c < D; ++c) dvh[j * D + c] += p[j] * z[j] * doh[i * D + c];
        }
        for (int64_t c = 0; c < D; ++c) dqh[i * D + c] = 0.0;
        for (int64_t j = 0; j < S; ++j) {
          const double dsij = p[j] * (ds[j] - rowDot);
          for (int64_t c = 0; c < D; ++c) {
            dqh[i * D + c] += scale * dsij * kh[j * D + c];
            dkh[j * D + c] += scale * dsij * qh[i * D + c];
          }
        }
      }
    }
}

}  // namespace kd
