// The attention family's kernel interface (CPU today; the CUDA entry points join it in kd::cuda).
// Fused scaled-dot-product attention, float32, forward and backward:
//   out = softmax(scale · q kᵀ + mask) v   per (batch, head), with dropout on the weights.
// Flash-style: keys are processed in tiles with an online softmax, so the qLen×kvLen score
// matrix is never stored; the forward keeps only the log-sum-exp of each query row, from which
// the backward recomputes the weights tile by tile (FlashAttention-2's schedule).
// Three builds of one implementation (attention_impl.h: scalar, AVX2+FMA, AVX-512) chosen from
// kd::activeIsa(); attentionRef is the float64 unfused reference kept for tests.
#pragma once
#include <cstdint>

// The dropout hash below is compiled for the host and, in cuda/attention.cu, for the device.
#ifdef __CUDACC__
#define KD_ATTENTION_HD __host__ __device__
#else
#define KD_ATTENTION_HD
#endif

namespace kd {

enum class AttentionMaskKind { None, Additive, Bool };

// Semantics follow torch.nn.functional.scaled_dot_product_attention:
// - heads % kvHeads == 0; query head h reads key/value head h / (heads / kvHeads) (GQA).
// - causal keeps key j for query i when j <= i (torch.ones(L, S).tril(): aligned top-left, also
//   when qLen != kvLen). It may be combined with a mask (both apply).
// - Additive: a float mask added to the scaled scores. Bool: one byte per element, nonzero =
//   keep (torch's bool attn_mask). A key-padding mask is a Bool mask with strides [sb, 0, 0, 1].
// - A row with every key masked gives out = 0, logsumexp = -inf and zero gradients (what
//   PyTorch 2.13's CPU SDPA returns, for bool and -inf float masks alike).
// - Dropout zeroes weight (i, j) when attentionDropoutUniform(...) < dropoutP and scales the kept
//   ones by 1 / (1 - dropoutP); the mask is a pure function of (seed, offset, b, h, i, j), so the
//   backward regenerates it.
struct AttentionGeometry {
  int64_t batch, heads, kvHeads, qLen, kvLen, headDim;  // headDim in [1, kAttentionMaxHeadDim]
  float scale;                                          // usually 1 / sqrt(headDim)
  bool causal;
  float dropoutP;                                       // in [0, 1)
  uint64_t seed, offset;
  AttentionMaskKind maskKind;
};

constexpr int64_t kAttentionMaxHeadDim = 256;

// Why the kernels cannot run g (a sentence naming the field), or nullptr when they can. The
// kernels assume a valid geometry; the binding turns a message into a KindlingError.
const char* attentionGeometryProblem(const AttentionGeometry& g);

// A strided float view over [batch, heads, len, headDim] (element strides, any sign).
struct AttentionInput {
  const float* data;
  int64_t strides[4];
};

// A strided float output over [batch, heads, len, headDim] (element strides; the caller keeps
// distinct elements apart), so the op can lay out its result as the next op reads it.
struct AttentionOutput {
  float* data;
  int64_t strides[4];
};

// The mask, broadcastable over [batch, heads, qLen, kvLen]: stride 0 on a broadcast dim.
// data points to float (Additive) or uint8_t (Bool); unused when maskKind is None.
struct AttentionMask {
  const void* data;
  int64_t strides[4];
};

// out: [batch, heads, qLen, headDim], strided; logsumexp: contiguous [batch, heads, qLen],
// the natural log of sum_j exp(scale · q_i·k_j + mask_ij) over the unmasked keys (before
// dropout). Threads over batch × heads × query tiles.
void attentionForward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                      AttentionMask mask, AttentionOutput out, float* logsumexp);

// Gradients of the forward above given gradOut. out and logsumexp are what attentionForward
// wrote (out may be any strided view of it). gradQ: [batch, heads, qLen, headDim]; gradK, gradV:
// [batch, kvHeads, kvLen, headDim]; strided, overwritten (with GQA a key/value head's gradient
// sums over its query heads). Threads over batch × kvHeads: a task owns the
// gradients of one key/value head and of its query heads, so no two threads write one row.
void attentionBackward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                       AttentionMask mask, AttentionInput out, AttentionInput gradOut, const float* logsumexp,
                       AttentionOutput gradQ, AttentionOutput gradK, AttentionOutput gradV);

namespace cuda {

// The same calls on device pointers (cuda/attention.cu), enqueued on cuda::stream(); same
// semantics, the same dropout hash, so CPU and GPU agree given (seed, offset).
void attentionForward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                      AttentionMask mask, AttentionOutput out, float* logsumexp);
void attentionBackward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                       AttentionMask mask, AttentionInput out, AttentionInput gradOut, const float* logsumexp,
                       AttentionOutput gradQ, AttentionOutput gradK, AttentionOutput gradV);

}  // namespace cuda

// The float64 reference: full score matrix, softmax, masks and the same dropout mask, single
// threaded. Inputs and outputs are contiguous float64 arrays ([batch, heads or kvHeads, len,
// headDim]); the mask is the strided view above. out and logsumexp may be null in the backward
// call, gradients may be null in neither.
void attentionRef(const AttentionGeometry& g, const double* q, const double* k, const double* v,
                  AttentionMask mask, double* out, double* logsumexp);
void attentionBackwardRef(const AttentionGeometry& g, const double* q, const double* k, const double* v,
                          AttentionMask mask, const double* gradOut, double* gradQ, double* gradK,
                          double* gradV);

// Dropout's counter-based generator: a 64-bit key per row from (seed, offset) and the row index
// (b·heads + h)·qLen + i, then a 32-bit hash per column, cheap enough for the kernels' per-tile
// loops to vectorise. (seed, offset) is mixed before the row is added, so a caller may advance
// offset by 1 per call: calls get unrelated masks, not the previous call's rows shifted.
KD_ATTENTION_HD inline uint64_t attentionDropoutMix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

KD_ATTENTION_HD inline uint64_t attentionDropoutRowKey(uint64_t seed, uint64_t offset, uint64_t row) {
  const uint64_t stream = attentionDropoutMix(attentionDropoutMix(seed + 0x632BE59BD9B4E019ULL) ^ offset);
  return attentionDropoutMix(stream + row * 0x9E3779B97F4A7C15ULL);
}

// A uniform in [0, 1) with 24 random bits for column j of the row with this key.
KD_ATTENTION_HD inline float attentionDropoutUniform(uint64_t rowKey, uint32_t j) {
  uint32_t h = static_cast<uint32_t>(rowKey) ^ (j * 0x9E3779B9u);
  h += static_cast<uint32_t>(rowKey >> 32);
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f);
}

#define KD_DECLARE_ATTENTION(ns)                                                                        \
  namespace ns {                                                                                        \
  void attentionForward(const AttentionGeometry&, AttentionInput, AttentionInput, AttentionInput,       \
                        AttentionMask, AttentionOutput, float*);                                        \
  void attentionBackward(const AttentionGeometry&, AttentionInput, AttentionInput, AttentionInput,      \
                         AttentionMask, AttentionInput, AttentionInput, const float*, AttentionOutput,  \
                         AttentionOutput, AttentionOutput);                                             \
  }
KD_DECLARE_ATTENTION(isa_scalar)
KD_DECLARE_ATTENTION(isa_avx2)
KD_DECLARE_ATTENTION(isa_avx512)
#undef KD_DECLARE_ATTENTION

}  // namespace kd
