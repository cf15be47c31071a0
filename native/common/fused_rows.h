// Row-wise fused kernels over a contiguous float32 [rows, cols] matrix, forward and backward, on
// both devices: layer and RMS normalisation over each row, bias + GELU, and softmax cross-entropy
// against one integer class per row. Every operand is a contiguous run (the ops make strided
// inputs contiguous first); a missing optional operand is nullptr.
//   CPU  native/cpu/fused_rows.cc: rows in parallel; a row's sums in float lanes per 256-element
//        chunk, the chunks added in double; the column sums of a backward (dweight, dbias) as
//        per-part partial sums in double, reduced afterwards. One body (fused_rows_impl.h) per ISA.
//   CUDA cuda/fused_rows.cu: one block per row for the row reductions, a column kernel for the
//        parameter gradients; device pointers, cuda::stream().
#pragma once
#include <cstdint>

namespace kd {

// ---- layer norm / RMS norm ------------------------------------------------------------------

struct RowNormForwardArgs {
  int64_t rows, cols;
  bool rms;            // RMS norm: no centring, rstd = 1 / sqrt(mean(x²) + eps)
  double eps;
  const float* x;      // [rows, cols]
  const float* weight; // [cols], optional (1)
  const float* bias;   // [cols], optional (0); never given with rms
  float* y;            // [rows, cols]
  float* mean;         // [rows]: the row mean (0 for rms)
  float* rstd;         // [rows]: 1 / sqrt(var + eps), var biased (mean(x²) for rms)
};
// y = (x - mean) * rstd * weight + bias.
void rowNormForward(const RowNormForwardArgs& a);

struct RowNormBackwardArgs {
  int64_t rows, cols;
  bool rms;
  const float* g;       // [rows, cols], the gradient of y
  const float* x;       // [rows, cols]
  const float* weight;  // [cols], optional
  const float* mean;    // [rows], from the forward
  const float* rstd;    // [rows]
  float* dx;            // [rows, cols], optional
  bool accumulateDx;    // dx += the gradient (a residual's gradient already there) instead of dx =
  float* dweight;       // [cols], optional: sum over rows of g * xhat
  float* dbias;         // [cols], optional: sum over rows of g
};
// xhat = (x - mean) * rstd, gw = g * weight; layer norm: dx = rstd (gw - mean(gw) - xhat mean(gw xhat)),
// RMS norm: dx = rstd (gw - xhat mean(gw xhat)) (means along the row).
void rowNormBackward(const RowNormBackwardArgs& a);

// ---- bias + GELU ------------------------------------------------------------------------------

// y = gelu(x + bias) with bias [cols] added to every row; tanh picks the tanh approximation.
void biasGeluForward(int64_t rows, int64_t cols, bool tanh, const float* x, const float* bias, float* y);
// dx = g * gelu'(x + bias) (dx may be nullptr), dbias = the column sums of that (may be nullptr).
void biasGeluBackward(int64_t rows, int64_t cols, bool tanh, const float* g, const float* x, const float* bias,
                      float* dx, float* dbias);

// ---- softmax cross-entropy ------------------------------------------------------------------

struct CrossEntropyArgs {
  int64_t rows, cols;      // cols = the number of classes
  const float* x;          // [rows, cols] logits
  const int32_t* target;   // [rows], a class in [0, cols) or ignoreIndex
  const float* weight;     // [cols] class weights, optional (1)
  int64_t ignoreIndex;
  double labelSmoothing;   // eps in [0, 1]
};
// Per row, with lse = log sum_c exp(x_c), w_t = weight[target] and W = sum_c weight_c:
//   loss = (1 - eps) w_t (lse - x_t) + eps / cols * sum_c weight_c (lse - x_c),
//   targetWeight = w_t; both 0 on an ignored row. A target outside [0, cols) that is not
//   ignoreIndex gives a NaN loss. Reads each row of logits once (in cache-sized chunks).
//   lse is [rows, 2]: the row's logsumexp as a float pair (hi, lo), hi + lo = lse to double
//   precision, so the backward's x - hi is exact where the probability is large (a float lse
//   near 1e4 would be off by its rounding, ~5e-4, in every probability).
void crossEntropyForward(const CrossEntropyArgs& a, float* loss, float* targetWeight, float* lse);
// dx = g_row ((1 - eps) w_t (p - onehot_t) + eps / cols (W p - weight)), p = exp((x - hi) - lo);
// 0 on an ignored row. g is [rows] (the gradient of the per-row loss).
void crossEntropyBackward(const CrossEntropyArgs& a, const float* lse, const float* g, float* dx);

namespace cuda {

// The same calls on device pointers.
void rowNormForward(const RowNormForwardArgs& a);
void rowNormBackward(const RowNormBackwardArgs& a);
void biasGeluForward(int64_t rows, int64_t cols, bool tanh, const float* x, const float* bias, float* y);
void biasGeluBackward(int64_t rows, int64_t cols, bool tanh, const float* g, const float* x, const float* bias,
                      float* dx, float* dbias);
void crossEntropyForward(const CrossEntropyArgs& a, float* loss, float* targetWeight, float* lse);
void crossEntropyBackward(const CrossEntropyArgs& a, const float* lse, const float* g, float* dx);

}  // namespace cuda
}  // namespace kd
