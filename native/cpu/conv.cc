// conv2d forward and backward as im2col + sgemm over column chunks.
//
// Chunks: the output positions (n, oy, ox) of the batch are cut into chunks of `cols` columns.
// When one image has at least a chunk's worth of positions, a chunk is a run of positions inside
// one image, and the GEMM reads and writes the NCHW tensors in place (row stride OH·OW). Smaller
// images are grouped whole, `imagesPerChunk` at a time, through a gathered/scattered buffer, so
// the GEMM's n stays wide (the MNIST 3×3 layer has 9 positions per image).
//
// Threads: with at least as many images as threads, each thread owns a contiguous range of
// images and runs its chunks with single-threaded GEMMs (sgemm runs inline inside a parallel
// region); no two threads touch the same image, so the input gradient's col2im scatter needs no
// locks. With fewer images, forward and weight-gradient chunks are spread over the threads
// instead, and the input gradient runs its chunks in order with a threaded GEMM and a col2im
// split by channel. The weight gradient sums per-thread partial GEMM results at the end.
#include "cpu/conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "cpu/conv_direct.h"
#include "cpu/gemm.h"
#include "common/isa.h"
#include "common/scratch.h"
#include "cpu/gemm_blocked.h"

namespace kd {
namespace {

using gemm_detail::MicroKernel;

// One col block of at most this many floats (192 KiB) stays within Zen 3's 512 KiB L2 beside the
// GEMM's own packed panels, so col2im reads back what the GEMM just wrote from L2 (512 KiB blocks
// measured ~10% slower on the MNIST layer-2 input gradient).
constexpr int64_t kColBudgetElems = 49152;
constexpr int64_t kMinChunkCols = 16;
constexpr int64_t kMaxChunkCols = 4096;


struct ThreadScratch {
  ScratchBuffer col, tmp;
};

ThreadScratch& threadScratch() {
  thread_local ThreadScratch scratch;
  return scratch;
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Any of the three passes: 2·n·k·(c/groups)·kh·kw·oh·ow flops.
Cost convCost(const ConvGeometry& g) {
  return flopsCost(2.0 * static_cast<double>(g.n * g.k * (g.c / g.groups) * g.kh * g.kw) * static_cast<double>(g.oh * g.ow));
}

// The sizes every pass derives from the geometry.
struct Dims {
  int64_t cg, kg;     // channels per group in and out
  int64_t ckk;        // rows of col per group: cg·kh·kw
  int64_t outPlane;   // oh·ow
  int64_t inPlane;    // h·w
};

Dims dimsOf(const ConvGeometry& g) {
  Dims d;
  d.cg = g.c / g.groups;
  d.kg = g.k / g.groups;
  d.ckk = d.cg * g.kh * g.kw;
  d.outPlane = g.oh * g.ow;
  d.inPlane = g.h * g.w;
  return d;
}

// 1×1, stride 1, no padding, and the input's (y, x) plane is one contiguous run: col is the input.
bool isPointwise(const ConvGeometry& g, const ConvInput& x) {
  return g.kh == 1 && g.kw == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0 &&
         g.oh == g.h && g.ow == g.w && x.sw == 1 && (x.sh == g.w || g.h == 1);
}

// A chunk: positions [q0, q0 + cols) of image n when images == 1, else `images` whole images
// from n on (q0 = 0, cols = images·oh·ow).
struct Chunk {
  int64_t n, images, q0, cols;
};

struct ChunkPlan {
  int64_t outPlane;
  int64_t segmentsPerImage, segmentCols;  // images split into segments (imagesPerChunk == 1)
  int64_t imagesPerChunk;                 // > 1: whole images grouped
  int64_t maxCols;

  int64_t count(int64_t images) const {
    return imagesPerChunk > 1 ? ceilDiv(images, imagesPerChunk) : images * segmentsPerImage;
  }
  // Chunk i of the images [n0, n1).
  Chunk at(int64_t n0, int64_t n1, int64_t i) const {
    if (imagesPerChunk > 1) {
      const int64_t n = n0 + i * imagesPerChunk, images = std::min(imagesPerChunk, n1 - n);
      return {n, images, 0, images * outPlane};
    }
    const int64_t q0 = (i % segmentsPerImage) * segmentCols;
    return {n0 + i / segmentsPerImage, 1, q0, std::min(segmentCols, outPlane - q0)};
  }
};

// Chunks of about `targetCols` columns (at most the col budget), segments balanced in length.
ChunkPlan makePlan(const Dims& d, int64_t targetCols) {
  int64_t cols = std::clamp(kColBudgetElems / std::max<int64_t>(d.ckk, 1), kMinChunkCols, kMaxChunkCols);
  cols = std::max(kMinChunkCols, std::min(cols, targetCols));
  ChunkPlan p;
  p.outPlane = d.outPlane;
  if (cols / d.outPlane <= 1) {
    p.imagesPerChunk = 1;
    p.segmentsPerImage = ceilDiv(d.outPlane, cols);
    p.segmentCols = ceilDiv(d.outPlane, p.segmentsPerImage);
    p.maxCols = p.segmentCols;
  } else {
    p.imagesPerChunk = cols / d.outPlane;
    p.segmentsPerImage = 1;
    p.segmentCols = d.outPlane;
    p.maxCols = p.imagesPerChunk * d.outPlane;
  }
  return p;
}

// Image-parallel when every thread gets about the same number of images.
bool imageParallel(const ConvGeometry& g, int threads) {
  return threads <= 1 || (g.n >= threads && (g.n % threads == 0 || g.n >= 4 * threads));
}

// Runs body(threadIndex, chunk) for every chunk of the batch. Image-parallel: thread t owns a
// contiguous range of images. Otherwise chunks are cut so every thread gets some and dealt out in
// contiguous ranges. Returns the number of threads that ran.
template <class Body>
int forEachChunkParallel(const ConvGeometry& g, const Dims& d, Body&& body) {
  const int threads = threadsForCost(convCost(g));
  int used = 1;
  if (imageParallel(g, threads)) {
    const ChunkPlan plan = makePlan(d, kMaxChunkCols);
    parallelRun(static_cast<int>(std::min<int64_t>(threads, g.n)), convCost(g), [&](int t, int count) {
      if (t == 0) used = count;
      const int64_t n0 = g.n * t / count, n1 = g.n * (t + 1) / count;
      for (int64_t i = 0, chunks = plan.count(n1 - n0); i < chunks; ++i) body(t, plan.at(n0, n1, i));
    });
  } else {
    const ChunkPlan plan = makePlan(d, ceilDiv(g.n * d.outPlane, threads));
    const int64_t chunks = plan.count(g.n);
    parallelRun(static_cast<int>(std::min<int64_t>(threads, chunks)), convCost(g), [&](int t, int count) {
      if (t == 0) used = count;
      for (int64_t i = chunks * t / count, end = chunks * (t + 1) / count; i < end; ++i) body(t, plan.at(0, g.n, i));
    });
  }
  return used;
}

// Outputs o in [lo, hi) (clamped to [0, outSize)) for which 0 <= o*stride + offset < inSize.
void validOutputs(int64_t outSize, int64_t stride, int64_t offset, int64_t inSize, int64_t& lo, int64_t& hi) {
  lo = offset >= 0 ? 0 : ceilDiv(-offset, stride);
  hi = inSize - offset <= 0 ? 0 : ceilDiv(inSize - offset, stride);
  lo = std::min(lo, outSize);
  hi = std::clamp(hi, lo, outSize);
}

// Calls run(n, oy, ox0, ox1, colOffset) for each output-row run of the chunk, in column order.
template <class Run>
void forEachRowRun(const ConvGeometry& g, const Chunk& ch, Run&& run) {
  int64_t col = 0;
  for (int64_t img = 0; img < ch.images; ++img) {
    const int64_t n = ch.n + img;
    const int64_t qEnd = ch.images == 1 ? ch.q0 + ch.cols : g.oh * g.ow;
    for (int64_t q = ch.images == 1 ? ch.q0 : 0; q < qEnd;) {
      const int64_t oy = q / g.ow, ox0 = q % g.ow, ox1 = std::min(g.ow, ox0 + (qEnd - q));
      run(n, oy, ox0, ox1, col);
      col += ox1 - ox0;
      q += ox1 - ox0;
    }
  }
}

// col for group `group` and the chunk: row r = (c, ky, kx) holds the input pixel each output
// position reads at that kernel tap, 0 in the padding. Walks output rows: for wide outputs.
void im2colRows(const ConvGeometry& g, const Dims& d, const ConvInput& x, int64_t group, const Chunk& ch, float* col,
            int64_t ld) {
  for (int64_t c = 0; c < d.cg; ++c) {
    const float* plane = x.p + (group * d.cg + c) * x.sc;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        float* dst = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        const int64_t xOffset = kx * g.dilationW - g.padW;
        int64_t oxLo, oxHi;
        validOutputs(g.ow, g.strideW, xOffset, g.w, oxLo, oxHi);
        forEachRowRun(g, ch, [&](int64_t n, int64_t oy, int64_t ox0, int64_t ox1, int64_t at) {
          float* out = dst + at - ox0;
          const int64_t iy = oy * g.strideH - g.padH + ky * g.dilationH;
          if (iy < 0 || iy >= g.h) {
            std::fill(out + ox0, out + ox1, 0.0f);
            return;
          }
          const float* row = plane + n * x.sn + iy * x.sh;
          const int64_t lo = std::clamp(oxLo, ox0, ox1), hi = std::clamp(oxHi, lo, ox1);
          std::fill(out + ox0, out + lo, 0.0f);
          if (g.strideW == 1 && x.sw == 1) {
            std::memcpy(out + lo, row + lo + xOffset, static_cast<size_t>(hi - lo) * sizeof(float));
          } else {
            const int64_t step = g.strideW * x.sw;
            const float* src = row + (lo * g.strideW + xOffset) * x.sw;
            for (int64_t ox = lo; ox < hi; ++ox, src += step) out[ox] = *src;
          }
          std::fill(out + hi, out + ox1, 0.0f);
        });
      }
  }
}

// The adjoint of im2col: adds col rows of channels [cBegin, cEnd) of group `group` into gradInput
// (contiguous NCHW). Walks output rows: for wide outputs.
void col2imAddRows(const ConvGeometry& g, const Dims& d, const float* col, int64_t ld, int64_t group, const Chunk& ch,
               int64_t cBegin, int64_t cEnd, float* gradInput) {
  for (int64_t c = cBegin; c < cEnd; ++c) {
    float* plane = gradInput + (group * d.cg + c) * d.inPlane;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float* src = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        const int64_t xOffset = kx * g.dilationW - g.padW;
        int64_t oxLo, oxHi;
        validOutputs(g.ow, g.strideW, xOffset, g.w, oxLo, oxHi);
        forEachRowRun(g, ch, [&](int64_t n, int64_t oy, int64_t ox0, int64_t ox1, int64_t at) {
          const int64_t iy = oy * g.strideH - g.padH + ky * g.dilationH;
          if (iy < 0 || iy >= g.h) return;
          const float* in = src + at - ox0;
          float* row = plane + n * g.c * d.inPlane + iy * g.w + xOffset;
          const int64_t lo = std::clamp(oxLo, ox0, ox1), hi = std::clamp(oxHi, lo, ox1);
          if (g.strideW == 1) {
            for (int64_t ox = lo; ox < hi; ++ox) row[ox] += in[ox];
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) row[ox * g.strideW] += in[ox];
          }
        });
      }
  }
}

// For narrow outputs (the MNIST layers' rows are 3 to 26 wide) per-row setup dominates; these
// walk each col row in one loop over the chunk's columns through per-column tables instead.
struct ColumnTable {
  std::vector<int64_t> inputBase, gradBase;  // offsets of the window origin (oy·sH − pH, ox·sW − pW)
  std::vector<int64_t> y0, x0;
};

ColumnTable& columnTable(const ConvGeometry& g, const ConvInput& x, const Chunk& ch) {
  thread_local ColumnTable t;
  t.inputBase.resize(static_cast<size_t>(ch.cols));
  t.gradBase.resize(static_cast<size_t>(ch.cols));
  t.y0.resize(static_cast<size_t>(ch.cols));
  t.x0.resize(static_cast<size_t>(ch.cols));
  forEachRowRun(g, ch, [&](int64_t n, int64_t oy, int64_t ox0, int64_t ox1, int64_t at) {
    const int64_t iy = oy * g.strideH - g.padH;
    for (int64_t ox = ox0; ox < ox1; ++ox) {
      const size_t j = static_cast<size_t>(at + ox - ox0);
      const int64_t ix = ox * g.strideW - g.padW;
      t.y0[j] = iy;
      t.x0[j] = ix;
      t.inputBase[j] = n * x.sn + iy * x.sh + ix * x.sw;
      t.gradBase[j] = (n * g.c * g.h + iy) * g.w + ix;
    }
  });
  return t;
}

void im2colTable(const ConvGeometry& g, const Dims& d, const ConvInput& x, int64_t group, const Chunk& ch, float* col,
                 int64_t ld) {
  const ColumnTable& t = columnTable(g, x, ch);
  const int64_t* base = t.inputBase.data();
  const bool unpadded = g.padH == 0 && g.padW == 0;  // then every window lies inside the input
  for (int64_t c = 0; c < d.cg; ++c)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        float* dst = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        const int64_t dy = ky * g.dilationH, dx = kx * g.dilationW;
        const float* src = x.p + (group * d.cg + c) * x.sc + dy * x.sh + dx * x.sw;
        if (unpadded) {
          for (int64_t j = 0; j < ch.cols; ++j) dst[j] = src[base[j]];
        } else {
          for (int64_t j = 0; j < ch.cols; ++j) {
            const int64_t iy = t.y0[j] + dy, ix = t.x0[j] + dx;
            dst[j] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? src[base[j]] : 0.0f;
          }
        }
      }
}

void col2imAddTable(const ConvGeometry& g, const Dims& d, const float* col, int64_t ld, int64_t group,
                    const Chunk& ch, int64_t cBegin, int64_t cEnd, float* gradInput) {
  const ConvInput dense{gradInput, g.c * d.inPlane, d.inPlane, g.w, 1};
  const ColumnTable& t = columnTable(g, dense, ch);
  const int64_t* base = t.gradBase.data();
  const bool unpadded = g.padH == 0 && g.padW == 0;
  for (int64_t c = cBegin; c < cEnd; ++c)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float* src = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        const int64_t dy = ky * g.dilationH, dx = kx * g.dilationW;
        float* dst = gradInput + (group * d.cg + c) * d.inPlane + dy * g.w + dx;
        // Within one col row no two columns reach the same input pixel, so the adds are independent.
        if (unpadded) {
          for (int64_t j = 0; j < ch.cols; ++j) dst[base[j]] += src[j];
        } else {
          for (int64_t j = 0; j < ch.cols; ++j) {
            const int64_t iy = t.y0[j] + dy, ix = t.x0[j] + dx;
            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) dst[base[j]] += src[j];
          }
        }
      }
}

// Every window inside the input and unit column steps (stride 1, x.sw 1): each output-row run
// of a col row is one contiguous input run, copied with no bounds logic at all.
bool unpaddedUnitSteps(const ConvGeometry& g, const ConvInput& x) {
  return g.padH == 0 && g.padW == 0 && g.strideW == 1 && x.sw == 1 &&
         (g.oh - 1) * g.strideH + (g.kh - 1) * g.dilationH < g.h && g.ow - 1 + (g.kw - 1) * g.dilationW < g.w;
}

void im2colRuns(const ConvGeometry& g, const Dims& d, const ConvInput& x, int64_t group, const Chunk& ch, float* col,
                int64_t ld) {
  const bool wholeImages = ch.q0 == 0 && ch.cols == ch.images * d.outPlane;
  for (int64_t c = 0; c < d.cg; ++c)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        float* dst = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        const float* tap = x.p + (group * d.cg + c) * x.sc + ky * g.dilationH * x.sh + kx * g.dilationW;
        if (wholeImages) {  // rows in order, no per-run index arithmetic
          for (int64_t img = 0; img < ch.images; ++img) {
            const float* plane = tap + (ch.n + img) * x.sn;
            for (int64_t oy = 0; oy < g.oh; ++oy, dst += g.ow) {
              const float* __restrict in = plane + oy * g.strideH * x.sh;
              float* __restrict out = dst;
              for (int64_t i = 0; i < g.ow; ++i) out[i] = in[i];
            }
          }
          continue;
        }
        forEachRowRun(g, ch, [&](int64_t n, int64_t oy, int64_t ox0, int64_t ox1, int64_t at) {
          const float* __restrict src = tap + n * x.sn + oy * g.strideH * x.sh + ox0;
          float* __restrict out = dst + at;
          for (int64_t i = 0; i < ox1 - ox0; ++i) out[i] = src[i];
        });
      }
}

void col2imAddRuns(const ConvGeometry& g, const Dims& d, const float* col, int64_t ld, int64_t group, const Chunk& ch,
                   int64_t cBegin, int64_t cEnd, float* gradInput) {
  const bool wholeImages = ch.q0 == 0 && ch.cols == ch.images * d.outPlane;
  for (int64_t c = cBegin; c < cEnd; ++c)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float* src = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        float* tap = gradInput + (group * d.cg + c) * d.inPlane + ky * g.dilationH * g.w + kx * g.dilationW;
        if (wholeImages) {  // rows in order, no per-run index arithmetic
          for (int64_t img = 0; img < ch.images; ++img) {
            float* plane = tap + (ch.n + img) * g.c * d.inPlane;
            for (int64_t oy = 0; oy < g.oh; ++oy, src += g.ow) {
              float* __restrict out = plane + oy * g.strideH * g.w;
              const float* __restrict in = src;
              for (int64_t i = 0; i < g.ow; ++i) out[i] += in[i];
            }
          }
          continue;
        }
        forEachRowRun(g, ch, [&](int64_t n, int64_t oy, int64_t ox0, int64_t ox1, int64_t at) {
          float* __restrict out = tap + n * g.c * d.inPlane + oy * g.strideH * g.w + ox0;
          const float* __restrict in = src + at;
          for (int64_t i = 0; i < ox1 - ox0; ++i) out[i] += in[i];
        });
      }
}

// Row runs shorter than this go through the column tables (when the windows reach the padding);
// unpadded runs are copied whole from this length on.
constexpr int64_t kMinRowRun = 32;
constexpr int64_t kMinCopyRun = 8;

void im2col(const ConvGeometry& g, const Dims& d, const ConvInput& x, int64_t group, const Chunk& ch, float* col,
            int64_t ld) {
  if (unpaddedUnitSteps(g, x) && g.ow >= kMinCopyRun) im2colRuns(g, d, x, group, ch, col, ld);
  else if (g.ow < kMinRowRun) im2colTable(g, d, x, group, ch, col, ld);
  else im2colRows(g, d, x, group, ch, col, ld);
}

void col2imAdd(const ConvGeometry& g, const Dims& d, const float* col, int64_t ld, int64_t group, const Chunk& ch,
               int64_t cBegin, int64_t cEnd, float* gradInput) {
  const ConvInput dense{gradInput, g.c * d.inPlane, d.inPlane, g.w, 1};
  if (unpaddedUnitSteps(g, dense) && g.ow >= kMinCopyRun) col2imAddRuns(g, d, col, ld, group, ch, cBegin, cEnd, gradInput);
  else if (g.ow < kMinRowRun) col2imAddTable(g, d, col, ld, group, ch, cBegin, cEnd, gradInput);
  else col2imAddRows(g, d, col, ld, group, ch, cBegin, cEnd, gradInput);
}

// C (kg × ckk) (+)= A (kg × cols) · col^T for tiny ckk (a single input channel: 9 rows), where a
// GEMM would spend most of its register tile on padding: one dot product per element of C.
__attribute__((target_clones("arch=haswell", "default")))
void weightGradDots(int64_t kg, int64_t ckk, int64_t cols, const float* a, int64_t aRow, const float* col,
                    int64_t colRow, float* c, bool accumulate) {
  constexpr int kLanes = 16;
  for (int64_t k = 0; k < kg; ++k)
    for (int64_t r = 0; r < ckk; ++r) {
      const float* x = a + k * aRow;
      const float* y = col + r * colRow;
      float lanes[kLanes] = {};
      int64_t j = 0;
      for (; j + kLanes <= cols; j += kLanes)
        for (int l = 0; l < kLanes; ++l) lanes[l] += x[j + l] * y[j + l];
      float sum = 0.0f;
      for (int l = 0; l < kLanes; ++l) sum += lanes[l];
      for (; j < cols; ++j) sum += x[j] * y[j];
      c[k * ckk + r] = accumulate ? c[k * ckk + r] + sum : sum;
    }
}

// Below this many col rows the weight gradient uses weightGradDots instead of sgemm.
constexpr int64_t kMinGemmWeightRows = 16;

GemmArgs gemmArgs(int64_t m, int64_t n, int64_t k, const float* a, int64_t aRow, int64_t aCol, const float* b,
                  int64_t bRow, int64_t bCol, float* c, int64_t cRow, float beta) {
  GemmArgs args{};
  args.m = m; args.n = n; args.k = k; args.batch = 1;
  args.a = a; args.aRowStride = aRow; args.aColStride = aCol;
  args.b = b; args.bRowStride = bRow; args.bColStride = bCol;
  args.c = c; args.cRowStride = cRow; args.cColStride = 1;
  args.alpha = 1.0f; args.beta = beta;
  return args;
}

// Copies the chunk's rows [k0, k0 + kg) of an NCHW tensor with `channels` channels into a dense
// kg × cols block (gather) or back (scatter, adding bias when given).
void gatherRows(const Dims& d, const Chunk& ch, const float* src, int64_t channels, int64_t k0, int64_t kg,
                float* dst) {
  for (int64_t img = 0; img < ch.images; ++img)
    for (int64_t k = 0; k < kg; ++k)
      std::memcpy(dst + k * ch.cols + img * d.outPlane, src + ((ch.n + img) * channels + k0 + k) * d.outPlane,
                  static_cast<size_t>(d.outPlane) * sizeof(float));
}

void scatterRows(const Dims& d, const Chunk& ch, const float* src, int64_t channels, int64_t k0, int64_t kg,
                 const float* bias, float* dst) {
  for (int64_t img = 0; img < ch.images; ++img)
    for (int64_t k = 0; k < kg; ++k) {
      const float* s = src + k * ch.cols + img * d.outPlane;
      float* o = dst + ((ch.n + img) * channels + k0 + k) * d.outPlane;
      const float b = bias ? bias[k0 + k] : 0.0f;
      for (int64_t j = 0; j < d.outPlane; ++j) o[j] = s[j] + b;
    }
}

// ---- wide rows --------------------------------------------------------------------------------
// A stride-1, unpadded, undilated convolution computed over "wide" output rows: positions
// (oy, ox) for ox in [0, w) instead of [0, ow). Then the patch row of tap (c, ky, kx) is the
// input image itself read from offset c·h·w + ky·w + kx, so the GEMM packs B straight from the
// input with no im2col buffer. The w − ow extra columns of each row are computed and dropped
// (forward) or meet a zero gradient (weight gradient; a non-finite input pixel there would leak
// a NaN into the weight gradient, where the exact path would not). Reads past an image's last
// element, which only junk columns make, are replaced by zeros. Worth it while ow/w >= 0.8.
constexpr int64_t kWideChunkCols = 576;

bool wideApplies(const ConvGeometry& g, const Dims& d, const ConvInput& x) {
  return g.groups == 1 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1 && g.padH == 0 &&
         g.padW == 0 && g.oh == g.h - g.kh + 1 && g.ow == g.w - g.kw + 1 && x.sw == 1 && x.sh == g.w &&
         x.sc == d.inPlane && d.ckk >= 16 && 5 * g.ow >= 4 * g.w && g.kw > 1 && g.oh * g.w >= 64;
}

// Runs of consecutive wide positions inside one image: a GEMM k block (at most the micro-kernel's
// kc, 512) or an NR panel spans at most this many images of at least 64 positions.
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

// Calls run(kernel, Int<MR>, Int<NR>) with the active ISA's micro-kernel and its tile.
template <class Run>
void withMicroKernel(Run&& run) {
  switch (activeIsa()) {
    case CpuIsa::Avx512: run(gemm_detail::microKernelAvx512(), Int<14>{}, Int<32>{}); break;
    case CpuIsa::Avx2: run(gemm_detail::microKernelAvx2(), Int<6>{}, Int<16>{}); break;
    default: run(gemm_detail::microKernelScalar(), Int<4>{}, Int<8>{}); break;
  }
}

// Runs body(t, n0, n1) on parts that own contiguous, even ranges of the batch's images.
template <class Body>
int forEachImageRange(const ConvGeometry& g, Body&& body) {
  int used = 1;
  parallelRun(static_cast<int>(std::min<int64_t>(kMaxThreads, g.n)), convCost(g), [&](int t, int count) {
    if (t == 0) used = count;
    body(t, g.n * t / count, g.n * (t + 1) / count);
  });
  return used;
}

// The wide-rows forward with B read in place from each image (conv_direct::gatherGemmAvx2): the
// weight is packed once per call, and each image's product lands in a per-thread tile of
// ceil(k/6)·6 rows × ceil(oh·w/16)·16 wide positions before its real columns move to out.
void wideForwardGather(const ConvGeometry& g, const Dims& d, const WideGeometry& wg, const ConvInput& x,
                       const float* weight, const float* bias, float* out) {
  constexpr int MR = conv_direct::kGatherMr, NR = conv_direct::kGatherNr;
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
      conv_direct::gatherGemmAvx2(mPanels, d.ckk, conv_direct::gatherBlock(g.kh * g.kw, d.inPlane), pa, image,
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
// gradOut[k][q] (conv_direct::rowsGemmAvx2): A read in place from runs of the image, B = gradOut
// transposed into 16-wide panels, zero at the wide rows' extra columns. Positions stop at the
// last real one, (oh-1)·w + ow, so no read leaves the image. Overwrites gradWeight with the sum
// over images [n0, n1).
void wideWeightGradRows(const ConvGeometry& g, const Dims& d, const WideGeometry& wg, const ConvInput& x,
                        const float* gradOut, float* gradWeight, int64_t n0, int64_t n1) {
  constexpr int MR = conv_direct::kGatherMr, NR = conv_direct::kGatherNr;
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
    conv_direct::rowsGemmAvx2(taps, kc, x.p + n * x.sn, wg.tapOffset.data(), zeros, pb, nPanels, t, ldc);
  }
  for (int64_t k = 0; k < g.k; ++k)
    for (int64_t tap = 0; tap < taps; ++tap) gradWeight[k * taps + tap] = t[tap * ldc + k];
}

}  // namespace

void checkConvGeometry(const ConvGeometry& g) {
  const int64_t sizes[] = {g.n, g.c, g.h, g.w, g.k, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.dilationH,
                           g.dilationW, g.groups};
  for (int64_t s : sizes)
    if (s <= 0) throw std::invalid_argument("conv2d: sizes, strides, dilations and groups must be positive");
  if (g.padH < 0 || g.padW < 0) throw std::invalid_argument("conv2d: padding must be non-negative");
  if (g.c % g.groups != 0 || g.k % g.groups != 0)
    throw std::invalid_argument("conv2d: groups must divide the input and output channels");
}

void conv2dForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out) {
  checkConvGeometry(g);
  if (activeIsa() != CpuIsa::Scalar && conv_direct::applies(g, x)) {
    parallelFor(g.n, convCost(g) * (1.0 / g.n), [&](int64_t n0, int64_t n1) { conv_direct::forwardAvx2(g, x, weight, bias, out, n0, n1); });
    return;
  }
  const Dims d = dimsOf(g);
  if (wideApplies(g, d, x)) {
    const WideGeometry wg(g, d);
    if (activeIsa() == CpuIsa::Avx2) {
      wideForwardGather(g, d, wg, x, weight, bias, out);
      return;
    }
    withMicroKernel([&](const MicroKernel& kernel, auto mr, auto nr) {
      forEachImageRange(g, [&](int, int64_t n0, int64_t n1) {
        wideForward<decltype(mr)::value, decltype(nr)::value>(kernel, g, d, wg, x, weight, bias, out, n0, n1);
      });
    });
    return;
  }
  const bool pointwise = isPointwise(g, x);
  forEachChunkParallel(g, d, [&](int, const Chunk& ch) {
    ThreadScratch& scratch = threadScratch();
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const float* w = weight + grp * d.kg * d.ckk;
      const float* b;
      int64_t bRow;
      if (pointwise && ch.images == 1) {
        b = x.p + ch.n * x.sn + grp * d.cg * x.sc + ch.q0;
        bRow = x.sc;
      } else {
        float* col = scratch.col.reserve(d.ckk * ch.cols);
        im2col(g, d, x, grp, ch, col, ch.cols);
        b = col;
        bRow = ch.cols;
      }
      if (ch.images == 1) {
        float* c = out + (ch.n * g.k + grp * d.kg) * d.outPlane + ch.q0;
        sgemm(gemmArgs(d.kg, ch.cols, d.ckk, w, d.ckk, 1, b, bRow, 1, c, d.outPlane, 0.0f));
        if (bias)
          for (int64_t k = 0; k < d.kg; ++k) {
            const float v = bias[grp * d.kg + k];
            for (float *p = c + k * d.outPlane, *e = p + ch.cols; p < e; ++p) *p += v;
          }
      } else {
        float* tmp = scratch.tmp.reserve(d.kg * ch.cols);
        sgemm(gemmArgs(d.kg, ch.cols, d.ckk, w, d.ckk, 1, b, bRow, 1, tmp, ch.cols, 0.0f));
        scatterRows(d, ch, tmp, g.k, grp * d.kg, d.kg, bias, out);
      }
    }
  });
}

void conv2dInputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput) {
  checkConvGeometry(g);
  const Dims d = dimsOf(g);
  const ConvInput dense{gradInput, g.c * d.inPlane, d.inPlane, g.w, 1};
  const bool pointwise = isPointwise(g, dense);

  // dcol = W_g^T · gradOut_chunk, then scattered into gradInput (or, pointwise, written directly).
  auto chunkGrad = [&](const Chunk& ch, bool threadedCol2im) {
    ThreadScratch& scratch = threadScratch();
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const float* w = weight + grp * d.kg * d.ckk;
      const float* b;
      int64_t bRow;
      if (ch.images == 1) {
        b = gradOut + (ch.n * g.k + grp * d.kg) * d.outPlane + ch.q0;
        bRow = d.outPlane;
      } else {
        float* tmp = scratch.tmp.reserve(d.kg * ch.cols);
        gatherRows(d, ch, gradOut, g.k, grp * d.kg, d.kg, tmp);
        b = tmp;
        bRow = ch.cols;
      }
      if (pointwise && ch.images == 1) {
        float* c = gradInput + (ch.n * g.c + grp * d.cg) * d.inPlane + ch.q0;
        sgemm(gemmArgs(d.ckk, ch.cols, d.kg, w, 1, d.ckk, b, bRow, 1, c, d.inPlane, 0.0f));
        continue;
      }
      float* col = scratch.col.reserve(d.ckk * ch.cols);
      sgemm(gemmArgs(d.ckk, ch.cols, d.kg, w, 1, d.ckk, b, bRow, 1, col, ch.cols, 0.0f));
      if (threadedCol2im) {
        parallelFor(d.cg, bytesCost(8.0 * g.kh * g.kw * ch.cols), [&](int64_t c0, int64_t c1) { col2imAdd(g, d, col, ch.cols, grp, ch, c0, c1, gradInput); });
      } else {
        col2imAdd(g, d, col, ch.cols, grp, ch, 0, d.cg, gradInput);
      }
    }
  };

  const int threads = threadsForCost(convCost(g));
  const ChunkPlan plan = makePlan(d, kMaxChunkCols);
  // Pointwise chunks inside one image write every element of their columns; all else accumulates.
  const bool accumulates = !(pointwise && plan.imagesPerChunk == 1);
  if (imageParallel(g, threads)) {
    parallelRun(static_cast<int>(std::min<int64_t>(threads, g.n)), convCost(g), [&](int t, int count) {
      const int64_t n0 = g.n * t / count, n1 = g.n * (t + 1) / count;
      if (accumulates) std::fill(gradInput + n0 * g.c * d.inPlane, gradInput + n1 * g.c * d.inPlane, 0.0f);
      for (int64_t i = 0, chunks = plan.count(n1 - n0); i < chunks; ++i) chunkGrad(plan.at(n0, n1, i), false);
    });
  } else {
    // Few images: chunks in order (segments of one image overlap in gradInput), each threaded inside.
    if (accumulates) {
      const int64_t total = g.n * g.c * d.inPlane;
      parallelFor(total, bytesCost(4), [&](int64_t i0, int64_t i1) { std::fill(gradInput + i0, gradInput + i1, 0.0f); });
    }
    for (int64_t i = 0, chunks = plan.count(g.n); i < chunks; ++i) chunkGrad(plan.at(0, g.n, i), true);
  }
}

void conv2dWeightGrad(const ConvGeometry& g, ConvInput x, const float* gradOut, float* gradWeight) {
  checkConvGeometry(g);
  if (activeIsa() != CpuIsa::Scalar && conv_direct::applies(g, x)) {
    parallelFor(g.k, convCost(g) * (1.0 / g.k), [&](int64_t k0, int64_t k1) { conv_direct::weightGradAvx2(g, x, gradOut, gradWeight, k0, k1); });
    return;
  }
  const Dims d = dimsOf(g);
  const bool pointwise = isPointwise(g, x);
  const int64_t weightElems = g.k * d.ckk;
  const int threads = threadsForCost(convCost(g));
  // Thread 0 accumulates into gradWeight itself, thread t > 0 into partial t - 1.
  std::vector<float> partials(static_cast<size_t>(std::max(threads - 1, 0) * weightElems));
  std::vector<char> touched(static_cast<size_t>(threads), 0);
  auto accumulator = [&](int t) { return t == 0 ? gradWeight : partials.data() + (t - 1) * weightElems; };

  int used = 1;
  if (wideApplies(g, d, x) && activeIsa() == CpuIsa::Avx2) {
    const WideGeometry wg(g, d);
    used = forEachImageRange(g, [&](int t, int64_t n0, int64_t n1) {
      wideWeightGradRows(g, d, wg, x, gradOut, accumulator(t), n0, n1);
      touched[t] = n1 > n0;
    });
  } else if (wideApplies(g, d, x)) {
    const WideGeometry wg(g, d);
    withMicroKernel([&](const MicroKernel& kernel, auto mr, auto nr) {
      used = forEachImageRange(g, [&](int t, int64_t n0, int64_t n1) {
        wideWeightGrad<decltype(mr)::value, decltype(nr)::value>(kernel, g, d, wg, x, gradOut, accumulator(t), false, n0, n1);
        touched[t] = n1 > n0;
      });
    });
  } else used = forEachChunkParallel(g, d, [&](int t, const Chunk& ch) {
    ThreadScratch& scratch = threadScratch();
    const float beta = touched[t] ? 1.0f : 0.0f;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const float* a;
      int64_t aRow;
      if (ch.images == 1) {
        a = gradOut + (ch.n * g.k + grp * d.kg) * d.outPlane + ch.q0;
        aRow = d.outPlane;
      } else {
        float* tmp = scratch.tmp.reserve(d.kg * ch.cols);
        gatherRows(d, ch, gradOut, g.k, grp * d.kg, d.kg, tmp);
        a = tmp;
        aRow = ch.cols;
      }
      // B = col^T: element (position j, row r) of col at col[r * ld + j].
      const float* b;
      int64_t bCol;
      if (pointwise && ch.images == 1) {
        b = x.p + ch.n * x.sn + grp * d.cg * x.sc + ch.q0;
        bCol = x.sc;
      } else {
        float* col = scratch.col.reserve(d.ckk * ch.cols);
        im2col(g, d, x, grp, ch, col, ch.cols);
        b = col;
        bCol = ch.cols;
      }
      float* c = accumulator(t) + grp * d.kg * d.ckk;
      if (d.ckk < kMinGemmWeightRows) weightGradDots(d.kg, d.ckk, ch.cols, a, aRow, b, bCol, c, beta != 0.0f);
      else sgemm(gemmArgs(d.kg, d.ckk, ch.cols, a, aRow, 1, b, 1, bCol, c, d.ckk, beta));
    }
    touched[t] = 1;
  });

  if (!touched[0]) std::fill(gradWeight, gradWeight + weightElems, 0.0f);
  if (used > 1) {
    parallelFor(weightElems, bytesCost(8.0 * used), [&](int64_t i0, int64_t i1) {
      for (int t = 1; t < used; ++t) {
        if (!touched[t]) continue;
        const float* p = accumulator(t);
        for (int64_t i = i0; i < i1; ++i) gradWeight[i] += p[i];
      }
    });
  }
}

void conv2dBiasGrad(const ConvGeometry& g, const float* gradOut, float* gradBias) {
  checkConvGeometry(g);
  const int64_t plane = g.oh * g.ow;
  parallelFor(g.k, bytesCost(4.0 * g.n * plane), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double total = 0;
      for (int64_t n = 0; n < g.n; ++n) {
        // Eight float lanes per row keep the adds independent (vectorisable); rows sum in double.
        float lanes[8] = {};
        const float* row = gradOut + (n * g.k + k) * plane;
        int64_t j = 0;
        for (; j + 8 <= plane; j += 8)
          for (int l = 0; l < 8; ++l) lanes[l] += row[j + l];
        double rowSum = 0;
        for (int l = 0; l < 8; ++l) rowSum += lanes[l];
        for (; j < plane; ++j) rowSum += row[j];
        total += rowSum;
      }
      gradBias[k] = static_cast<float>(total);
    }
  });
}

void conv2dForwardRef(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out) {
  checkConvGeometry(g);
  const Dims d = dimsOf(g);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < g.k; ++k) {
      const int64_t grp = k / d.kg;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          double sum = bias ? bias[k] : 0.0;
          for (int64_t c = 0; c < d.cg; ++c)
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              const int64_t iy = oy * g.strideH - g.padH + ky * g.dilationH;
              if (iy < 0 || iy >= g.h) continue;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t ix = ox * g.strideW - g.padW + kx * g.dilationW;
                if (ix < 0 || ix >= g.w) continue;
                sum += static_cast<double>(x.p[n * x.sn + (grp * d.cg + c) * x.sc + iy * x.sh + ix * x.sw]) *
                       weight[((k * d.cg + c) * g.kh + ky) * g.kw + kx];
              }
            }
          out[((n * g.k + k) * g.oh + oy) * g.ow + ox] = static_cast<float>(sum);
        }
    }
}

}  // namespace kd
