// Fused Adam / AdamW, on both devices: one call updates a list of parameters and their moments in
// place, one pass over each instead of the dozen elementwise passes the update is written as in
// lib/optim. All arrays are float32, contiguous, n elements each.
//
// torch.optim.Adam / AdamW, single-tensor order: m <- lerp(m, g, 1 - beta1),
// v <- beta2 v + (1 - beta2) g², p <- p - lr / bc1 · m / (sqrt(vhat) / sqrt(bc2) + eps), where vhat
// is v or, with AMSGrad (maxExpAvgSq non-null), vmax <- max(vmax, v). The bias corrections bc1,
// bc2 are computed in double on the host, so both devices apply the same float step sizes.
//   CPU  native/cpu/optim.cc: one threaded pass over all the tensors' elements end to end; the
//        loop body (optim_impl.h) built per ISA.
//   CUDA cuda/optim.cu: every tensor of the call in one launch per 32 tensors; device pointers,
//        cuda::stream().
#pragma once
#include <cstdint>

namespace kd {

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

namespace cuda {

// The same call on device pointers.
void adamStep(const AdamHyper& h, const AdamTensor* tensors, int count);

}  // namespace cuda
}  // namespace kd
