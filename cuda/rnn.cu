// The recurrent layers on the GPU (native/common/rnn.h), the CPU's algorithm step for step: the
// input projection of all steps as one GEMM (cuda::matmul), then per step one GEMM for the
// recurrent projection and one gate kernel (a thread per (row, hidden unit)); the backward runs
// the gate-gradient kernel and one GEMM per step, then the weight gradients as one GEMM each over
// all steps. batchSizes is read on the host; everything else is device memory, enqueued on
// stream(). Scratch comes from the caching allocator and is released in stream order.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>

#include "check.cuh"
#include "common/gemm.h"
#include "common/rnn.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

constexpr int kThreads = 256;

cudaStream_t currentStream() { return static_cast<cudaStream_t>(stream()); }
unsigned blocksFor(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

// A block from the caching allocator for one call.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(int64_t elems)
      : block_(elems > 0 ? deviceAlloc(static_cast<size_t>(elems) * sizeof(float), &reserved_) : nullptr) {}
  ~DeviceBuffer() {
    if (block_) deviceFree(block_, reserved_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* data() const { return static_cast<float*>(block_); }

 private:
  size_t reserved_ = 0;
  void* block_;
};

// C[m, n] (pitch ldc) = A·B + beta·C, A [m, k] row-major (pitch lda) or the transpose of a stored
// [k, m]; B likewise [k, n] or the transpose of a stored [n, k].
void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool transA, const float* b, int64_t ldb,
          bool transB, float* c, int64_t ldc, float beta) {
  if (m == 0 || n == 0) return;
  const StridedMatrix A{const_cast<float*>(a), transA ? 1 : lda, transA ? lda : 1, 0};
  const StridedMatrix B{const_cast<float*>(b), transB ? 1 : ldb, transB ? ldb : 1, 0};
  const StridedMatrix C{c, ldc, 1, 0};
  cuda::matmul(m, n, k, 1, A, B, C, 1.f, beta, allowTf32());
}

void copy(float* dst, const float* src, int64_t elems) {
  if (elems > 0) detail::checkCuda(cudaMemcpyAsync(dst, src, elems * sizeof(float), cudaMemcpyDeviceToDevice, currentStream()), "cudaMemcpyAsync");
}
void zero(float* dst, int64_t elems) {
  if (elems > 0) detail::checkCuda(cudaMemsetAsync(dst, 0, elems * sizeof(float), currentStream()), "cudaMemsetAsync");
}

__device__ float sigmoidf(float v) { return 1.f / (1.f + expf(-v)); }

__global__ void addBiasKernel(float* rows, int64_t n, int64_t G, const float* bIh, const float* bHh) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= n * G) return;
  const int64_t j = e % G;
  rows[e] += bIh[j] + (bHh ? bHh[j] : 0.f);
}

__global__ void lstmForwardKernel(int64_t n, int64_t H, float* gates, float* c, float* cPrev, float* hNew) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= n * H) return;
  const int64_t r = e / H, j = e % H;
  float* g = gates + r * 4 * H;
  const float i = sigmoidf(g[j]), f = sigmoidf(g[H + j]), gg = tanhf(g[2 * H + j]), o = sigmoidf(g[3 * H + j]);
  const float cOld = c[e], cNew = f * cOld + i * gg;
  g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
  cPrev[e] = cOld;
  c[e] = cNew;
  hNew[e] = o * tanhf(cNew);
}

__global__ void gruForwardKernel(int64_t n, int64_t H, float* gates, const float* hh, const float* bHh,
                                 const float* hPrev, float* hn, float* hNew) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= n * H) return;
  const int64_t r = e / H, j = e % H;
  float* g = gates + r * 3 * H;
  const float* q = hh + r * 3 * H;
  const float rg = sigmoidf(g[j] + q[j] + (bHh ? bHh[j] : 0.f));
  const float z = sigmoidf(g[H + j] + q[H + j] + (bHh ? bHh[H + j] : 0.f));
  const float hnv = q[2 * H + j] + (bHh ? bHh[2 * H + j] : 0.f);
  const float nv = tanhf(g[2 * H + j] + rg * hnv);
  g[j] = rg, g[H + j] = z, g[2 * H + j] = nv;
  hn[e] = hnv;
  hNew[e] = (1.f - z) * nv + z * hPrev[e];
}

__global__ void elmanForwardKernel(int64_t n, int64_t H, bool relu, float* gates, float* hNew) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= n * H) return;
  const float v = relu ? fmaxf(gates[e], 0.f) : tanhf(gates[e]);
  gates[e] = v;
  hNew[e] = v;
}

__global__ void lstmBackwardKernel(int64_t n, int64_t H, const float* gates, const float* cPrev, const float* dh,
                                   float* dc, float* dGates, float* hRaw) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= n * H) return;
  const int64_t r = e / H, j = e % H;
  const float* g = gates + r * 4 * H;
  float* d = dGates + r * 4 * H;
  const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j], cp = cPrev[e];
  const float tc = tanhf(f * cp + i * gg);
  const float dcj = dc[e] + dh[e] * o * (1.f - tc * tc);
  d[j] = dcj * gg * i * (1.f - i);
  d[H + j] = dcj * cp * f * (1.f - f);
  d[2 * H + j] = dcj * i * (1.f - gg * gg);
  d[3 * H + j] = dh[e] * tc * o * (1.f - o);
  dc[e] = dcj * f;
  if (hRaw) hRaw[e] = o * tc;
}

__global__ void gruBackwardKernel(int64_t n, int64_t H, const float* gates, const float* hn, const float* hPrev,
                                  float* dh, float* dGates, float* dGatesH) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= n * H) return;
  const int64_t r = e / H, j = e % H;
  const float* g = gates + r * 3 * H;
  const float rg = g[j], z = g[H + j], nv = g[2 * H + j], d = dh[e];
  const float dnPre = d * (1.f - z) * (1.f - nv * nv);
  const float drPre = dnPre * hn[e] * rg * (1.f - rg);
  const float dzPre = d * (hPrev[e] - nv) * z * (1.f - z);
  float* di = dGates + r * 3 * H;
  float* dhh = dGatesH + r * 3 * H;
  di[j] = dhh[j] = drPre;
  di[H + j] = dhh[H + j] = dzPre;
  di[2 * H + j] = dnPre;
  dhh[2 * H + j] = dnPre * rg;
  dh[e] = d * z;
}

__global__ void elmanBackwardKernel(int64_t n, int64_t H, bool relu, const float* gates, const float* dh, float* dGates) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= n * H) return;
  const float h = gates[e];
  dGates[e] = relu ? (h > 0.f ? dh[e] : 0.f) : dh[e] * (1.f - h * h);
}

__global__ void addKernel(float* dst, const float* src, int64_t n) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e < n) dst[e] += src[e];
}

// sums[j] = Σ_r m[r, j]: a thread per column, rows walked in order (deterministic).
__global__ void columnSumsKernel(const float* m, int64_t rows, int64_t cols, float* sums) {
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= cols) return;
  float s = 0.f;
  for (int64_t r = 0; r < rows; ++r) s += m[r * cols + j];
  sums[j] = s;
}

void checkGeometry(const RnnGeometry& g) {
  if (const char* problem = rnnGeometryProblem(g)) throw std::invalid_argument(problem);
}

}  // namespace

void rnnForward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* h0, const float* c0,
                float* out, float* hN, float* cN, float* workspace) {
  checkGeometry(g);
  const int64_t T = g.steps, B = g.batch, I = g.input, H = g.hidden, G = rnnGates(g), Ho = rnnOutSize(g);
  const bool lstm = g.mode == RnnMode::Lstm, gru = g.mode == RnnMode::Gru;
  const int64_t E = lstm || gru ? H : 0;
  float* gatesAll = workspace;
  float* extraAll = gatesAll + T * B * G;
  float* hPrevAll = extraAll + T * B * E;
  cudaStream_t s = currentStream();

  gemm(T * B, G, I, x, I, false, w.wIh, I, true, gatesAll, G, 0.f);
  if (w.bIh && T * B > 0) {
    addBiasKernel<<<blocksFor(T * B * G), kThreads, 0, s>>>(gatesAll, T * B, G, w.bIh, gru ? nullptr : w.bHh);
    detail::checkLaunch("addBiasKernel");
  }
  copy(hN, h0, B * Ho);
  if (lstm) copy(cN, c0, B * H);
  const DeviceBuffer hh(gru ? B * G : 0), hRaw(g.proj > 0 ? B * H : 0);

  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = g.reverse ? T - 1 - step : step;
    const int64_t n = rnnRows(g, t);
    float* gates = gatesAll + t * B * G;
    float* extra = extraAll + t * B * E;
    float* hPrev = hPrevAll + t * B * Ho;
    float* o = out + t * B * Ho;
    copy(hPrev, hN, n * Ho);
    zero(hPrev + n * Ho, (B - n) * Ho);
    zero(gates + n * G, (B - n) * G);
    zero(extra + n * E, (B - n) * E);
    zero(o + n * Ho, (B - n) * Ho);
    if (n == 0) continue;
    if (gru) {
      gemm(n, G, Ho, hPrev, Ho, false, w.wHh, Ho, true, hh.data(), G, 0.f);
      gruForwardKernel<<<blocksFor(n * H), kThreads, 0, s>>>(n, H, gates, hh.data(), w.bHh, hPrev, extra, hN);
      detail::checkLaunch("gruForwardKernel");
    } else {
      gemm(n, G, Ho, hPrev, Ho, false, w.wHh, Ho, true, gates, G, 1.f);
      if (lstm) {
        float* hNew = g.proj > 0 ? hRaw.data() : hN;
        lstmForwardKernel<<<blocksFor(n * H), kThreads, 0, s>>>(n, H, gates, cN, extra, hNew);
        detail::checkLaunch("lstmForwardKernel");
        if (g.proj > 0) gemm(n, Ho, H, hRaw.data(), H, false, w.wHr, H, true, hN, Ho, 0.f);
      } else {
        elmanForwardKernel<<<blocksFor(n * H), kThreads, 0, s>>>(n, H, g.mode == RnnMode::RnnRelu, gates, hN);
        detail::checkLaunch("elmanForwardKernel");
      }
    }
    copy(o, hN, n * Ho);
  }
}

void rnnBackward(const RnnGeometry& g, const RnnWeights& w, const float* x, const float* workspace,
                 const float* gradOut, const float* gradHN, const float* gradCN, const RnnGrads& d) {
  checkGeometry(g);
  const int64_t T = g.steps, B = g.batch, I = g.input, H = g.hidden, G = rnnGates(g), Ho = rnnOutSize(g), P = g.proj;
  const bool lstm = g.mode == RnnMode::Lstm, gru = g.mode == RnnMode::Gru;
  const int64_t E = lstm || gru ? H : 0;
  const float* gatesAll = workspace;
  const float* extraAll = gatesAll + T * B * G;
  const float* hPrevAll = extraAll + T * B * E;
  cudaStream_t s = currentStream();

  const DeviceBuffer dGates(T * B * G), dGatesH(gru ? T * B * G : 0), dh(B * Ho), dc(lstm ? B * H : 0);
  const DeviceBuffer dhRaw(P > 0 ? B * H : 0), hRawAll(P > 0 ? T * B * H : 0), dhAll(P > 0 ? T * B * P : 0);
  zero(dGates.data(), T * B * G);
  zero(dGatesH.data(), gru ? T * B * G : 0);
  zero(hRawAll.data(), P > 0 ? T * B * H : 0);
  zero(dhAll.data(), P > 0 ? T * B * P : 0);
  if (gradHN) copy(dh.data(), gradHN, B * Ho); else zero(dh.data(), B * Ho);
  if (lstm) {
    if (gradCN) copy(dc.data(), gradCN, B * H); else zero(dc.data(), B * H);
  }

  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = g.reverse ? step : T - 1 - step;
    const int64_t n = rnnRows(g, t);
    if (n == 0) continue;
    const float* gates = gatesAll + t * B * G;
    const float* extra = extraAll + t * B * E;
    const float* hPrev = hPrevAll + t * B * Ho;
    float* dG = dGates.data() + t * B * G;
    addKernel<<<blocksFor(n * Ho), kThreads, 0, s>>>(dh.data(), gradOut + t * B * Ho, n * Ho);
    detail::checkLaunch("addKernel");
    if (lstm) {
      const float* dhIn = dh.data();
      float* hRaw = nullptr;
      if (P > 0) {
        copy(dhAll.data() + t * B * P, dh.data(), n * P);
        gemm(n, H, P, dh.data(), P, false, w.wHr, H, false, dhRaw.data(), H, 0.f);
        dhIn = dhRaw.data();
        hRaw = hRawAll.data() + t * B * H;
      }
      lstmBackwardKernel<<<blocksFor(n * H), kThreads, 0, s>>>(n, H, gates, extra, dhIn, dc.data(), dG, hRaw);
      detail::checkLaunch("lstmBackwardKernel");
      gemm(n, Ho, G, dG, G, false, w.wHh, Ho, false, dh.data(), Ho, 0.f);
    } else if (gru) {
      float* dGH = dGatesH.data() + t * B * G;
      gruBackwardKernel<<<blocksFor(n * H), kThreads, 0, s>>>(n, H, gates, extra, hPrev, dh.data(), dG, dGH);
      detail::checkLaunch("gruBackwardKernel");
      gemm(n, Ho, G, dGH, G, false, w.wHh, Ho, false, dh.data(), Ho, 1.f);
    } else {
      elmanBackwardKernel<<<blocksFor(n * H), kThreads, 0, s>>>(n, H, g.mode == RnnMode::RnnRelu, gates, dh.data(), dG);
      detail::checkLaunch("elmanBackwardKernel");
      gemm(n, Ho, G, dG, G, false, w.wHh, Ho, false, dh.data(), Ho, 0.f);
    }
  }

  if (d.h0) copy(d.h0, dh.data(), B * Ho);
  if (d.c0 && lstm) copy(d.c0, dc.data(), B * H);
  const int64_t R = T * B;
  const float* dGH = gru ? dGatesH.data() : dGates.data();
  if (d.x) gemm(R, I, G, dGates.data(), G, false, w.wIh, I, false, d.x, I, 0.f);
  if (d.wIh) gemm(G, I, R, dGates.data(), G, true, x, I, false, d.wIh, I, 0.f);
  if (d.wHh) gemm(G, Ho, R, dGH, G, true, hPrevAll, Ho, false, d.wHh, Ho, 0.f);
  if (d.wHr && P > 0) gemm(P, H, R, dhAll.data(), P, true, hRawAll.data(), H, false, d.wHr, H, 0.f);
  if (d.bIh) {
    columnSumsKernel<<<blocksFor(G), kThreads, 0, s>>>(dGates.data(), R, G, d.bIh);
    detail::checkLaunch("columnSumsKernel");
  }
  if (d.bHh) {
    columnSumsKernel<<<blocksFor(G), kThreads, 0, s>>>(dGH, R, G, d.bHh);
    detail::checkLaunch("columnSumsKernel");
  }
}

}  // namespace kd::cuda
