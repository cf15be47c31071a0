// Convolution as implicit GEMM on the shared tiled tensor-core kernel of kernels_common.cuh (TF32
// inputs, FP32 accumulation; 128x128 tile per CTA, 4-stage cp.async ring in shared memory), or
// with kd.cuda.setAllowTF32(false) on the same kernel's exact FP32 FMA math (SimtMath, 128x128).
// Nothing is unfolded in memory: the loaders gather the im2col tiles straight from x / dy with
// 4-byte zero-filling cp.async (padding, stride, dilation resolved per element with precomputed
// per-column offsets and one division-free k decomposition per row). Per group g:
//   forward      y[n,oc,p,q]  : M = Cout/G, N = batch*P*Q, K = Cin/G*R*S   (A = weight, B = im2col(x))
//   input grad   dx[n,c,h,w]  : M = Cin/G,  N = batch*H*W, K = Cout/G*R*S  (B gathers dy at (h+pad-r*dil)/stride)
//   weight grad  dw[oc,c,r,s] : M = Cout/G, N = Cin/G*R*S, K = batch*P*Q   (split over K, fp32 atomics)
// Shapes with few output tiles are split over K and summed with atomics into a zeroed output.
//
// Every conv operand, dense or gathered, is read by one GatherLoader: tile element (k, c)
// (k along the GEMM's reduction, c along its M or N) sits at
//     base + colBase[c] + rowOff(k) + (hh / sH) * pitch + ww / sW,   hh = colH[c] + rowH(k),
//                                                                    ww = colW[c] + rowW(k),
// and is zero unless hh, ww are non-negative multiples of (sH, sW) below (hLim, wLim). Both
// c and k are split into (q, y, x) mixed-radix digits with FastDiv; each thread keeps the
// decomposition of its 8 fixed columns in registers for the whole CTA and decomposes one k per
// stage. Plain operands (weights, dy in the weight gradient) use hLim = wLim = 1 and zero h/w
// terms. The geometry of each of the three GEMMs is spelled out below.
#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "common/conv.h"
#include "common/elementwise.h"
#include "common/reduce.h"
#include "kernels_common.cuh"
#include "runtime.h"

namespace kd::cuda {
namespace {

// The kernels' view of a ConvGeometry, in int (the binding bounds every value by 2^31 - 1;
// checkShape bounds the tensor sizes).
struct Conv2dShape {
  int batch = 1, inChannels = 1, inH = 1, inW = 1;
  int outChannels = 1, kernelH = 1, kernelW = 1;
  int strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
  int outHeight = 1, outWidth = 1;
  int outH() const { return outHeight; }
  int outW() const { return outWidth; }
};

Conv2dShape shapeOf(const ConvGeometry& g) {
  Conv2dShape s;
  s.batch = int(g.n), s.inChannels = int(g.c), s.inH = int(g.h), s.inW = int(g.w);
  s.outChannels = int(g.k), s.kernelH = int(g.kh), s.kernelW = int(g.kw);
  s.strideH = int(g.strideH), s.strideW = int(g.strideW), s.padH = int(g.padH), s.padW = int(g.padW);
  s.dilationH = int(g.dilationH), s.dilationW = int(g.dilationW), s.groups = int(g.groups);
  s.outHeight = int(g.oh), s.outWidth = int(g.ow);
  return s;
}

using detail::FastDiv;
using detail::fastDiv;
using detail::kThreads;
using detail::makeFastDiv;
// 128x128 CTA tile (64x32 per warp), or 64x128 (32x32 per warp) when the GEMM has at most 64
// rows (channels), so that a 64-channel layer wastes no tensor-core work on empty rows.
using MathWide = detail::MmaMath<float, 4, 4, 2>;
using MathNarrow = detail::MmaMath<float, 2, 4, 2>;
constexpr int BK = MathWide::BK;  // 16
constexpr int kInvalid = -(1 << 29);

struct GatherGeom {
  const float* base;
  int64_t groupStride;  // elements between groups
  int K, cols;          // extent along k and along the tile's rows/columns
  FastDiv kQ, kR;       // k -> q = k / kQ, kh = (k % kQ) / kR, kw = (k % kQ) % kR
  int qStride, khStride, kwStride, khMul, kwMul;
  FastDiv cQ, cR;  // c -> nq = c / cQ, y = (c % cQ) / cR, x = (c % cQ) % cR
  int nStride, yMul, yAdd, xMul, xAdd;
  int hLim, wLim, pitch, sH, sW;
};

// ALONG_K: lanes run along k (consecutive k are consecutive addresses), tile stored
// K-contiguous; otherwise lanes run along c, tile stored MN-contiguous. Either way a thread
// owns k-row kr and columns cb + 16*i, i < R/16 (BK = 16, R columns, 256 threads).
// SPATIAL = false: a plain matrix (no h/w terms); only colBase is kept, -1 marking a column
// past the edge, which keeps the register budget of two loaders plus 64 accumulators at 128.
template <bool ALONG_K, bool SPATIAL, int R>
struct GatherLoader {
  static constexpr bool kContig = ALONG_K;
  static constexpr int kCols = R / 16;
  using Layout = detail::TileLayout<float, ALONG_K, R, BK>;
  static_assert(BK * R == kThreads * kCols, "one k-row and R/16 columns per thread");
  GatherGeom geo;
  const float* base;
  int colBase[kCols];
  int colH[SPATIAL ? kCols : 1], colW[SPATIAL ? kCols : 1];

  __device__ GatherLoader(const GatherGeom& ge, int group, int c0) : geo(ge) {
    base = ge.base + group * ge.groupStride;
    const int cb = ALONG_K ? threadIdx.x / 16 : threadIdx.x % 16;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const int c = c0 + cb + (kThreads / 16) * i;
      const bool inside = c < ge.cols;
      const int nq = fastDiv(c, ge.cQ), rem = c - nq * int(ge.cQ.d);
      colBase[i] = inside ? nq * ge.nStride : -1;
      if constexpr (SPATIAL) {
        const int y = fastDiv(rem, ge.cR), x = rem - y * int(ge.cR.d);
        colH[i] = inside ? y * ge.yMul + ge.yAdd : kInvalid;
        colW[i] = x * ge.xMul + ge.xAdd;
      }
    }
  }

  __device__ __forceinline__ void load(float* s, int k0) const {
    const int kr = ALONG_K ? threadIdx.x % 16 : threadIdx.x / 16;
    const int cb = ALONG_K ? threadIdx.x / 16 : threadIdx.x % 16;
    const int k = k0 + kr;
    const bool kInside = k < geo.K;
    const int q = fastDiv(k, geo.kQ), rem = k - q * int(geo.kQ.d);
    const int kh = fastDiv(rem, geo.kR), kw = rem - kh * int(geo.kR.d);
    const int rowOff = q * geo.qStride + kh * geo.khStride + kw * geo.kwStride;
    const int rowH = kInside ? kh * geo.khMul : kInvalid, rowW = kw * geo.kwMul;
    const bool unitStride = geo.sH == 1 && geo.sW == 1;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      bool ok;
      int off;
      if constexpr (!SPATIAL) {
        ok = kInside && colBase[i] >= 0;
        off = colBase[i] + rowOff;
      } else if (unitStride) {
        const int hh = colH[i] + rowH, ww = colW[i] + rowW;
        ok = unsigned(hh) < unsigned(geo.hLim) && unsigned(ww) < unsigned(geo.wLim);
        off = colBase[i] + rowOff + hh * geo.pitch + ww;
      } else {
        const int hh = colH[i] + rowH, ww = colW[i] + rowW;
        const int h = hh / geo.sH, w = ww / geo.sW;
        ok = hh >= 0 && ww >= 0 && h * geo.sH == hh && w * geo.sW == ww && h < geo.hLim && w < geo.wLim;
        off = colBase[i] + rowOff + h * geo.pitch + w;
      }
      float* dst = s + Layout::at(cb + (kThreads / 16) * i, kr);
      detail::cpAsync4(dst, ok ? base + off : base, ok ? 4 : 0);
    }
  }
};

// Output (row, col) of group g lands at out + g*groupStride + row*rowStride + nq*nqStride + pix
// with col = nq*colQ + pix. Split-K CTAs (splits > 1) add atomically into a zeroed output.
struct ConvOut {
  float* out;
  int64_t groupStride;
  int rowStride;
  FastDiv colQ;
  int64_t nqStride;
  const float* bias;  // per row, offset by g * biasGroupStride
  int biasGroupStride;
};

// A is always a plain matrix (weights, or dy in the weight gradient); B is an im2col gather.
template <bool A_ALONG_K, bool B_ALONG_K, int TM>
struct ConvProblem {
  using ALoader = GatherLoader<A_ALONG_K, false, TM>;
  using BLoader = GatherLoader<B_ALONG_K, true, 128>;
  int m, n, K, tilesM, tilesN, splits, kPerSplit;
  GatherGeom ga, gb;
  ConvOut o;

  __device__ ALoader aLoader(int z, int r0) const { return ALoader(ga, z / splits, r0); }
  __device__ BLoader bLoader(int z, int c0) const { return BLoader(gb, z / splits, c0); }
  __device__ void kRange(int z, int& kBegin, int& kEnd) const {
    kBegin = (z % splits) * kPerSplit;
    kEnd = min(K, kBegin + kPerSplit);
  }
  __device__ __noinline__ void store(int z, int row, int col, float v0, float v1, bool pair) const {
    if (row >= m) return;
    const int g = z / splits;
    const bool atomic = splits > 1;
    const float b = (o.bias && z % splits == 0) ? o.bias[g * o.biasGroupStride + row] : 0.f;
    float* rowPtr = o.out + g * o.groupStride + int64_t(row) * o.rowStride;
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int c = col + e;
      if (c >= n || (e == 1 && !pair)) break;
      const int nq = fastDiv(c, o.colQ), pix = c - nq * int(o.colQ.d);
      float* dst = rowPtr + nq * o.nqStride + pix;
      const float v = (e == 0 ? v0 : v1) + b;
      if (atomic) atomicAdd(dst, v);
      else *dst = v;
    }
  }
};

void checkShape(const Conv2dShape& s, const char* op) {
  auto fail = [&](const std::string& what) { throw std::invalid_argument(std::string(op) + ": " + what); };
  if (s.batch < 1 || s.inChannels < 1 || s.inH < 1 || s.inW < 1 || s.outChannels < 1 || s.kernelH < 1 ||
      s.kernelW < 1)
    fail("sizes must be >= 1");
  if (s.strideH < 1 || s.strideW < 1 || s.dilationH < 1 || s.dilationW < 1 || s.padH < 0 || s.padW < 0)
    fail("stride and dilation must be >= 1, padding >= 0");
  if (s.groups < 1 || s.inChannels % s.groups || s.outChannels % s.groups)
    fail("groups " + std::to_string(s.groups) + " must divide in and out channels (" +
         std::to_string(s.inChannels) + ", " + std::to_string(s.outChannels) + ")");
  if (s.outH() < 1 || s.outW() < 1) fail("output would be empty");
  const int64_t limit = INT_MAX;
  if (int64_t(s.batch) * s.inChannels * s.inH * s.inW > limit ||
      int64_t(s.batch) * s.outChannels * s.outH() * s.outW() > limit ||
      int64_t(s.outChannels) * (s.inChannels / s.groups) * s.kernelH * s.kernelW > limit)
    fail("tensors above 2^31 elements are not supported");
}

// Split K until about two waves of CTAs exist, keeping >= 4 k-slices per split.
template <class P>
void chooseSplits(P& p, int groups) {
  const int tiles = p.tilesM * p.tilesN * groups;
  const int kTiles = (p.K + BK - 1) / BK;
  const int want = (2 * detail::multiprocessorCount() + tiles - 1) / tiles;
  int splits = std::max(1, std::min({want, kTiles / 4, 65535 / groups}));
  const int perSplitTiles = (kTiles + splits - 1) / splits;
  p.kPerSplit = perSplitTiles * BK;
  p.splits = (kTiles + perSplitTiles - 1) / perSplitTiles;
}

template <class Math, bool AAK, bool BAK>
void runConvTiles(ConvProblem<AAK, BAK, Math::kTileM> p, int groups, float* out, int64_t outElems,
                  cudaStream_t stream, const char* name) {
  p.tilesM = (p.m + Math::kTileM - 1) / Math::kTileM;
  p.tilesN = (p.n + Math::kTileN - 1) / Math::kTileN;
  chooseSplits(p, groups);
  if (p.splits > 1) detail::checkCuda(cudaMemsetAsync(out, 0, outElems * sizeof(float), stream), "cudaMemsetAsync");
  detail::launchTiled<Math>(p, groups * p.splits, stream, name);
}

// The problem is described once with the wide tile; the narrow one differs only in the A loader.
template <bool AAK, bool BAK>
void runConv(const ConvProblem<AAK, BAK, 128>& wide, int groups, float* out, int64_t outElems, cudaStream_t stream,
             const char* name) {
  if (!allowTf32()) return runConvTiles<detail::SimtMath>(wide, groups, out, outElems, stream, name);
  if (wide.m > 64) return runConvTiles<MathWide>(wide, groups, out, outElems, stream, name);
  ConvProblem<AAK, BAK, 64> narrow{};
  narrow.m = wide.m;
  narrow.n = wide.n;
  narrow.K = wide.K;
  narrow.ga = wide.ga;
  narrow.gb = wide.gb;
  narrow.o = wide.o;
  runConvTiles<MathNarrow>(narrow, groups, out, outElems, stream, name);
}

GatherGeom plainGeom() {
  GatherGeom g{};
  g.kQ = g.kR = g.cQ = g.cR = makeFastDiv(1);
  g.hLim = g.wLim = 1;
  g.sH = g.sW = 1;
  return g;
}

void forwardDense(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                   void* stream) {
  checkShape(s, "conv2dForward");
  const int G = s.groups, Cg = s.inChannels / G, OCg = s.outChannels / G, R = s.kernelH, S = s.kernelW;
  const int P = s.outH(), Q = s.outW(), HW = s.inH * s.inW, K = Cg * R * S;
  ConvProblem<true, false, 128> p{};
  p.m = OCg;
  p.n = s.batch * P * Q;
  p.K = K;
  // A: weight row oc is contiguous over k = (c, r, s).
  p.ga = plainGeom();
  p.ga.base = w;
  p.ga.groupStride = int64_t(OCg) * K;
  p.ga.K = K;
  p.ga.cols = OCg;
  p.ga.qStride = 1;
  p.ga.nStride = K;
  // B: im2col(x), k = (c, r, s), column = (n, p, q): x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw].
  GatherGeom& b = p.gb;
  b = plainGeom();
  b.base = x;
  b.groupStride = int64_t(Cg) * HW;
  b.K = K;
  b.cols = p.n;
  b.kQ = makeFastDiv(R * S);
  b.kR = makeFastDiv(S);
  b.qStride = HW;
  b.khMul = s.dilationH;
  b.kwMul = s.dilationW;
  b.cQ = makeFastDiv(P * Q);
  b.cR = makeFastDiv(Q);
  b.nStride = s.inChannels * HW;
  b.yMul = s.strideH;
  b.yAdd = -s.padH;
  b.xMul = s.strideW;
  b.xAdd = -s.padW;
  b.hLim = s.inH;
  b.wLim = s.inW;
  b.pitch = s.inW;
  p.o = ConvOut{y, int64_t(OCg) * P * Q, P * Q, makeFastDiv(P * Q), int64_t(s.outChannels) * P * Q, bias, OCg};
  runConv(p, G, y, int64_t(s.batch) * s.outChannels * P * Q, static_cast<cudaStream_t>(stream),
          "conv2dForward");
}

void inputGradDense(const Conv2dShape& s, const float* dy, const float* w, float* dx, void* stream) {
  checkShape(s, "conv2dBackwardData");
  const int G = s.groups, Cg = s.inChannels / G, OCg = s.outChannels / G, R = s.kernelH, S = s.kernelW;
  const int P = s.outH(), Q = s.outW(), HW = s.inH * s.inW, K = OCg * R * S;
  ConvProblem<false, false, 128> p{};
  p.m = Cg;
  p.n = s.batch * HW;
  p.K = K;
  // A: w[oc, c, r, s] as (row c, k = (oc, r, s)).
  GatherGeom& a = p.ga;
  a = plainGeom();
  a.base = w;
  a.groupStride = int64_t(OCg) * Cg * R * S;
  a.K = K;
  a.cols = Cg;
  a.kQ = makeFastDiv(R * S);
  a.kR = makeFastDiv(S);
  a.qStride = Cg * R * S;
  a.khStride = S;
  a.kwStride = 1;
  a.nStride = R * S;
  // B: dy[n, oc, (h + ph - r*dh)/sh, (w + pw - s*dw)/sw] where the division is exact, k = (oc, r, s),
  // column = (n, h, w).
  GatherGeom& b = p.gb;
  b = plainGeom();
  b.base = dy;
  b.groupStride = int64_t(OCg) * P * Q;
  b.K = K;
  b.cols = p.n;
  b.kQ = makeFastDiv(R * S);
  b.kR = makeFastDiv(S);
  b.qStride = P * Q;
  b.khMul = -s.dilationH;
  b.kwMul = -s.dilationW;
  b.cQ = makeFastDiv(HW);
  b.cR = makeFastDiv(s.inW);
  b.nStride = s.outChannels * P * Q;
  b.yMul = 1;
  b.yAdd = s.padH;
  b.xMul = 1;
  b.xAdd = s.padW;
  b.hLim = P;
  b.wLim = Q;
  b.pitch = Q;
  b.sH = s.strideH;
  b.sW = s.strideW;
  p.o = ConvOut{dx, int64_t(Cg) * HW, HW, makeFastDiv(HW), int64_t(s.inChannels) * HW, nullptr, 0};
  runConv(p, G, dx, int64_t(s.batch) * s.inChannels * HW, static_cast<cudaStream_t>(stream),
          "conv2dBackwardData");
}

void weightGradDense(const Conv2dShape& s, const float* x, const float* dy, float* dw, void* stream) {
  checkShape(s, "conv2dBackwardWeight");
  const int G = s.groups, Cg = s.inChannels / G, OCg = s.outChannels / G, R = s.kernelH, S = s.kernelW;
  const int P = s.outH(), Q = s.outW(), HW = s.inH * s.inW, PQ = P * Q;
  ConvProblem<true, true, 128> p{};
  p.m = OCg;
  p.n = Cg * R * S;
  p.K = s.batch * PQ;
  // A: dy[n, oc, pq] as (row oc, k = (n, pq)).
  GatherGeom& a = p.ga;
  a = plainGeom();
  a.base = dy;
  a.groupStride = int64_t(OCg) * PQ;
  a.K = p.K;
  a.cols = OCg;
  a.kQ = makeFastDiv(PQ);
  a.qStride = s.outChannels * PQ;
  a.khStride = 1;
  a.nStride = PQ;
  // B: x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw], k = (n, p, q), column = (c, r, s).
  GatherGeom& b = p.gb;
  b = plainGeom();
  b.base = x;
  b.groupStride = int64_t(Cg) * HW;
  b.K = p.K;
  b.cols = p.n;
  b.kQ = makeFastDiv(PQ);
  b.kR = makeFastDiv(Q);
  b.qStride = s.inChannels * HW;
  b.khMul = s.strideH;
  b.kwMul = s.strideW;
  b.cQ = makeFastDiv(R * S);
  b.cR = makeFastDiv(S);
  b.nStride = HW;
  b.yMul = s.dilationH;
  b.yAdd = -s.padH;
  b.xMul = s.dilationW;
  b.xAdd = -s.padW;
  b.hLim = s.inH;
  b.wLim = s.inW;
  b.pitch = s.inW;
  const int wRow = Cg * R * S;
  p.o = ConvOut{dw, int64_t(OCg) * wRow, wRow, makeFastDiv(wRow), 0, nullptr, 0};
  runConv(p, G, dw, int64_t(s.outChannels) * wRow, static_cast<cudaStream_t>(stream), "conv2dBackwardWeight");
}

// A dense device copy of a strided x, freed when the scope ends (stream order makes that safe);
// a contiguous x is used in place.
class DenseInput {
 public:
  DenseInput(const ConvGeometry& g, ConvInput x) : data_(x.p) {
    const int64_t shape[4] = {g.n, g.c, g.h, g.w}, dense[4] = {g.c * g.h * g.w, g.h * g.w, g.w, 1};
    const int64_t strides[4] = {x.sn, x.sc, x.sh, x.sw};
    bool contiguous = true;
    for (int i = 0; i < 4; ++i) contiguous = contiguous && (shape[i] == 1 || strides[i] == dense[i]);
    if (contiguous) return;
    block_ = deviceAlloc(static_cast<size_t>(g.n * g.c * g.h * g.w) * sizeof(float), &reserved_);
    cast(DType::Float32, DType::Float32, 4, shape, Operand{static_cast<char*>(block_), dense},
         Operand{reinterpret_cast<char*>(const_cast<float*>(x.p)), strides});
    data_ = static_cast<const float*>(block_);
  }
  ~DenseInput() {
    if (block_) deviceFree(block_, reserved_);
  }
  DenseInput(const DenseInput&) = delete;
  DenseInput& operator=(const DenseInput&) = delete;
  const float* data() const { return data_; }

 private:
  void* block_ = nullptr;
  size_t reserved_ = 0;
  const float* data_;
};

}  // namespace

void conv2dForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias, float* out) {
  const DenseInput xd(g, x);
  forwardDense(shapeOf(g), xd.data(), weight, bias, out, stream());
}

void conv2dInputGrad(const ConvGeometry& g, const float* gradOut, const float* weight, float* gradInput) {
  inputGradDense(shapeOf(g), gradOut, weight, gradInput, stream());
}

void conv2dWeightGrad(const ConvGeometry& g, ConvInput x, const float* gradOut, float* gradWeight) {
  const DenseInput xd(g, x);
  weightGradDense(shapeOf(g), xd.data(), gradOut, gradWeight, stream());
}

void conv2dBiasGrad(const ConvGeometry& g, const float* gradOut, float* gradBias) {
  const int64_t plane = g.oh * g.ow;
  const int64_t kept[1] = {g.k}, keptStrides[1] = {plane}, outStrides[1] = {1};
  const int64_t reduced[2] = {g.n, plane}, reducedStrides[2] = {g.k * plane, 1};
  reduce(ReduceArgs{ReduceOp::Sum, DType::Float32, 1, kept, keptStrides, 2, reduced, reducedStrides,
                    reinterpret_cast<const char*>(gradOut), Operand{reinterpret_cast<char*>(gradBias), outStrides}});
}

}  // namespace kd::cuda
