// Fused scaled-dot-product attention on CUDA, FP32 on the SIMT cores (FlashAttention-2's
// schedule; the tensor-core variants are separate work). Semantics, masks, causal alignment and
// the dropout hash are native/common/attention.h's, so CPU and GPU agree given (seed, offset).
//
// Tiling. A warp's 32 lanes take 32 keys (or 32 query rows in the key/value gradient): lane j
// computes one score q_i·k_j over the whole head dim from shared memory, the warp combines the
// row's maximum and sum with shuffles, and for the weighted sums each lane owns output columns
// c = lane + 32t (t < 8, so headDim <= 256) and receives the weights by shuffle.
// - forward: a block owns 16 query rows of one (batch, head) (4 warps × 4 rows). Shared memory
//   holds the 16 query rows, and per step a tile of 32 keys (row stride D + 1, so lanes reading
//   one column of different keys hit different banks) and 32 values. Online softmax: running
//   maximum m, sum l and the unnormalised output per row in registers; out = o / l and
//   logsumexp = m + log l at the end. Under causal masking the key loop stops after the block's
//   last query row (whole masked tiles are never loaded).
// - backward: D_i = dO_i·O_i (equal to Σ_j P_ij dP_ij, also with dropout), then two kernels
//   that recompute P_ij = exp(s_ij - logsumexp_i): the query gradient with the forward's layout
//   (dQ_i = scale Σ_j dS_ij k_j), and the key/value gradients with a block per 16 keys of one
//   (batch, kvHead) looping over the query heads of its group and 32-row query tiles (dV_j =
//   Σ_i P_ij Z_ij dO_i, dK_j = scale Σ_i dS_ij q_i), so every gradient element has one writer:
//   no atomics, deterministic. Causal: query tiles that end before the block's first key are skipped.
// The geometry is assumed valid (attentionGeometryProblem, checked by the binding).
// A fully masked row gives out = 0, logsumexp = -inf and zero gradients, as on the CPU.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "check.cuh"
#include "common/attention.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

constexpr int kWarps = 4, kThreads = 32 * kWarps;
constexpr int kKeyTile = 32;                          // keys per step (one per lane)
constexpr int kQueryRows = 16;                        // query rows per forward / dQ block
constexpr int kRowsPerWarp = kQueryRows / kWarps;
constexpr int kKeyRows = 16;                          // keys per dK/dV block
constexpr int kKeysPerWarp = kKeyRows / kWarps;
constexpr int kQueryTile = 32;                        // query rows per dK/dV step (one per lane)
constexpr int kColsPerLane = kAttentionMaxHeadDim / 32;
static_assert(kAttentionMaxHeadDim % 32 == 0, "head dim columns are spread over 32 lanes");

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
  return v;
}

__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, d));
  return v;
}

__device__ __forceinline__ float at(const AttentionInput& x, int64_t b, int64_t h, int64_t n, int64_t c) {
  return x.data[b * x.strides[0] + h * x.strides[1] + n * x.strides[2] + c * x.strides[3]];
}

// scale·dot plus the mask for query i, key j of (b, h); -inf where the key does not take part.
__device__ __forceinline__ float maskedScore(const AttentionGeometry& g, const AttentionMask& mask, int64_t b, int64_t h,
                                             int64_t i, int64_t j, float dot) {
  if (j >= g.kvLen || i >= g.qLen || (g.causal && j > i)) return -INFINITY;
  float s = dot * g.scale;
  if (g.maskKind != AttentionMaskKind::None) {
    const int64_t pos = b * mask.strides[0] + h * mask.strides[1] + i * mask.strides[2] + j * mask.strides[3];
    if (g.maskKind == AttentionMaskKind::Additive) s += static_cast<const float*>(mask.data)[pos];
    else if (!static_cast<const uint8_t*>(mask.data)[pos]) return -INFINITY;
  }
  return s;
}

// The dropout factor Z_ij: 0 for a dropped weight, 1 / (1 - p) for a kept one, 1 without dropout.
__device__ __forceinline__ float dropoutFactor(const AttentionGeometry& g, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (g.dropoutP <= 0.0f) return 1.0f;
  const uint64_t rowKey = attentionDropoutRowKey(g.seed, g.offset, static_cast<uint64_t>((b * g.heads + h) * g.qLen + i));
  return attentionDropoutUniform(rowKey, static_cast<uint32_t>(j)) < g.dropoutP ? 0.0f : 1.0f / (1.0f - g.dropoutP);
}

// Rows [n0, n0 + rows) of x's (b, h) into dst with row stride `ld`; rows past `len` are zeros.
__device__ __forceinline__ void loadRows(float* dst, int ld, const AttentionInput& x, int64_t b, int64_t h, int64_t n0,
                                         int rows, int64_t len, int D) {
  for (int idx = threadIdx.x; idx < rows * D; idx += kThreads) {
    const int r = idx / D, c = idx % D;
    dst[r * ld + c] = n0 + r < len ? at(x, b, h, n0 + r, c) : 0.0f;
  }
}

// Row i of the (b, h) slice of a strided output.
__device__ __forceinline__ float* rowOf(const AttentionOutput& o, int64_t b, int64_t h, int64_t i) {
  return o.data + b * o.strides[0] + h * o.strides[1] + i * o.strides[2];
}

__global__ void __launch_bounds__(kThreads) attentionForwardKernel(AttentionGeometry g, AttentionInput q, AttentionInput k,
                                                                  AttentionInput v, AttentionMask mask, AttentionOutput out,
                                                                  float* logsumexp, int64_t rowBlocks) {
  extern __shared__ float smem[];
  const int D = static_cast<int>(g.headDim), ldk = D + 1;
  float* qs = smem;                        // [kQueryRows][D]
  float* ks = qs + kQueryRows * D;         // [kKeyTile][D + 1]
  float* vs = ks + kKeyTile * ldk;         // [kKeyTile][D]
  const int64_t bh = blockIdx.x / rowBlocks, i0 = (blockIdx.x % rowBlocks) * kQueryRows;
  const int64_t b = bh / g.heads, h = bh % g.heads, kvh = h / (g.heads / g.kvHeads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  loadRows(qs, D, q, b, h, i0, kQueryRows, g.qLen, D);

  float m[kRowsPerWarp], l[kRowsPerWarp], o[kRowsPerWarp][kColsPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) o[r][t] = 0.0f;
  }
  const int64_t lastRow = (i0 + kQueryRows < g.qLen ? i0 + kQueryRows : g.qLen) - 1;
  const int64_t kvEnd = g.causal && lastRow + 1 < g.kvLen ? lastRow + 1 : g.kvLen;
  for (int64_t j0 = 0; j0 < kvEnd; j0 += kKeyTile) {
    __syncthreads();  // the previous tile is consumed (and, the first time, the query rows are stored)
    loadRows(ks, ldk, k, b, kvh, j0, kKeyTile, g.kvLen, D);
    loadRows(vs, D, v, b, kvh, j0, kKeyTile, g.kvLen, D);
    __syncthreads();
    const int64_t j = j0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int row = warp + r * kWarps;
      const int64_t i = i0 + row;
      if (i >= g.qLen) continue;  // warp-uniform
      float dot = 0.0f;
      for (int c = 0; c < D; ++c) dot += qs[row * D + c] * ks[lane * ldk + c];
      const float s = maskedScore(g, mask, b, h, i, j, dot);
      const float mNew = fmaxf(m[r], warpMax(s));
      if (mNew == -INFINITY) continue;  // every key so far masked (warp-uniform)
      float p = s == -INFINITY ? 0.0f : expf(s - mNew);
      const float alpha = m[r] == -INFINITY ? 0.0f : expf(m[r] - mNew);
      l[r] = l[r] * alpha + warpSum(p);  // the normaliser counts dropped weights too
      m[r] = mNew;
      if (p != 0.0f) p *= dropoutFactor(g, b, h, i, j);
#pragma unroll
      for (int t = 0; t < kColsPerLane; ++t) o[r][t] *= alpha;
      for (int jj = 0; jj < kKeyTile; ++jj) {
        const float pj = __shfl_sync(0xffffffffu, p, jj);
        if (pj == 0.0f) continue;  // warp-uniform
#pragma unroll
        for (int t = 0; t < kColsPerLane; ++t) {
          const int c = lane + 32 * t;
          if (c < D) o[r][t] += pj * vs[jj * D + c];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp + r * kWarps;
    if (i >= g.qLen) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    float* orow = rowOf(out, bh / g.heads, bh % g.heads, i);
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + 32 * t;
      if (c < D) orow[c * out.strides[3]] = o[r][t] * inv;
    }
    if (lane == 0) logsumexp[bh * g.qLen + i] = l[r] > 0.0f ? m[r] + logf(l[r]) : -INFINITY;
  }
}

// dot(dO_i, O_i) of query row i of (b, h), reduced over the warp (every lane gets it).
__device__ __forceinline__ float rowDot(const AttentionInput& out, const AttentionInput& gradOut, int64_t b, int64_t h,
                                        int64_t i, int D, int lane) {
  float acc = 0.0f;
  for (int c = lane; c < D; c += 32) acc += at(out, b, h, i, c) * at(gradOut, b, h, i, c);
  return warpSum(acc);
}

__global__ void __launch_bounds__(kThreads) attentionGradQueryKernel(AttentionGeometry g, AttentionInput q, AttentionInput k,
                                                                    AttentionInput v, AttentionMask mask, AttentionInput out,
                                                                    AttentionInput gradOut, const float* logsumexp,
                                                                    AttentionOutput gradQ, int64_t rowBlocks) {
  extern __shared__ float smem[];
  const int D = static_cast<int>(g.headDim), ldk = D + 1;
  float* qs = smem;                        // [kQueryRows][D]
  float* dos = qs + kQueryRows * D;        // [kQueryRows][D]
  float* ks = dos + kQueryRows * D;        // [kKeyTile][D + 1]
  float* vs = ks + kKeyTile * ldk;         // [kKeyTile][D + 1]
  const int64_t bh = blockIdx.x / rowBlocks, i0 = (blockIdx.x % rowBlocks) * kQueryRows;
  const int64_t b = bh / g.heads, h = bh % g.heads, kvh = h / (g.heads / g.kvHeads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  loadRows(qs, D, q, b, h, i0, kQueryRows, g.qLen, D);
  loadRows(dos, D, gradOut, b, h, i0, kQueryRows, g.qLen, D);

  float lse[kRowsPerWarp], di[kRowsPerWarp], dq[kRowsPerWarp][kColsPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp + r * kWarps;
    lse[r] = i < g.qLen ? logsumexp[bh * g.qLen + i] : -INFINITY;
    di[r] = i < g.qLen ? rowDot(out, gradOut, b, h, i, D, lane) : 0.0f;
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) dq[r][t] = 0.0f;
  }
  const int64_t lastRow = (i0 + kQueryRows < g.qLen ? i0 + kQueryRows : g.qLen) - 1;
  const int64_t kvEnd = g.causal && lastRow + 1 < g.kvLen ? lastRow + 1 : g.kvLen;
  for (int64_t j0 = 0; j0 < kvEnd; j0 += kKeyTile) {
    __syncthreads();
    loadRows(ks, ldk, k, b, kvh, j0, kKeyTile, g.kvLen, D);
    loadRows(vs, ldk, v, b, kvh, j0, kKeyTile, g.kvLen, D);
    __syncthreads();
    const int64_t j = j0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int row = warp + r * kWarps;
      const int64_t i = i0 + row;
      if (i >= g.qLen || lse[r] == -INFINITY) continue;  // warp-uniform
      float dot = 0.0f, dp = 0.0f;
      for (int c = 0; c < D; ++c) {
        dot += qs[row * D + c] * ks[lane * ldk + c];
        dp += dos[row * D + c] * vs[lane * ldk + c];
      }
      const float s = maskedScore(g, mask, b, h, i, j, dot);
      const float p = s == -INFINITY ? 0.0f : expf(s - lse[r]);
      const float ds = p == 0.0f ? 0.0f : p * (dp * dropoutFactor(g, b, h, i, j) - di[r]);
      for (int jj = 0; jj < kKeyTile; ++jj) {
        const float dsj = __shfl_sync(0xffffffffu, ds, jj);
        if (dsj == 0.0f) continue;  // warp-uniform
#pragma unroll
        for (int t = 0; t < kColsPerLane; ++t) {
          const int c = lane + 32 * t;
          if (c < D) dq[r][t] += dsj * ks[jj * ldk + c];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp + r * kWarps;
    if (i >= g.qLen) continue;
    float* row = rowOf(gradQ, bh / g.heads, bh % g.heads, i);
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + 32 * t;
      if (c < D) row[c * gradQ.strides[3]] = dq[r][t] * g.scale;
    }
  }
}

__global__ void __launch_bounds__(kThreads) attentionGradKeyValueKernel(AttentionGeometry g, AttentionInput q,
                                                                       AttentionInput k, AttentionInput v,
                                                                       AttentionMask mask, AttentionInput out,
                                                                       AttentionInput gradOut, const float* logsumexp,
                                                                       AttentionOutput gradK, AttentionOutput gradV,
                                                                       int64_t keyBlocks) {
  extern __shared__ float smem[];
  const int D = static_cast<int>(g.headDim), ldq = D + 1;
  float* qs = smem;                        // [kQueryTile][D + 1]
  float* dos = qs + kQueryTile * ldq;      // [kQueryTile][D + 1]
  float* ks = dos + kQueryTile * ldq;      // [kKeyRows][D]
  float* vs = ks + kKeyRows * D;           // [kKeyRows][D]
  float* lses = vs + kKeyRows * D;         // [kQueryTile]
  float* dis = lses + kQueryTile;          // [kQueryTile]
  const int64_t bkv = blockIdx.x / keyBlocks, j0 = (blockIdx.x % keyBlocks) * kKeyRows;
  const int64_t b = bkv / g.kvHeads, kvh = bkv % g.kvHeads, group = g.heads / g.kvHeads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  loadRows(ks, D, k, b, kvh, j0, kKeyRows, g.kvLen, D);
  loadRows(vs, D, v, b, kvh, j0, kKeyRows, g.kvLen, D);

  float dk[kKeysPerWarp][kColsPerLane], dv[kKeysPerWarp][kColsPerLane];
#pragma unroll
  for (int r = 0; r < kKeysPerWarp; ++r)
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) dk[r][t] = dv[r][t] = 0.0f;
  // Under causal masking no query row before j0 sees a key of this block.
  const int64_t firstTile = g.causal ? (j0 / kQueryTile) * kQueryTile : 0;
  for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
    for (int64_t i0 = firstTile; i0 < g.qLen; i0 += kQueryTile) {
      __syncthreads();
      loadRows(qs, ldq, q, b, h, i0, kQueryTile, g.qLen, D);
      loadRows(dos, ldq, gradOut, b, h, i0, kQueryTile, g.qLen, D);
      for (int r = warp; r < kQueryTile; r += kWarps) {
        const int64_t i = i0 + r;
        const float d = i < g.qLen ? rowDot(out, gradOut, b, h, i, D, lane) : 0.0f;
        if (lane == 0) {
          dis[r] = d;
          lses[r] = i < g.qLen ? logsumexp[(b * g.heads + h) * g.qLen + i] : -INFINITY;
        }
      }
      __syncthreads();
      const int64_t i = i0 + lane;
      const float lse = lses[lane], di = dis[lane];
#pragma unroll
      for (int r = 0; r < kKeysPerWarp; ++r) {
        const int key = warp + r * kWarps;
        const int64_t j = j0 + key;
        if (j >= g.kvLen) continue;  // warp-uniform
        float dot = 0.0f, dp = 0.0f;
        for (int c = 0; c < D; ++c) {
          dot += qs[lane * ldq + c] * ks[key * D + c];
          dp += dos[lane * ldq + c] * vs[key * D + c];
        }
        const float s = maskedScore(g, mask, b, h, i, j, dot);
        const float p = s == -INFINITY || lse == -INFINITY ? 0.0f : expf(s - lse);
        const float z = p == 0.0f ? 0.0f : dropoutFactor(g, b, h, i, j);
        const float pz = p * z, ds = p == 0.0f ? 0.0f : p * (dp * z - di);
        for (int ii = 0; ii < kQueryTile; ++ii) {
          const float pzi = __shfl_sync(0xffffffffu, pz, ii), dsi = __shfl_sync(0xffffffffu, ds, ii);
          if (pzi == 0.0f && dsi == 0.0f) continue;  // warp-uniform
#pragma unroll
          for (int t = 0; t < kColsPerLane; ++t) {
            const int c = lane + 32 * t;
            if (c < D) {
              dv[r][t] += pzi * dos[ii * ldq + c];
              dk[r][t] += dsi * qs[ii * ldq + c];
            }
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kKeysPerWarp; ++r) {
    const int64_t j = j0 + warp + r * kWarps;
    if (j >= g.kvLen) continue;
    float* dkRow = rowOf(gradK, bkv / g.kvHeads, bkv % g.kvHeads, j);
    float* dvRow = rowOf(gradV, bkv / g.kvHeads, bkv % g.kvHeads, j);
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + 32 * t;
      if (c < D) {
        dkRow[c * gradK.strides[3]] = dk[r][t] * g.scale;
        dvRow[c * gradV.strides[3]] = dv[r][t];
      }
    }
  }
}

// Launches `kernel` over `blocks` blocks with `smemBytes` of dynamic shared memory (raising the
// kernel's limit above the default 48 KiB where the head dim needs it).
template <class Kernel, class... Args>
void launch(Kernel kernel, const char* name, int64_t blocks, size_t smemBytes, Args... args) {
  if (blocks == 0) return;
  if (blocks > 2147483647) throw std::invalid_argument(std::string(name) + ": too many (batch, head, tile) blocks");
  if (smemBytes > 48 * 1024)
    detail::checkCuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smemBytes)),
                      "cudaFuncSetAttribute");
  kernel<<<static_cast<unsigned>(blocks), kThreads, smemBytes, static_cast<cudaStream_t>(stream())>>>(args...);
  detail::checkLaunch(name);
}

}  // namespace

void attentionForward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                      AttentionMask mask, AttentionOutput out, float* logsumexp) {
  const int64_t rowBlocks = (g.qLen + kQueryRows - 1) / kQueryRows;
  const size_t D = static_cast<size_t>(g.headDim);
  const size_t smem = (kQueryRows * D + kKeyTile * (D + 1) + kKeyTile * D) * sizeof(float);
  launch(attentionForwardKernel, "attentionForwardKernel", g.batch * g.heads * rowBlocks, smem, g, q, k, v, mask, out,
         logsumexp, rowBlocks);
}

void attentionBackward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                       AttentionMask mask, AttentionInput out, AttentionInput gradOut, const float* logsumexp,
                       AttentionOutput gradQ, AttentionOutput gradK, AttentionOutput gradV) {
  const size_t D = static_cast<size_t>(g.headDim);
  const int64_t rowBlocks = (g.qLen + kQueryRows - 1) / kQueryRows;
  const size_t smemQ = (2 * kQueryRows * D + 2 * kKeyTile * (D + 1)) * sizeof(float);
  launch(attentionGradQueryKernel, "attentionGradQueryKernel", g.batch * g.heads * rowBlocks, smemQ, g, q, k, v, mask,
         out, gradOut, logsumexp, gradQ, rowBlocks);
  const int64_t keyBlocks = (g.kvLen + kKeyRows - 1) / kKeyRows;
  const size_t smemKV = (2 * kQueryTile * (D + 1) + 2 * kKeyRows * D + 2 * kQueryTile) * sizeof(float);
  launch(attentionGradKeyValueKernel, "attentionGradKeyValueKernel", g.batch * g.kvHeads * keyBlocks, smemKV, g, q, k,
         v, mask, out, gradOut, logsumexp, gradK, gradV, keyBlocks);
}

}  // namespace kd::cuda
