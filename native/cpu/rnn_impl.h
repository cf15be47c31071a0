// The fused gate passes of the recurrent layers (native/common/rnn.h), written once and compiled
// per ISA by rnn.cc (baseline), rnn_avx2.cc and rnn_avx512.cc; rnn.cc picks a build with
// dispatchIsa(). Each pass works on rows [r0, r1) and hidden units [j0, j1) of one step (every
// gate of those units): plain loops whose expf/tanhf calls vectorise through libmvec
// (vector_math.h).
#pragma once
#include <cmath>
#include <cstdint>

#include "cpu/vector_math.h"

namespace kd::rnn_detail {

// LSTM forward: gates [., 4H] hold the pre-activations (both biases and both projections) and get
// i, f, g, o after activation; c [., H] is the state, updated in place, its old value saved to
// cPrev; hNew [., H] gets o·tanh(c').
using LstmForwardRows = void (*)(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, float* gates, float* c, float* cPrev, float* hNew);
// GRU forward: gates [., 3H] hold W_ih x + b_ih, hh [., 3H] W_hh h (bHh [3H] or null added here);
// gates get r, z, n; hn [., H] saves W_hn h + b_hn; hNew = (1 - z)·n + z·hPrev (may alias nothing).
using GruForwardRows = void (*)(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, float* gates, const float* hh, const float* bHh,
                                const float* hPrev, float* hn, float* hNew);
// Elman forward: gates [., H] pre-activations become h' (tanh or relu), also written to hNew.
using ElmanForwardRows = void (*)(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, bool relu, float* gates, float* hNew);
// LSTM backward: dh [., H] the gradient of o·tanh(c'), dc [., H] of c' (replaced by that of c);
// writes dGates [., 4H] (pre-activation) and, when hRaw is not null, o·tanh(c') there.
using LstmBackwardRows = void (*)(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, const float* gates, const float* cPrev,
                                  const float* dh, float* dc, float* dGates, float* hRaw);
// GRU backward: dh [., H] the gradient of h' (replaced by its direct part dh·z for h); writes
// dGates (input side) and dGatesH (recurrent side: the n block scaled by r).
using GruBackwardRows = void (*)(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, const float* gates, const float* hn,
                                 const float* hPrev, float* dh, float* dGates, float* dGatesH);
using ElmanBackwardRows = void (*)(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, bool relu, const float* gates, const float* dh,
                                   float* dGates);

struct GateKernels {
  LstmForwardRows lstmForward;
  GruForwardRows gruForward;
  ElmanForwardRows elmanForward;
  LstmBackwardRows lstmBackward;
  GruBackwardRows gruBackward;
  ElmanBackwardRows elmanBackward;
};

// The builds: rnn.cc, rnn_avx2.cc, rnn_avx512.cc.
GateKernels gateKernelsBaseline();
GateKernels gateKernelsAvx2();
GateKernels gateKernelsAvx512();

// Internal linkage: each including file (one per ISA) keeps its own compiled copy.
namespace {

inline float sigmoid(float v) { return 1.f / (1.f + expf(-v)); }

void lstmForward(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, float* gates, float* c, float* cPrev, float* hNew) {
  for (int64_t r = r0; r < r1; ++r) {
    float* __restrict gi = gates + r * 4 * H;
    float* __restrict gf = gi + H;
    float* __restrict gg = gi + 2 * H;
    float* __restrict go = gi + 3 * H;
    float* __restrict cr = c + r * H;
    float* __restrict cp = cPrev + r * H;
    float* __restrict hr = hNew + r * H;
    #pragma GCC ivdep
    for (int64_t j = j0; j < j1; ++j) {
      const float i = sigmoid(gi[j]), f = sigmoid(gf[j]), g = tanhf(gg[j]), o = sigmoid(go[j]);
      const float cOld = cr[j];
      const float cNew = f * cOld + i * g;
      gi[j] = i, gf[j] = f, gg[j] = g, go[j] = o;
      cp[j] = cOld;
      cr[j] = cNew;
      hr[j] = o * tanhf(cNew);
    }
  }
}

void gruForward(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, float* gates, const float* hh, const float* bHh,
                const float* hPrev, float* hn, float* hNew) {
  for (int64_t r = r0; r < r1; ++r) {
    float* __restrict gr = gates + r * 3 * H;
    float* __restrict gz = gr + H;
    float* __restrict gn = gr + 2 * H;
    const float* __restrict hr = hh + r * 3 * H;
    const float* __restrict hz = hr + H;
    const float* __restrict hnIn = hr + 2 * H;
    const float* __restrict hp = hPrev + r * H;
    float* __restrict hnOut = hn + r * H;
    float* __restrict out = hNew + r * H;
    #pragma GCC ivdep
    for (int64_t j = j0; j < j1; ++j) {
      const float br = bHh ? bHh[j] : 0.f, bz = bHh ? bHh[H + j] : 0.f, bn = bHh ? bHh[2 * H + j] : 0.f;
      const float rg = sigmoid(gr[j] + hr[j] + br), z = sigmoid(gz[j] + hz[j] + bz);
      const float hnv = hnIn[j] + bn;
      const float n = tanhf(gn[j] + rg * hnv);
      gr[j] = rg, gz[j] = z, gn[j] = n;
      hnOut[j] = hnv;
      out[j] = (1.f - z) * n + z * hp[j];
    }
  }
}

void elmanForward(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, bool relu, float* gates, float* hNew) {
  for (int64_t r = r0; r < r1; ++r) {
    float* __restrict gt = gates + r * H;
    float* __restrict out = hNew + r * H;
    if (relu) {
      #pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) out[j] = gt[j] = gt[j] > 0.f ? gt[j] : 0.f;
    } else {
      #pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) out[j] = gt[j] = tanhf(gt[j]);
    }
  }
}

void lstmBackward(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, const float* gates, const float* cPrev, const float* dh,
                  float* dc, float* dGates, float* hRaw) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict gi = gates + r * 4 * H;
    const float* __restrict gf = gi + H;
    const float* __restrict gg = gi + 2 * H;
    const float* __restrict go = gi + 3 * H;
    const float* __restrict cp = cPrev + r * H;
    const float* __restrict dhr = dh + r * H;
    float* __restrict dcr = dc + r * H;
    float* __restrict di = dGates + r * 4 * H;
    float* __restrict df = di + H;
    float* __restrict dg = di + 2 * H;
    float* __restrict dO = di + 3 * H;
    #pragma GCC ivdep
    for (int64_t j = j0; j < j1; ++j) {
      const float i = gi[j], f = gf[j], g = gg[j], o = go[j];
      const float tc = tanhf(f * cp[j] + i * g);
      const float dcj = dcr[j] + dhr[j] * o * (1.f - tc * tc);
      di[j] = dcj * g * i * (1.f - i);
      df[j] = dcj * cp[j] * f * (1.f - f);
      dg[j] = dcj * i * (1.f - g * g);
      dO[j] = dhr[j] * tc * o * (1.f - o);
      dcr[j] = dcj * f;
    }
    if (hRaw) {
      float* __restrict hr = hRaw + r * H;
      #pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) hr[j] = go[j] * tanhf(gf[j] * cp[j] + gi[j] * gg[j]);
    }
  }
}

void gruBackward(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, const float* gates, const float* hn, const float* hPrev, float* dh,
                 float* dGates, float* dGatesH) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict gr = gates + r * 3 * H;
    const float* __restrict gz = gr + H;
    const float* __restrict gn = gr + 2 * H;
    const float* __restrict hnr = hn + r * H;
    const float* __restrict hp = hPrev + r * H;
    float* __restrict dhr = dh + r * H;
    float* __restrict dr = dGates + r * 3 * H;
    float* __restrict dz = dr + H;
    float* __restrict dn = dr + 2 * H;
    float* __restrict dhR = dGatesH + r * 3 * H;
    float* __restrict dhZ = dhR + H;
    float* __restrict dhN = dhR + 2 * H;
    #pragma GCC ivdep
    for (int64_t j = j0; j < j1; ++j) {
      const float rg = gr[j], z = gz[j], n = gn[j], d = dhr[j];
      const float dnPre = d * (1.f - z) * (1.f - n * n);
      const float drPre = dnPre * hnr[j] * rg * (1.f - rg);
      const float dzPre = d * (hp[j] - n) * z * (1.f - z);
      dr[j] = dhR[j] = drPre;
      dz[j] = dhZ[j] = dzPre;
      dn[j] = dnPre;
      dhN[j] = dnPre * rg;
      dhr[j] = d * z;
    }
  }
}

void elmanBackward(int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t H, bool relu, const float* gates, const float* dh, float* dGates) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict h = gates + r * H;
    const float* __restrict d = dh + r * H;
    float* __restrict out = dGates + r * H;
    if (relu) {
      #pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) out[j] = h[j] > 0.f ? d[j] : 0.f;
    } else {
      #pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) out[j] = d[j] * (1.f - h[j] * h[j]);
    }
  }
}

[[maybe_unused]] GateKernels thisBuild() {
  return {lstmForward, gruForward, elmanForward, lstmBackward, gruBackward, elmanBackward};
}

}  // namespace
}  // namespace kd::rnn_detail
