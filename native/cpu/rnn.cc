// The CPU recurrent layers (native/common/rnn.h): GEMMs through kd::sgemm, gate passes from
// rnn_impl.h (this file compiles its baseline build), on the kd::parallel pool.
// The recurrent weight is packed once per call (sgemmPackB) and every step's GEMM reads the
// packed panels (sgemmPacked). A step is one parallel region that splits the hidden units between
// the threads: each thread computes its units' columns of every gate block and then runs the gate
// pass on them, so the gates it activates are the ones it just wrote, and there is one wake-up per
// step. The backward pairs step t's dh GEMM (dh's columns are hidden units too, when there is no
// projection) with step t-1's gate pass in one region the same way.
// Scratch lives in thread-local buffers that grow and are reused across calls.
#include "common/rnn.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/gemm.h"
#include "common/isa.h"
#include "common/parallel.h"
#include "common/scratch.h"
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
// per call, columns [j0, j1) only.
void gemmPacked(int64_t m, const float* a, int64_t lda, const PackedB& b, float* c, int64_t ldc, float beta,
                int64_t j0 = 0, int64_t j1 = -1) {
  if (m == 0) return;
  sgemmPacked(m, a, lda, 1, b, c, ldc, 1.f, beta, j0, j1);
}

// Gate passes' cost per row and hidden unit, in ns of one core (measured at hidden 256 with
// AVX-512: the LSTM's five transcendental functions per unit dominate).
Cost gateCost(RnnMode mode, int64_t rows, int64_t H) {
  const double ns = mode == RnnMode::Lstm ? 2.0 : mode == RnnMode::Gru ? 1.5 : 0.5;
  return {ns * static_cast<double>(rows) * static_cast<double>(H)};
}

// Runs rows [0, n) of a gate pass (all hidden units) on the pool.
template <class F>
void rowsParallel(int64_t n, Cost perRow, F&& pass) {
  parallelFor(n, perRow, [&](int64_t r0, int64_t r1) { pass(r0, r1); });
}

// One parallel region for a step: body(j0, j1) over hidden units [0, H) split between the threads
// on multiples of `unit` (the packed panels' width); `cost` is the whole region's work.
template <class F>
void unitsParallel(int64_t H, int64_t unit, Cost cost, F&& body) {
  const int64_t chunks = (H + unit - 1) / unit;
  parallelRun(static_cast<int>(std::min<int64_t>(chunks, kMaxThreads)), cost, [&](int part, int parts) {
    const int64_t j0 = std::min(H, chunks * part / parts * unit), j1 = std::min(H, chunks * (part + 1) / parts * unit);
    if (j0 < j1) body(j0, j1);
  });
}

// Per-thread scratch, reused across calls (a call runs on one thread; its regions use the pool).
struct Scratch {
  ScratchBuffer hh, hRaw, dGates, dGatesH, dh, dc, dhRaw, hRawAll, dhAll;
  PackedB wHhGate[4];  // the forward's W_hh^T per gate block, [Ho, H] each
  PackedB wHh, wHr;    // the backward's W_hh [G, Ho] and W_hr [P, H]; the forward's W_hr^T [H, P]
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
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
  const int64_t E = lstm || gru ? H : 0, gateBlocks = G / H;
  float* gatesAll = workspace;
  float* extraAll = gatesAll + T * B * G;
  float* hPrevAll = extraAll + T * B * E;

  // The input projection of every step at once, onto the biases the gate pass does not add.
  if (w.bIh) {
    parallelFor(T * B, bytesCost(4.0 * G), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* row = gatesAll + r * G;
        for (int64_t j = 0; j < G; ++j) row[j] = w.bIh[j] + (gru ? 0.f : w.bHh[j]);
      }
    });
  }
  gemm(T * B, G, I, x, I, false, w.wIh, I, true, gatesAll, G, w.bIh ? 1.f : 0.f);
  std::memcpy(hN, h0, sizeof(float) * B * Ho);
  if (lstm) std::memcpy(cN, c0, sizeof(float) * B * H);
  if (T == 0 || B == 0) return;
  Scratch& sc = scratch();
  float* hh = gru ? sc.hh.reserve(B * G) : nullptr;
  float* hRaw = g.proj > 0 ? sc.hRaw.reserve(B * H) : nullptr;
  // W_hh^T per gate block ([Ho, H] each) and W_hr^T [H, P], packed once for all steps.
  for (int64_t q = 0; q < gateBlocks; ++q) sgemmPackB(Ho, H, w.wHh + q * H * Ho, 1, Ho, sc.wHhGate[q]);
  if (g.proj > 0) sgemmPackB(H, Ho, w.wHr, 1, H, sc.wHr);
  const int64_t unit = sc.wHhGate[0].nr > 0 ? sc.wHhGate[0].nr : 8;
  const bool relu = g.mode == RnnMode::RnnRelu;

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
    // GRU: W_hh h goes to hh (the n block is scaled by r); the others add it onto the gates.
    float* hhOut = gru ? hh : gates;
    float* hNew = g.proj > 0 ? hRaw : hN;
    const Cost cost{flopsCost(2.0 * n * G * Ho).ns + gateCost(g.mode, n, H).ns};
    unitsParallel(H, unit, cost, [&](int64_t j0, int64_t j1) {
      for (int64_t q = 0; q < gateBlocks; ++q) gemmPacked(n, hPrev, Ho, sc.wHhGate[q], hhOut + q * H, G, gru ? 0.f : 1.f, j0, j1);
      if (gru)
        k.gruForward(0, n, j0, j1, H, gates, hh, w.bHh, hPrev, extra, hN);
      else if (lstm)
        k.lstmForward(0, n, j0, j1, H, gates, cN, extra, hNew);
      else
        k.elmanForward(0, n, j0, j1, H, relu, gates, hN);
    });
    if (g.proj > 0) gemmPacked(n, hRaw, H, sc.wHr, hN, Ho, 0.f);
    std::memcpy(o, hN, sizeof(float) * n * Ho);
  }
}

void rnnBackward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* workspace,
                 const float* gradOut, const float* gradHN, const float* gradCN, const RnnGrads& d) {
  checkGeometry(g);
  const GateKernels k = gateKernels();
  const int64_t T = g.steps, B = g.batch, I = g.input, H = g.hidden, G = rnnGates(g), Ho = rnnOutSize(g), P = g.proj;
  const bool lstm = g.mode == RnnMode::Lstm, gru = g.mode == RnnMode::Gru, relu = g.mode == RnnMode::RnnRelu;
  const int64_t E = lstm || gru ? H : 0, R = T * B;
  const float* gatesAll = workspace;
  const float* extraAll = gatesAll + T * B * G;
  const float* hPrevAll = extraAll + T * B * E;

  Scratch& sc = scratch();
  // Gate gradients of every step (GRU: the recurrent side apart); rows a step does not advance
  // hold zeros, so the GEMMs over all steps at the end skip them.
  float* dGates = sc.dGates.reserve(std::max<int64_t>(R * G, 1));
  float* dGatesH = gru ? sc.dGatesH.reserve(std::max<int64_t>(R * G, 1)) : dGates;
  float* dh = sc.dh.reserve(std::max<int64_t>(B * Ho, 1));
  float* dc = lstm ? sc.dc.reserve(std::max<int64_t>(B * H, 1)) : nullptr;
  float* dhRaw = P > 0 ? sc.dhRaw.reserve(B * H) : nullptr;
  float* hRawAll = P > 0 ? sc.hRawAll.reserve(R * H) : nullptr;
  float* dhAll = P > 0 ? sc.dhAll.reserve(R * P) : nullptr;
  if (gradHN)
    std::memcpy(dh, gradHN, sizeof(float) * B * Ho);
  else
    std::fill(dh, dh + B * Ho, 0.f);
  if (lstm && gradCN)
    std::memcpy(dc, gradCN, sizeof(float) * B * H);
  else if (lstm)
    std::fill(dc, dc + B * H, 0.f);
  if (P > 0) {
    std::fill(hRawAll, hRawAll + R * H, 0.f);
    std::fill(dhAll, dhAll + R * P, 0.f);
  }
  // W_hh [G, Ho] and W_hr [P, H], packed once for all steps.
  if (T > 0 && B > 0) sgemmPackB(G, Ho, w.wHh, Ho, 1, sc.wHh);
  if (T > 0 && B > 0 && P > 0) sgemmPackB(P, H, w.wHr, H, 1, sc.wHr);
  const int64_t unit = sc.wHh.nr > 0 ? sc.wHh.nr : 8;

  // Step t's part for hidden units [j0, j1) (Ho = H), rows [0, n): dh += the output's gradient,
  // then the gate pass (dGates, and dh's direct part for the GRU).
  auto gatePass = [&](int64_t t, int64_t n, int64_t j0, int64_t j1) {
    const float* go = gradOut + t * B * Ho;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = j0; j < j1; ++j) dh[r * Ho + j] += go[r * Ho + j];
    const float* gates = gatesAll + t * B * G;
    const float* extra = extraAll + t * B * E;
    float* dG = dGates + t * B * G;
    if (lstm)
      k.lstmBackward(0, n, j0, j1, H, gates, extra, dh, dc, dG, nullptr);
    else if (gru)
      k.gruBackward(0, n, j0, j1, H, gates, extra, hPrevAll + t * B * Ho, dh, dG, dGatesH + t * B * G);
    else
      k.elmanBackward(0, n, j0, j1, H, relu, gates, dh, dG);
  };
  // dh[rows < n, j0:j1] = (GRU: +=) step t's recurrent gate gradients · W_hh.
  auto dhGemm = [&](int64_t t, int64_t n, int64_t j0, int64_t j1) {
    gemmPacked(n, dGatesH + t * B * G, G, sc.wHh, dh, Ho, gru ? 1.f : 0.f, j0, j1);
  };

  int64_t pending = -1, pendingRows = 0;  // the step whose dh GEMM is still to run
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = g.reverse ? s : T - 1 - s;
    const int64_t n = rnnRows(g, t);
    std::fill(dGates + (t * B + n) * G, dGates + (t + 1) * B * G, 0.f);
    if (gru) std::fill(dGatesH + (t * B + n) * G, dGatesH + (t + 1) * B * G, 0.f);
    if (n == 0) continue;
    if (P > 0) {  // the projection needs all of dh before the gate pass: one step at a time
      const float* go = gradOut + t * B * Ho;
      for (int64_t i = 0; i < n * Ho; ++i) dh[i] += go[i];
      std::memcpy(dhAll + t * B * P, dh, sizeof(float) * n * P);
      gemmPacked(n, dh, P, sc.wHr, dhRaw, H, 0.f);
      const float* gates = gatesAll + t * B * G;
      const float* extra = extraAll + t * B * E;
      float* dG = dGates + t * B * G;
      float* hRaw = hRawAll + t * B * H;
      rowsParallel(n, gateCost(g.mode, 1, H), [&](int64_t r0, int64_t r1) {
        k.lstmBackward(r0, r1, 0, H, H, gates, extra, dhRaw, dc, dG, hRaw);
      });
      gemmPacked(n, dG, G, sc.wHh, dh, Ho, 0.f);
      continue;
    }
    const Cost cost{flopsCost(2.0 * pendingRows * G * Ho).ns + gateCost(g.mode, n, H).ns};
    unitsParallel(H, unit, cost, [&](int64_t j0, int64_t j1) {
      if (pending >= 0) dhGemm(pending, pendingRows, j0, j1);
      gatePass(t, n, j0, j1);
    });
    pending = t, pendingRows = n;
  }
  if (pending >= 0) dhGemm(pending, pendingRows, 0, Ho);

  if (d.h0) std::memcpy(d.h0, dh, sizeof(float) * B * Ho);
  if (d.c0 && lstm) std::memcpy(d.c0, dc, sizeof(float) * B * H);
  if (d.x) gemm(R, I, G, dGates, G, false, w.wIh, I, false, d.x, I, 0.f);
  if (d.wIh) gemm(G, I, R, dGates, G, true, x, I, false, d.wIh, I, 0.f);
  if (d.wHh) gemm(G, Ho, R, dGatesH, G, true, hPrevAll, Ho, false, d.wHh, Ho, 0.f);
  if (d.wHr && P > 0) gemm(P, H, R, dhAll, P, true, hRawAll, H, false, d.wHr, H, 0.f);
  auto columnSums = [&](const float* m, float* sums) {
    parallelFor(G, bytesCost(4.0 * R), [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) sums[j] = 0.f;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = j0; j < j1; ++j) sums[j] += m[r * G + j];
    });
  };
  if (d.bIh) columnSums(dGates, d.bIh);
  if (d.bHh) columnSums(dGatesH, d.bHh);
}

}  // namespace kd
