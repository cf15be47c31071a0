// The CPU recurrent layers (native/common/rnn.h): GEMMs through kd::sgemm, gate passes from
// rnn_impl.h (this file compiles its baseline build) on the kd::parallel pool, rows split between
// threads. Scratch is allocated once per call, never inside the step loop.
#include "common/rnn.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/gemm.h"
#include "common/isa.h"
#include "common/parallel.h"
#include "cpu/rnn_impl.h"

namespace kd {
namespace rnn_detail {
GateKernels gateKernelsBaseline() { return thisBuild(); }
}  // namespace rnn_detail

namespace {

using rnn_detail::GateKernels;

GateKernels gateKernels() {
  switch (dispatchIsa()) {
    case CpuIsa::Avx512: return rnn_detail::gateKernelsAvx512();
    case CpuIsa::Avx2: return rnn_detail::gateKernelsAvx2();
    default: return rnn_detail::gateKernelsBaseline();
  }
}

// C[m, n] (row pitch ldc) = alpha·A·B + beta·C, with A [m, k] read row-major (pitch lda) or as
// the transpose of a stored [k, m] (transA), and B likewise [k, n] or transB of a stored [n, k].
void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool transA, const float* b, int64_t ldb,
          bool transB, float* c, int64_t ldc, float beta) {
  if (m == 0 || n == 0) return;
  GemmArgs args{};
  args.m = m, args.n = n, args.k = k, args.batch = 1;
  args.a = a, args.aRowStride = transA ? 1 : lda, args.aColStride = transA ? lda : 1;
  args.b = b, args.bRowStride = transB ? 1 : ldb, args.bColStride = transB ? ldb : 1;
  args.c = c, args.cRowStride = ldc, args.cColStride = 1;
  args.alpha = 1.f, args.beta = beta;
  sgemm(args);
}

// C[m, n] (row pitch ldc) = A·B + beta·C with A [m, k] row-major (pitch lda) and B packed once
// per call (the recurrent weights: every step multiplies the same B).
void gemmPacked(int64_t m, const float* a, int64_t lda, const PackedB& b, float* c, int64_t ldc, float beta) {
  if (m == 0) return;
  sgemmPacked(m, a, lda, 1, b, c, ldc, 1.f, beta);
}

// Runs rows [0, n) of a gate pass on the pool; a row costs about `flopsPerRow`.
template <class F>
void rowsParallel(int64_t n, double flopsPerRow, F&& pass) {
  parallelFor(n, flopsCost(flopsPerRow), [&](int64_t r0, int64_t r1) { pass(r0, r1); });
}

void checkGeometry(const RnnGeometry& g) {
  if (const char* problem = rnnGeometryProblem(g)) throw std::invalid_argument(problem);
}

}  // namespace

void rnnForward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* h0, const float* c0,
                float* out, float* hN, float* cN, float* workspace) {
  checkGeometry(g);
  const GateKernels k = gateKernels();
  const int64_t T = g.steps, B = g.batch, I = g.input, H = g.hidden, G = rnnGates(g), Ho = rnnOutSize(g);
  const bool lstm = g.mode == RnnMode::Lstm, gru = g.mode == RnnMode::Gru;
  const int64_t E = lstm || gru ? H : 0;
  float* gatesAll = workspace;
  float* extraAll = gatesAll + T * B * G;
  float* hPrevAll = extraAll + T * B * E;

  // The input projection of every step at once, with the biases the gate pass does not add.
  gemm(T * B, G, I, x, I, false, w.wIh, I, true, gatesAll, G, 0.f);
  if (w.bIh) {
    parallelFor(T * B, bytesCost(8.0 * G), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* row = gatesAll + r * G;
        for (int64_t j = 0; j < G; ++j) row[j] += w.bIh[j] + (gru ? 0.f : w.bHh[j]);
      }
    });
  }
  std::memcpy(hN, h0, sizeof(float) * B * Ho);
  if (lstm) std::memcpy(cN, c0, sizeof(float) * B * H);
  std::vector<float> hh(gru ? B * G : 0), hRaw(g.proj > 0 ? B * H : 0);
  // W_hh^T [Ho, G] and W_hr^T [H, P], packed once for all steps.
  PackedB wHhT, wHrT;
  if (T > 0) sgemmPackB(Ho, G, w.wHh, 1, Ho, wHhT);
  if (T > 0 && g.proj > 0) sgemmPackB(H, Ho, w.wHr, 1, H, wHrT);

  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = g.reverse ? T - 1 - s : s;
    const int64_t n = rnnRows(g, t);
    float* gates = gatesAll + t * B * G;
    float* extra = extraAll + t * B * E;
    float* hPrev = hPrevAll + t * B * Ho;
    float* o = out + t * B * Ho;
    std::memcpy(hPrev, hN, sizeof(float) * n * Ho);
    std::fill(hPrev + n * Ho, hPrev + B * Ho, 0.f);
    std::fill(gates + n * G, gates + B * G, 0.f);
    std::fill(extra + n * E, extra + B * E, 0.f);
    std::fill(o + n * Ho, o + B * Ho, 0.f);
    if (n == 0) continue;
    if (gru) {
      gemmPacked(n, hPrev, Ho, wHhT, hh.data(), G, 0.f);
      rowsParallel(n, 40.0 * H, [&](int64_t r0, int64_t r1) {
        k.gruForward(r0, r1, H, gates, hh.data(), w.bHh, hPrev, extra, hN);
      });
    } else {
      gemmPacked(n, hPrev, Ho, wHhT, gates, G, 1.f);
      if (lstm) {
        float* hNew = g.proj > 0 ? hRaw.data() : hN;
        rowsParallel(n, 80.0 * H, [&](int64_t r0, int64_t r1) { k.lstmForward(r0, r1, H, gates, cN, extra, hNew); });
        if (g.proj > 0) gemmPacked(n, hRaw.data(), H, wHrT, hN, Ho, 0.f);
      } else {
        const bool relu = g.mode == RnnMode::RnnRelu;
        rowsParallel(n, 20.0 * H, [&](int64_t r0, int64_t r1) { k.elmanForward(r0, r1, H, relu, gates, hN); });
      }
    }
    std::memcpy(o, hN, sizeof(float) * n * Ho);
  }
}

void rnnBackward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* workspace,
                 const float* gradOut, const float* gradHN, const float* gradCN, const RnnGrads& d) {
  checkGeometry(g);
  const GateKernels k = gateKernels();
  const int64_t T = g.steps, B = g.batch, I = g.input, H = g.hidden, G = rnnGates(g), Ho = rnnOutSize(g), P = g.proj;
  const bool lstm = g.mode == RnnMode::Lstm, gru = g.mode == RnnMode::Gru;
  const int64_t E = lstm || gru ? H : 0;
  const float* gatesAll = workspace;
  const float* extraAll = gatesAll + T * B * G;
  const float* hPrevAll = extraAll + T * B * E;

  // Rows not advanced at a step keep zero gate gradients, so the GEMMs over all steps skip them.
  std::vector<float> dGates(T * B * G, 0.f), dGatesH(gru ? T * B * G : 0, 0.f);
  std::vector<float> dh(B * Ho, 0.f), dc(lstm ? B * H : 0, 0.f);
  std::vector<float> dhRaw(P > 0 ? B * H : 0), hRawAll(P > 0 ? T * B * H : 0, 0.f), dhAll(P > 0 ? T * B * P : 0, 0.f);
  if (gradHN) std::memcpy(dh.data(), gradHN, sizeof(float) * B * Ho);
  // W_hh [G, Ho] and W_hr [P, H], packed once for all steps.
  PackedB wHhP, wHrP;
  if (T > 0) sgemmPackB(G, Ho, w.wHh, Ho, 1, wHhP);
  if (T > 0 && P > 0) sgemmPackB(P, H, w.wHr, H, 1, wHrP);
  if (lstm && gradCN) std::memcpy(dc.data(), gradCN, sizeof(float) * B * H);

  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = g.reverse ? s : T - 1 - s;
    const int64_t n = rnnRows(g, t);
    if (n == 0) continue;
    const float* gates = gatesAll + t * B * G;
    const float* extra = extraAll + t * B * E;
    const float* hPrev = hPrevAll + t * B * Ho;
    float* dG = dGates.data() + t * B * G;
    const float* go = gradOut + t * B * Ho;
    for (int64_t i = 0; i < n * Ho; ++i) dh[i] += go[i];
    if (lstm) {
      const float* dhIn = dh.data();
      float* hRaw = nullptr;
      if (P > 0) {
        std::memcpy(dhAll.data() + t * B * P, dh.data(), sizeof(float) * n * P);
        gemmPacked(n, dh.data(), P, wHrP, dhRaw.data(), H, 0.f);
        dhIn = dhRaw.data();
        hRaw = hRawAll.data() + t * B * H;
      }
      rowsParallel(n, 80.0 * H, [&](int64_t r0, int64_t r1) {
        k.lstmBackward(r0, r1, H, gates, extra, dhIn, dc.data(), dG, hRaw);
      });
      gemmPacked(n, dG, G, wHhP, dh.data(), Ho, 0.f);
    } else if (gru) {
      float* dGH = dGatesH.data() + t * B * G;
      rowsParallel(n, 40.0 * H, [&](int64_t r0, int64_t r1) {
        k.gruBackward(r0, r1, H, gates, extra, hPrev, dh.data(), dG, dGH);
      });
      gemmPacked(n, dGH, G, wHhP, dh.data(), Ho, 1.f);
    } else {
      const bool relu = g.mode == RnnMode::RnnRelu;
      rowsParallel(n, 10.0 * H, [&](int64_t r0, int64_t r1) { k.elmanBackward(r0, r1, H, relu, gates, dh.data(), dG); });
      gemmPacked(n, dG, G, wHhP, dh.data(), Ho, 0.f);
    }
  }

  if (d.h0) std::memcpy(d.h0, dh.data(), sizeof(float) * B * Ho);
  if (d.c0 && lstm) std::memcpy(d.c0, dc.data(), sizeof(float) * B * H);
  const int64_t R = T * B;
  const float* dGH = gru ? dGatesH.data() : dGates.data();
  if (d.x) gemm(R, I, G, dGates.data(), G, false, w.wIh, I, false, d.x, I, 0.f);
  if (d.wIh) gemm(G, I, R, dGates.data(), G, true, x, I, false, d.wIh, I, 0.f);
  if (d.wHh) gemm(G, Ho, R, dGH, G, true, hPrevAll, Ho, false, d.wHh, Ho, 0.f);
  if (d.wHr && P > 0) gemm(P, H, R, dhAll.data(), P, true, hRawAll.data(), H, false, d.wHr, H, 0.f);
  auto columnSums = [&](const float* m, float* sums) {
    parallelFor(G, bytesCost(4.0 * R), [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) sums[j] = 0.f;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = j0; j < j1; ++j) sums[j] += m[r * G + j];
    });
  };
  if (d.bIh) columnSums(dGates.data(), d.bIh);
  if (d.bHh) columnSums(dGH, d.bHh);
}

}  // namespace kd
