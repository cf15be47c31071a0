// Fused recurrent layers (LSTM, GRU, Elman RNN with tanh or relu): one layer in one direction over
// a whole sequence per call, forward and backward through time, with PyTorch's equations:
//   LSTM  i,f,g,o = σ,σ,tanh,σ(W_ih x + b_ih + W_hh h + b_hh)   c' = f·c + i·g   h' = o·tanh(c')
//         (with a projection, h' = W_hr (o·tanh(c')))
//   GRU   r,z = σ(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
//         n = tanh(W_in x + b_in + r·(W_hn h + b_hn))             h' = (1 - z)·n + z·h
//   RNN   h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)
// Gate rows are PyTorch's: G = 4H (i, f, g, o), 3H (r, z, n) or H. The input projection of all
// steps is one GEMM up front; each step is one GEMM for the recurrent projection and one fused
// pass over the gates. The backward computes the gate gradients step by step and the weight
// gradients as one GEMM over all steps at the end.
// Packed batches: with batchSizes, step t advances only rows < batchSizes[t] (non-increasing); the
// other rows keep their state and output zeros. The reverse direction walks t = T-1 .. 0.
//   CPU  native/cpu/rnn.cc (gate passes per ISA in rnn_impl.h, rnn_avx2.cc, rnn_avx512.cc)
//   CUDA cuda/rnn.cu (device pointers; batchSizes stays in host memory)
#pragma once
#include <cstdint>

namespace kd {

enum class RnnMode : int { Lstm = 0, Gru = 1, RnnTanh = 2, RnnRelu = 3 };

struct RnnGeometry {
  RnnMode mode = RnnMode::Lstm;
  int64_t steps = 0, batch = 0, input = 0, hidden = 0;
  int64_t proj = 0;  // LSTM projection size; 0 = none
  bool reverse = false;
  const int32_t* batchSizes = nullptr;  // `steps` entries in host memory, or null: every row every step
};

inline int64_t rnnGates(const RnnGeometry& g) {
  return g.mode == RnnMode::Lstm ? 4 * g.hidden : g.mode == RnnMode::Gru ? 3 * g.hidden : g.hidden;
}
inline int64_t rnnOutSize(const RnnGeometry& g) { return g.proj > 0 ? g.proj : g.hidden; }
// Rows advanced at step t.
inline int64_t rnnRows(const RnnGeometry& g, int64_t t) { return g.batchSizes ? g.batchSizes[t] : g.batch; }

// Null, or what is wrong with the geometry (both devices check it before any work).
inline const char* rnnGeometryProblem(const RnnGeometry& g) {
  if (g.steps < 0 || g.batch < 0 || g.input < 0 || g.hidden <= 0 || g.proj < 0)
    return "rnn: sizes must be non-negative and the hidden size positive";
  if (g.proj > 0 && g.mode != RnnMode::Lstm) return "rnn: a projection needs the LSTM mode";
  for (int64_t t = 0; g.batchSizes && t < g.steps; ++t) {
    const int64_t n = g.batchSizes[t];
    if (n < 0 || n > g.batch || (t > 0 && n > g.batchSizes[t - 1]))
      return "rnn: batchSizes must be non-increasing and within [0, batch]";
  }
  return nullptr;
}

// What the forward saves for the backward, contiguous, in floats: gates after their activation
// [T, B, G]; then [T, B, H] of c before the step (LSTM) or W_hn h + b_hn (GRU), none for RNN;
// then h before the step [T, B, Hout]. Rows not advanced at a step hold zeros.
inline int64_t rnnWorkspaceElems(const RnnGeometry& g) {
  const int64_t extra = g.mode == RnnMode::Lstm || g.mode == RnnMode::Gru ? g.hidden : 0;
  return g.steps * g.batch * (rnnGates(g) + extra + rnnOutSize(g));
}

// Null pointers: no bias (bIh and bHh both given or both null), no projection (wHr).
struct RnnWeights {
  const float* wIh;  // [G, I]
  const float* wHh;  // [G, Hout]
  const float* bIh;  // [G]
  const float* bHh;  // [G]
  const float* wHr;  // [P, H]
};

// x [T, B, I], h0 [B, Hout], c0 [B, H] (LSTM only, else null) → out [T, B, Hout], hN [B, Hout],
// cN [B, H] (LSTM only), workspace (rnnWorkspaceElems). All contiguous float32.
void rnnForward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* h0, const float* c0,
                float* out, float* hN, float* cN, float* workspace);

// Gradients of rnnForward's outputs (gradHN, gradCN may be null: zero) → gradients of its inputs,
// each written (not accumulated); a null output pointer is not computed. gradBIh/gradBHh are [G],
// gradWHr [P, H].
struct RnnGrads {
  float* x;    // [T, B, I]
  float* h0;   // [B, Hout]
  float* c0;   // [B, H]
  float* wIh;  // [G, I]
  float* wHh;  // [G, Hout]
  float* bIh;  // [G]
  float* bHh;  // [G]
  float* wHr;  // [P, H]
};
void rnnBackward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* workspace,
                 const float* gradOut, const float* gradHN, const float* gradCN, const RnnGrads& grads);

namespace cuda {
void rnnForward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* h0, const float* c0,
                float* out, float* hN, float* cN, float* workspace);
void rnnBackward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* workspace,
                 const float* gradOut, const float* gradHN, const float* gradCN, const RnnGrads& grads);
}  // namespace cuda

}  // namespace kd
