// Fused multi-tensor Adam / AdamW on the GPU: one launch updates a list of parameters and their
// moments in place (the math of native/cpu/optim.h, torch.optim's single-tensor order). All
// arrays are device float32, contiguous, n elements each; the current stream.
#pragma once
#include <cstdint>

namespace kd::cuda {

struct AdamHyper {
  float lr, beta1, beta2, eps, weightDecay;
  bool decoupled;  // AdamW: p <- p (1 - lr wd) first; Adam: g + wd p
  bool maximize;
};

struct AdamTensor {
  float* param;
  const float* grad;
  float* expAvg;
  float* expAvgSq;
  float* maxExpAvgSq;  // AMSGrad's running maximum, or nullptr
  int64_t n;
  int64_t step;  // after this update: 1 on the first
};

void adamStep(const AdamHyper& h, const AdamTensor* tensors, int count);

}  // namespace kd::cuda
