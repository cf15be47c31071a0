// The wide-rows engine (cpu/conv_wide.h): the forward and the weight gradient over wide output
// rows. AVX2 reads the image in place inside its kernels (conv_wide_avx2.cc); the other ISAs pack
// runs of the image straight into the blocked GEMM's panels.
#include "cpu/conv_wide.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu/gemm_blocked.h"

namespace kd::conv_wide {
namespace {

using namespace conv_detail;
using gemm_detail::MicroKernel;

constexpr int64_t kWideChunkCols = 576;

bool wideApplies(const ConvGeometry& g, const Dims& d, const ConvInput& x) {
  return g.groups == 1 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1 && g.padH == 0 &&
         g.padW == 0 && g.oh == g.h - g.kh + 1 && g.ow == g.w - g.kw + 1 && x.sw == 1 && x.sh == g.w &&
         x.sc == d.inPlane && d.ckk >= 16 && 5 * g.ow >= 4 * g.w && g.kw > 1 && g.oh * g.w >= 64;
}

// Runs of consecutive wide positions inside one image: a GEMM k block (at most the micro-kernel's
// kc, 512 or less) or an NR panel spans at most this many images of at least 64 positions.
struct WideRuns {
  static constexpr int kMax = 10;
  int count = 0;
  int64_t image[kMax], q[kMax], length[kMax];
};

struct WideGeometry {
  int64_t rowPositions;  // oh·w wide positions per image
  int64_t imageElems;    // c·h·w
  int64_t imagesPerChunk;
  std::vector<int64_t> tapOffset;  // c·h·w-plane offset of tap (c, ky, kx): c·h·w + ky·w + kx

  WideGeometry(const ConvGeometry& g, const Dims& d) {
    rowPositions = g.oh * g.w;
    imageElems = g.c * d.inPlane;
    imagesPerChunk = std::max<int64_t>(1, kWideChunkCols / rowPositions);
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) tapOffset.push_back(c * d.inPlane + ky * g.w + kx);
  }

  // Positions [j, j + count) of a chunk cut at image boundaries.
  WideRuns runsOf(int64_t j, int64_t count) const {
    WideRuns runs;
    for (int64_t done = 0; done < count; ++runs.count) {
      const int64_t q = (j + done) % rowPositions;
      runs.image[runs.count] = (j + done) / rowPositions;
      runs.q[runs.count] = q;
      runs.length[runs.count] = std::min(count - done, rowPositions - q);
      done += runs.length[runs.count];
    }
    return runs;
  }
  // How many of `length` elements from image offset `offset + q` lie inside the image.
  int64_t inside(int64_t offset, int64_t q, int64_t length) const {
    return std::clamp<int64_t>(imageElems - (offset + q), 0, length);
  }
};

template <int MR, int NR>
void wideForward(const MicroKernel& kernel, const ConvGeometry& g, const Dims& d, const WideGeometry& wg,
                 const ConvInput& x, const float* weight, const float* bias, float* out, int64_t n0, int64_t n1) {
  ScratchBuffer& tmp = threadScratch().tmp;
  for (int64_t c0 = n0; c0 < n1; c0 += wg.imagesPerChunk) {
    const int64_t images = std::min(wg.imagesPerChunk, n1 - c0), cols = images * wg.rowPositions;
    float* c = tmp.reserve(g.k * cols);
    gemm_detail::gemmBlocked<MR, NR>(
        kernel, g.k, cols, d.ckk,
        [&](int64_t ic, int64_t pc, int64_t mc, int64_t kc, float* dst) {
          gemm_detail::packA<MR>(mc, kc, gemm_detail::ConstMat{weight + ic * d.ckk + pc, d.ckk, 1}, dst);
        },
        [&](int64_t pc, int64_t jc, int64_t kc, int64_t nc, float* dst) {
          for (int64_t jr = 0; jr < nc; jr += NR, dst += NR * kc) {
            const WideRuns runs = wg.runsOf(jc + jr, std::min<int64_t>(NR, nc - jr));
            if (runs.count == 1 && runs.length[0] == NR && wg.inside(wg.tapOffset[pc + kc - 1], runs.q[0], NR) == NR) {
              // The common case: one full run inside the image for every tap of the block.
              const float* image = x.p + (c0 + runs.image[0]) * x.sn + runs.q[0];
              for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * NR, image + wg.tapOffset[pc + p], NR * sizeof(float));
              continue;
            }
            for (int64_t p = 0; p < kc; ++p) {
              float* row = dst + p * NR;
              const int64_t offset = wg.tapOffset[pc + p];
              int64_t done = 0;
              for (int r = 0; r < runs.count; ++r) {
                const int64_t inside = wg.inside(offset, runs.q[r], runs.length[r]);
                const float* __restrict src = x.p + (c0 + runs.image[r]) * x.sn + offset + runs.q[r];
                float* __restrict out = row + done;
                for (int64_t i = 0; i < inside; ++i) out[i] = src[i];
                for (int64_t i = inside; i < runs.length[r]; ++i) out[i] = 0.0f;
                done += runs.length[r];
              }
              for (int64_t i = done; i < NR; ++i) row[i] = 0.0f;
            }
          }
        },
        gemm_detail::MatSink{gemm_detail::Mat{c, cols, 1}, 1.0f, 0.0f});
    // Keep the ow real columns of each wide row, plus the bias.
    for (int64_t img = 0; img < images; ++img)
      for (int64_t k = 0; k < g.k; ++k) {
        const float b = bias ? bias[k] : 0.0f;
        const float* src = c + k * cols + img * wg.rowPositions;
        float* dst = out + ((c0 + img) * g.k + k) * d.outPlane;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) dst[oy * g.ow + ox] = src[oy * g.w + ox] + b;
      }
  }
}

template <int MR, int NR>
void wideWeightGrad(const MicroKernel& kernel, const ConvGeometry& g, const Dims& d, const WideGeometry& wg,
                    const ConvInput& x, const float* gradOut, float* gradWeight, bool accumulate, int64_t n0,
                    int64_t n1) {
  ScratchBuffer& tmp = threadScratch().tmp;
  for (int64_t c0 = n0; c0 < n1; c0 += wg.imagesPerChunk) {
    const int64_t images = std::min(wg.imagesPerChunk, n1 - c0), cols = images * wg.rowPositions;
    // gradOut over wide rows, zero in the extra columns.
    float* a = tmp.reserve(g.k * cols);
    for (int64_t k = 0; k < g.k; ++k)
      for (int64_t img = 0; img < images; ++img) {
        const float* src = gradOut + ((c0 + img) * g.k + k) * d.outPlane;
        float* dst = a + k * cols + img * wg.rowPositions;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.w; ++ox) dst[oy * g.w + ox] = ox < g.ow ? src[oy * g.ow + ox] : 0.0f;
      }
    gemm_detail::gemmBlocked<MR, NR>(
        kernel, g.k, d.ckk, cols,
        [&](int64_t ic, int64_t pc, int64_t mc, int64_t kc, float* dst) {
          gemm_detail::packA<MR>(mc, kc, gemm_detail::ConstMat{a + ic * cols + pc, cols, 1}, dst);
        },
        [&](int64_t pc, int64_t jc, int64_t kc, int64_t nc, float* dst) {
          // Panel of NR taps × kc wide positions: each tap's column is a contiguous input run, so
          // the panel is NR rows transposed into k-major order, one run of positions at a time.
          const WideRuns runs = wg.runsOf(pc, kc);
          for (int64_t jr = 0; jr < nc; jr += NR, dst += NR * kc) {
            int64_t done = 0;
            for (int r = 0; r < runs.count; ++r) {
              const float* rows[NR];
              bool allInside = true;
              for (int t = 0; t < NR; ++t) {
                const int64_t offset = jr + t < nc ? wg.tapOffset[jc + jr + t] : -1;
                rows[t] = offset < 0 ? nullptr : x.p + (c0 + runs.image[r]) * x.sn + offset + runs.q[r];
                if (offset < 0 || wg.inside(offset, runs.q[r], runs.length[r]) < runs.length[r]) allInside = false;
              }
              float* out = dst + done * NR;
              if (allInside) {
                gemm_detail::packRowPointersPanel<NR>(runs.length[r], rows, out);
              } else {
                for (int t = 0; t < NR; ++t) {
                  const int64_t inside = rows[t] ? wg.inside(wg.tapOffset[jc + jr + t], runs.q[r], runs.length[r]) : 0;
                  for (int64_t i = 0; i < runs.length[r]; ++i) out[i * NR + t] = i < inside ? rows[t][i] : 0.0f;
                }
              }
              done += runs.length[r];
            }
          }
        },
        gemm_detail::MatSink{gemm_detail::Mat{gradWeight, d.ckk, 1}, 1.0f, accumulate || c0 > n0 ? 1.0f : 0.0f});
  }
}

template <int N>
using Int = std::integral_constant<int, N>;

// Calls run(kernel, Int<MR>, Int<NR>) with the ISA's micro-kernel and its tile.
template <class Run>
void withMicroKernel(CpuIsa isa, Run&& run) {
  switch (isa) {
    case CpuIsa::Avx512: run(gemm_detail::microKernelAvx512(), Int<14>{}, Int<32>{}); break;
    case CpuIsa::Avx2: run(gemm_detail::microKernelAvx2(), Int<6>{}, Int<16>{}); break;
    default: run(gemm_detail::microKernelScalar(), Int<4>{}, Int<8>{}); break;
  }
}

// The wide-rows forward with B read in place from each image (gatherGemmAvx2): the
// weight is packed once per call, and each image's product lands in a per-thread tile of
// ceil(k/6)·6 rows × ceil(oh·w/16)·16 wide positions before its real columns move to out.
void wideForwardGather(const ConvGeometry& g, const Dims& d, const WideGeometry& wg, const ConvInput& x,
                       const float* weight, const float* bias, float* out) {
  constexpr int MR = kGatherMr, NR = kGatherNr;
  const int64_t mPanels = (g.k + MR - 1) / MR, nPanels = (wg.rowPositions + NR - 1) / NR, ldc = nPanels * NR;
  ScratchBuffer packed;
  float* pa = packed.reserve(mPanels * MR * d.ckk);
  gemm_detail::packA<MR>(g.k, d.ckk, gemm_detail::ConstMat{weight, d.ckk, 1}, pa);
  // The kernel reads up to this far past an image's start; images too close to the end of the
  // batch are first copied into a zero-padded buffer.
  const int64_t reach = wg.tapOffset.back() + ldc;
  const int64_t lastEnd = (g.n - 1) * x.sn + wg.imageElems;
  forEachImageRange(g, [&](int, int64_t n0, int64_t n1) {
    ThreadScratch& scratch = threadScratch();
    float* c = scratch.tmp.reserve(mPanels * MR * ldc);
    for (int64_t n = n0; n < n1; ++n) {
      const float* image = x.p + n * x.sn;
      if (n * x.sn + reach > lastEnd) {
        float* copy = scratch.col.reserve(reach);
        std::memcpy(copy, image, wg.imageElems * sizeof(float));
        std::memset(copy + wg.imageElems, 0, (reach - wg.imageElems) * sizeof(float));
        image = copy;
      }
      gatherGemmAvx2(mPanels, d.ckk, gatherBlock(g.kh * g.kw, d.inPlane), pa, image,
                                  wg.tapOffset.data(), nPanels, c, ldc);
      for (int64_t k = 0; k < g.k; ++k) {
        const float b = bias ? bias[k] : 0.0f;
        const float* src = c + k * ldc;
        float* dst = out + (n * g.k + k) * d.outPlane;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) dst[oy * g.ow + ox] = src[oy * g.w + ox] + b;
      }
    }
  });
}

// The wide-rows weight gradient as gradWeight^T[tap][k] = sum over q of image[tapOffset + q] ·
// gradOut[k][q] (rowsGemmAvx2): A read in place from runs of the image, B = gradOut
// transposed into 16-wide panels, zero at the wide rows' extra columns. Positions stop at the
// last real one, (oh-1)·w + ow, so no read leaves the image. Overwrites gradWeight with the sum
// over images [n0, n1).
void wideWeightGradRows(const ConvGeometry& g, const Dims& d, const WideGeometry& wg, const ConvInput& x,
                        const float* gradOut, float* gradWeight, int64_t n0, int64_t n1) {
  constexpr int MR = kGatherMr, NR = kGatherNr;
  const int64_t kc = (g.oh - 1) * g.w + g.ow, taps = d.ckk;
  const int64_t nPanels = (g.k + NR - 1) / NR, ldc = nPanels * NR, mRows = (taps + MR - 1) / MR * MR;
  ThreadScratch& scratch = threadScratch();
  float* t = scratch.tmp.reserve(mRows * ldc + kc);  // gradWeight^T, then kc zeros for padding rows
  const float* zeros = t + mRows * ldc;
  std::fill(t, t + mRows * ldc + kc, 0.0f);
  float* pb = scratch.col.reserve(nPanels * kc * NR);
  for (int64_t n = n0; n < n1; ++n) {
    for (int64_t k = 0; k < ldc; ++k) {
      float* dst = pb + (k / NR) * kc * NR + k % NR;
      if (k >= g.k) {
        for (int64_t q = 0; q < kc; ++q) dst[q * NR] = 0.0f;
        continue;
      }
      const float* src = gradOut + (n * g.k + k) * d.outPlane;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        float* row = dst + oy * g.w * NR;
        for (int64_t ox = 0; ox < g.ow; ++ox) row[ox * NR] = src[oy * g.ow + ox];
        if (oy + 1 < g.oh)
          for (int64_t ox = g.ow; ox < g.w; ++ox) row[ox * NR] = 0.0f;
      }
    }
    rowsGemmAvx2(taps, kc, x.p + n * x.sn, wg.tapOffset.data(), zeros, pb, nPanels, t, ldc);
  }
  for (int64_t k = 0; k < g.k; ++k)
    for (int64_t tap = 0; tap < taps; ++tap) gradWeight[k * taps + tap] = t[tap * ldc + k];
}

}  // namespace

bool applies(const ConvGeometry& g, const ConvInput& x) { return wideApplies(g, dimsOf(g), x); }

void forward(CpuIsa isa, const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out) {
  const Dims d = dimsOf(g);
  const WideGeometry wg(g, d);
  if (isa == CpuIsa::Avx2) {
    wideForwardGather(g, d, wg, x, weight, bias, out);
    return;
  }
  withMicroKernel(isa, [&](const MicroKernel& kernel, auto mr, auto nr) {
    forEachImageRange(g, [&](int, int64_t n0, int64_t n1) {
      wideForward<decltype(mr)::value, decltype(nr)::value>(kernel, g, d, wg, x, weight, bias, out, n0, n1);
    });
  });
}

int weightGrad(CpuIsa isa, const ConvGeometry& g, const ConvInput& x, const float* gradOut, WeightGradSums& sums) {
  const Dims d = dimsOf(g);
  const WideGeometry wg(g, d);
  if (isa == CpuIsa::Avx2) {
    return forEachImageRange(g, [&](int t, int64_t n0, int64_t n1) {
      wideWeightGradRows(g, d, wg, x, gradOut, sums.of(t), n0, n1);
      if (n1 > n0) sums.touch(t);
    });
  }
  int used = 1;
  withMicroKernel(isa, [&](const MicroKernel& kernel, auto mr, auto nr) {
    used = forEachImageRange(g, [&](int t, int64_t n0, int64_t n1) {
      wideWeightGrad<decltype(mr)::value, decltype(nr)::value>(kernel, g, d, wg, x, gradOut, sums.of(t), false, n0, n1);
      if (n1 > n0) sums.touch(t);
    });
  });
  return used;
}

}  // namespace kd::conv_wide
