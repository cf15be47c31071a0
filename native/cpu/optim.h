// Fused optimizer updates for the CPU: one pass over a parameter and its state per step, instead
// of the dozen elementwise passes the update is written as in the ops (lib/optim).
#pragma once
#include <cstdint>

namespace kd {

struct AdamHyper {
  float lr, beta1, beta2, eps, weightDecay;
  bool decoupled;  // AdamW: p <- p (1 - lr wd) first; Adam: g + wd p
  bool maximize;
  int64_t step;    // after this update: 1 on the first
};

// torch.optim.Adam / AdamW, single-tensor order: m <- lerp(m, g, 1 - beta1),
// v <- beta2 v + (1 - beta2) g², p <- p - lr / bc1 · m / (sqrt(vhat) / sqrt(bc2) + eps), where vhat is
// v or, with AMSGrad (vmax non-null), vmax <- max(vmax, v). All arrays hold n floats.
void adamStep(const AdamHyper& h, int64_t n, float* param, const float* grad, float* expAvg, float* expAvgSq,
              float* maxExpAvgSq);

// Per-ISA builds of the update of elements [i0, i1) (cpu/optim_impl.h), chosen by adamStep;
// stepSize = lr / bc1, decay = 1 - lr·wd for AdamW (else 1).
#define KD_DECLARE_ADAM_RANGE(ns)                                                                             \
  namespace ns {                                                                                              \
  void adamRange(const AdamHyper& h, float stepSize, float bc2Sqrt, float decay, int64_t i0, int64_t i1, float* p, \
                 const float* g, float* m, float* v, float* vmax);                                            \
  }
KD_DECLARE_ADAM_RANGE(isa_scalar)
KD_DECLARE_ADAM_RANGE(isa_avx2)
#undef KD_DECLARE_ADAM_RANGE

}  // namespace kd
