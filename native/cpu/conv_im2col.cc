// The im2col engine (cpu/conv_im2col.h): conv2d forward and backward as im2col + sgemm over
// column chunks. Any geometry: groups, strides, padding, dilation, strided inputs.
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
//
// The portable build of the dot-product weight gradient is compiled here; its AVX2 build lives in
// conv_weight_dots_avx2.cc.
#define KD_ISA_NS isa_scalar
#include "cpu/conv_weight_dots_impl.h"
#undef KD_ISA_NS

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/gemm.h"
#include "common/parallel.h"
#include "cpu/conv_im2col.h"

namespace kd::conv_im2col {
namespace {

using namespace conv_detail;

// One col block of at most this many floats (192 KiB) stays within Zen 3's 512 KiB L2 beside the
// GEMM's own packed panels, so col2im reads back what the GEMM just wrote from L2 (512 KiB blocks
// measured ~10% slower on the MNIST layer-2 input gradient).
constexpr int64_t kColBudgetElems = 49152;
constexpr int64_t kMinChunkCols = 16;
constexpr int64_t kMaxChunkCols = 4096;

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

// No padding and no window past the bottom or right edge. Zero padding is not enough: an output
// larger than the windows cover (padding='same' with an even kernel pads only the bottom/right)
// has windows that reach past the input.
bool windowsInsideInput(const ConvGeometry& g) {
  return g.padH == 0 && g.padW == 0 && (g.oh - 1) * g.strideH + (g.kh - 1) * g.dilationH < g.h &&
         (g.ow - 1) * g.strideW + (g.kw - 1) * g.dilationW < g.w;
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
  const bool unpadded = windowsInsideInput(g);
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
  const bool unpadded = windowsInsideInput(g);
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
  return windowsInsideInput(g) && g.strideW == 1 && x.sw == 1;
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

// Below this many col rows the weight gradient uses convWeightGradDots instead of sgemm.
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

}  // namespace

void forward(const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out) {
  const Dims d = dimsOf(g);
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

void inputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput) {
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

int weightGrad(CpuIsa isa, const ConvGeometry& g, const ConvInput& x, const float* gradOut,
               conv_detail::WeightGradSums& sums) {
  const Dims d = dimsOf(g);
  const bool pointwise = isPointwise(g, x);
  auto weightDots = isa >= CpuIsa::Avx2 ? isa_avx2::convWeightGradDots : isa_scalar::convWeightGradDots;
  return forEachChunkParallel(g, d, [&](int t, const Chunk& ch) {
    ThreadScratch& scratch = threadScratch();
    const float beta = sums.touched(t) ? 1.0f : 0.0f;
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
      float* c = sums.of(t) + grp * d.kg * d.ckk;
      if (d.ckk < kMinGemmWeightRows) weightDots(d.kg, d.ckk, ch.cols, a, aRow, b, bCol, c, beta != 0.0f);
      else sgemm(gemmArgs(d.kg, d.ckk, ch.cols, a, aRow, 1, b, 1, bCol, c, d.ckk, beta));
    }
    sums.touch(t);
  });
}

}  // namespace kd::conv_im2col
