// Batch normalisation over the channels of x seen as [N, C, L] (N batch, C channels, L the
// flattened spatial dims; [N, C] is L = 1), float32, forward and backward, on both devices.
// Each channel's statistics cover its N*L values; every operand is strided over [N, C, L] (or
// [C] for per-channel ones), so views need no copy.
//   CPU  native/cpu/batchnorm.cc: channels in parallel; per channel one pass for the statistics
//        (chunks of a row reduced in float, combined in double with Chan's formula) and one to
//        write, the channel still in cache. One body (batchnorm_impl.h) built per ISA.
//   CUDA cuda/batchnorm.cu: one block per channel for the reductions, then an elementwise pass
//        over all elements; device pointers, cuda::stream().
#pragma once
#include <cstdint>

#include "common/operand.h"

namespace kd {

// x as [n, c, l].
struct BatchNormShape {
  int64_t n, c, l;
};

// An absent optional operand has data == nullptr.
struct BatchNormForwardArgs {
  BatchNormShape s;
  bool training;    // batch statistics (biased variance); else the running ones
  double momentum;  // weight of this batch in the running statistics (training only)
  double eps;
  Operand y, x;                            // [n, c, l]
  Operand weight, bias;                    // [c], optional (1 and 0)
  Operand runningMean, runningVar;         // [c], required in eval, optional in training
  float* saveMean;                         // [c] contiguous: the mean used
  float* saveInvstd;                       // [c] contiguous: 1 / sqrt(var + eps) used
};
// training: mean_c, var_c = the batch's over N*L (var biased); when running statistics are
//   given, running = (1 - momentum) * running + momentum * stat, with var unbiased
//   (var * NL / (NL - 1)).
// eval: mean_c, var_c = the running statistics.
// y = (x - mean_c) * invstd_c * weight_c + bias_c.
void batchNormForward(const BatchNormForwardArgs& a);

struct BatchNormBackwardArgs {
  BatchNormShape s;
  bool training;             // the forward used batch statistics (mean and var depend on x)
  Operand dx, g, x;          // [n, c, l]; dx optional
  Operand weight;            // [c], optional (1)
  const float* saveMean;     // [c] contiguous, from the forward
  const float* saveInvstd;   // [c] contiguous
  float* dweight;            // [c] contiguous, optional: sum g * xhat
  float* dbias;              // [c] contiguous, optional: sum g
};
// xhat = (x - mean) * invstd. training: dx = weight * invstd * (g - mean(g) - xhat * mean(g * xhat))
// (means over the channel's N*L values); eval: dx = weight * invstd * g.
void batchNormBackward(const BatchNormBackwardArgs& a);

namespace cuda {

// The same calls on device pointers.
void batchNormForward(const BatchNormForwardArgs& a);
void batchNormBackward(const BatchNormBackwardArgs& a);

}  // namespace cuda
}  // namespace kd
