// The GEMM driver: problem normalisation, packing, cache blocking, threading and ISA dispatch,
// plus the double-accumulating reference. The micro-kernels (and the small path's tile kernels)
// live in gemm_{avx512,avx2,scalar}.cc.
//
// Loop nest of one thread's sub-problem (BLIS order):
//   for jc in n step NC:            B block kc×nc packed once, reused by every A block (L3)
//     for pc in k step KC:          first pc applies beta, later ones accumulate (beta = 1)
//       pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels
//       for ic in m step MC:        A block mc×kc packed into MR-high panels (L2)
//         for jr in nc step NR:     B micro-panel kc×NR stays in L1
//           for ir in mc step MR:   micro-kernel: MR×NR tile of C in registers
// (AVX-512 swaps the two innermost loops, MicroKernel::streamB: its A micro-panel stays in L1 and
// the B block, sized to fit, in L2.) Panels are zero-padded to full MR/NR, so the micro-kernel always computes a full tile; edge
// tiles (and C with a column stride other than 1) go through a small buffer and a scalar merge.
// A bias (GemmArgs::bias) is added by the last k block's store, in the micro-kernel or the merge.
// A's row sums (GemmArgs::aRowSums: a Linear's bias gradient beside its weight gradient) are added
// up from each packed A block of the first column block (addPanelRowSums), by the threads whose
// part of C starts at column 0.
// When all of m fits one mc block (weight gradients: m = 256 rows against k = 2048) the k loop
// goes outside and B is packed a strip of panels at a time (gemmFewRows).
// Packing reads the big operand (a training step's 2-8 MiB activations and gradients) from
// memory at one core's ~13 GB/s with the FMA units idle: 10% of 2048x256x1024's time, 11% of a
// GPT step's. So the micro-kernels of each block prefetch into L2 what the next packing will read
// (PackAhead: the next A block, and the next B block or strip when that changes, shared out over
// the blocks before it), one line every 4 k steps at AVX-512, 8 at AVX2 (MicroKernel::fnAhead).
// Both builds alternated in one process, 1 thread, operands evicted before each call: the GPT
// step's products 1.00-1.09×; the GPT step itself 1.024× (the A blocks alone, median of 12 paired
// 2-second rounds) and 1.014× more with the B blocks shared out (1.017× on 2 threads). Issuing a
// block's prefetches all at once between tiles instead was 0.96× (they hold the L1 fill buffers
// the kernel's own B prefetches need).
//
// Small products (up to the ISA's SmallKernel::maxMacs multiply-adds, C with unit column stride)
// skip packing: gemm_small.h reads A and B in place and writes edge tiles with masked stores.
//
// Threads: how many is chosen from m·n·k (parallelRun). Each part owns a rectangle of C from a
// tm×tn grid and runs the loop nest above on it with its thread's packing buffers, so parts share
// nothing and never wait on each other. Batches of small matrices are split by batch item instead.
#include "common/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "common/isa.h"
#include "common/parallel.h"
#include "cpu/gemm_blocked.h"
#include "cpu/gemm_small.h"

namespace kd {
namespace {

using namespace gemm_detail;

// Batch items at least this large are each split across threads rather than run one per thread.
constexpr double kLargeItemFlops = 2.0 * 384 * 384 * 384;

// B panels packed per step of the n loop when all of A's rows make one mc block (gemmFewRows).
constexpr int64_t kFewRowsStripPanels = 8;

// gemmBlocked's Sources for A and B packed from strided matrices.
struct MatSources {
  ConstMat a, b;
  SourceRows blockA(int64_t ic, int64_t pc, int64_t mc, int64_t kc) const { return blockSource(a.at(ic, pc), mc, kc); }
  SourceRows blockB(int64_t pc, int64_t jc, int64_t kc, int64_t nc) const { return blockSource(b.at(pc, jc), kc, nc); }
};

// gemmBlocked's loop nest for m within one mc block: A's kc block is packed once per k block and
// serves all of n, so B need not be packed nc columns at a time for several A blocks to share. It
// is packed and consumed kFewRowsStripPanels panels at a time (kc×256 floats at AVX-512: 256 KiB
// at kc 256, beside the A block in L2) instead of into one kc×n block. Same packing work, same C
// traffic. Measured in the GPT step's weight gradient 256x1024x2048 (A transposed), 1 thread, when
// kc was 512 (a kc×n block of 2 MiB for n = 1024 would leave L2 before it is read back): 6.8 →
// 6.3 ms (isolated), step CPU time 319 → 308 ms (best of 24).
//
// The last, partial row panel (m = 256 is 18 panels of 14 and 4 rows) goes to `edge` when given
// (the ISA's small-path tiles, compiled for each row count): it reads the packed panels in place
// and computes only the rows there are, where the micro-kernel would compute 14 and merge 4
// (256x1024x2048, 1 thread: 6.0 → 5.8 ms isolated).
// rowSums (null: none) gets A's row sums added from each packed k block (GemmArgs::aRowSums).
template <int MR, int NR>
void gemmFewRows(const MicroKernel& kernel, const SmallKernel* edge, int64_t m, int64_t n, int64_t k, ConstMat a,
                 ConstMat b, const MatSink& sink, double* rowSums) {
  if (edge && (edge->mr != MR || edge->nr != NR || sink.c.cs != 1)) edge = nullptr;
  const int64_t fullRows = edge ? m / MR * MR : m;
  const int64_t kcMax = balancedBlock(k, kernel.kc, 1);
  const int64_t strip = kFewRowsStripPanels * NR;
  const MatSources sources{a, b};
  PackBuffers& buffers = threadPackBuffers();
  float* packedA = buffers.a.reserve(roundUp(m, MR) * kcMax);
  float* packedB = buffers.b.reserve(strip * kcMax);
  for (int64_t pc = 0; pc < k; pc += kcMax) {
    const int64_t kc = std::min(kcMax, k - pc);
    const bool accumulate = pc > 0, lastBlock = pc + kc == k;
    packA<MR>(m, kc, a.at(0, pc), packedA, kernel.packRowPanel);
    if (rowSums) addPanelRowSums<MR>(m, kc, packedA, rowSums);
    for (int64_t jc = 0; jc < n; jc += strip) {
      const int64_t nc = std::min(strip, n - jc);
      packB<NR>(kc, nc, b.at(pc, jc), packedB);
      // Packed next: the next strip of B, else the next k block's first strip; and the next k
      // block of A, its rows shared out over this k block's strips.
      PackAhead next;
      if (jc + nc < n)
        next.b = sources.blockB(pc, jc + nc, kc, std::min(strip, n - jc - nc));
      if (pc + kc < k) {
        const int64_t kcNext = std::min(kcMax, k - pc - kc), strips = ceilDiv(n, strip), s = jc / strip;
        const int64_t p0 = s * kcNext / strips, p1 = (s + 1) * kcNext / strips;
        next.a = sources.blockA(0, pc + kc + p0, m, p1 - p0);
        if (jc + nc >= n) next.b = sources.blockB(pc + kc, 0, kcNext, std::min(strip, n));
      }
      multiplyPackedBlocks<MR, NR>(kernel, 0, jc, fullRows, nc, kc, packedA, packedB, accumulate, lastBlock, sink, next);
      if (fullRows == m) continue;
      // The panels are read in place: A(i, p) at pa[p*MR + i], B(p, j) at pb[p*NR + j], rows of
      // NR floats that stay in L1 whatever kc is (so the small path never packs into buffers.b).
      for (int64_t jr = 0; jr < nc; jr += NR)
        edge->fn(SmallGemm{m - fullRows, std::min<int64_t>(NR, nc - jr), kc, ConstMat{packedA + fullRows * kc, 1, MR},
                           ConstMat{packedB + jr * kc, NR, 1}, sink.c.at(fullRows, jc + jr), sink.alpha,
                           sink.betaFor(accumulate), sink.biasFor(jc + jr, lastBlock), sink.cInFor(accumulate)});
    }
  }
}

// One thread's whole m×n×k problem (k > 0) on strided matrices; rowSums (null: none) gets A's row
// sums added, from the A blocks packed for the first column block.
template <int MR, int NR>
void gemmSerial(const MicroKernel& kernel, const SmallKernel* edge, int64_t m, int64_t n, int64_t k, ConstMat a,
                ConstMat b, Mat c, float alpha, float beta, const float* bias, int64_t cIn, double* rowSums) {
  if (m <= kernel.mc) {
    gemmFewRows<MR, NR>(kernel, edge, m, n, k, a, b, MatSink{c, alpha, beta, bias, cIn}, rowSums);
    return;
  }
  bool firstColumns = true;  // packB runs before the A blocks of each (column block, k block)
  gemmBlocked<MR, NR>(
      kernel, m, n, k,
      [&](int64_t ic, int64_t pc, int64_t mc, int64_t kc, float* dst) {
        packA<MR>(mc, kc, a.at(ic, pc), dst, kernel.packRowPanel);
        if (rowSums && firstColumns) addPanelRowSums<MR>(mc, kc, dst, rowSums + ic);
      },
      [&](int64_t pc, int64_t jc, int64_t kc, int64_t nc, float* dst) {
        firstColumns = jc == 0;
        packB<NR>(kc, nc, b.at(pc, jc), dst);
      },
      MatSink{c, alpha, beta, bias, cIn}, MatSources{a, b});
}

// A's row sums read from A itself, where no packing pass takes them (the small path, k = 0,
// alpha = 0).
void rowSumsDirect(int64_t m, int64_t k, ConstMat a, double* sums) {
  parallelFor(m, bytesCost(4.0 * static_cast<double>(k)), [&](int64_t i0, int64_t i1) {
    if (a.rs == 1 && a.cs != 1) {  // A transposed: each k step's rows are one contiguous run
      std::fill(sums + i0, sums + i1, 0.0);
      for (int64_t p = 0; p < k; ++p) {
        const float* run = a.p + p * a.cs;
        for (int64_t i = i0; i < i1; ++i) sums[i] += run[i];
      }
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += a.p[i * a.rs + p * a.cs];
      sums[i] = s;
    }
  });
}

struct Grid {
  int tm = 1, tn = 1;
};

// The tm×tn split of C over at most `threads` threads that minimises one thread's estimated
// time: its tile's multiply-adds (16 per cycle) plus packing its rows of A and columns of B.
Grid chooseGrid(int threads, int64_t m, int64_t n, int mr, int nr) {
  const int64_t mPanels = ceilDiv(m, mr), nPanels = ceilDiv(n, nr);
  Grid best;
  double bestCost = -1;
  for (int tm = 1; tm <= threads && tm <= mPanels; ++tm)
    for (int tn = 1; tm * tn <= threads && tn <= nPanels; ++tn) {
      double rows = static_cast<double>(ceilDiv(mPanels, tm) * mr);
      double cols = static_cast<double>(ceilDiv(nPanels, tn) * nr);
      double cost = rows * cols / 16.0 + rows + cols;
      if (bestCost < 0 || cost < bestCost - 1e-9) {
        bestCost = cost;
        best = {tm, tn};
      }
    }
  return best;
}

// Part `index` of `parts` of [0, total) cut on multiples of `unit`.
void splitRange(int64_t total, int64_t unit, int parts, int index, int64_t& begin, int64_t& end) {
  const int64_t units = ceilDiv(total, unit);
  begin = std::min(total, units * index / parts * unit);
  end = std::min(total, units * (index + 1) / parts * unit);
}

// Splits C over the threads on a grid of mr×nr tiles; serial(m, n, a, b, c, bias, rowSums) runs one
// part (bias: that part's first column's, or null; rowSums: its first row's, for the parts in the
// first column of the grid only, or null).
template <class Serial>
void gemmParallel(int mr, int nr, int64_t m, int64_t n, int64_t k, ConstMat a, ConstMat b, Mat c, const float* bias,
                  double* rowSums, const Serial& serial) {
  const Cost cost = flopsCost(2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k));
  parallelRun(kMaxThreads, cost, [&](int t, int count) {
    const Grid grid = chooseGrid(count, m, n, mr, nr);
    if (t >= grid.tm * grid.tn) return;
    int64_t i0, i1, j0, j1;
    splitRange(m, mr, grid.tm, t / grid.tn, i0, i1);
    splitRange(n, nr, grid.tn, t % grid.tn, j0, j1);
    if (i0 < i1 && j0 < j1)
      serial(i1 - i0, j1 - j0, a.at(i0, 0), b.at(0, j0), c.at(i0, j0), bias ? bias + j0 : nullptr,
             rowSums && j0 == 0 ? rowSums + i0 : nullptr);
  });
}

// sgemm's arguments after normalisation: C has column stride 1 where possible and batches that
// share B are folded into the rows of one larger product.
struct Problem {
  int64_t m, n, k, batch;
  ConstMat a, b;
  Mat c;
  int64_t aBatch, bBatch, cBatch;
  float alpha, beta;
  const float* bias;
  double* rowSums;  // A's row sums in double (GemmArgs::aRowSums), or null
  int64_t cIn;      // beta's addend (GemmArgs::cIn), in floats from C; 0: C itself
};

// GemmArgs::cIn as a distance from C in floats (it has C's strides, so every element of Cin is
// that far from its element of C, through any blocking of C).
int64_t addendOffset(const GemmArgs& g) {
  if (!g.cIn) return 0;
  return static_cast<int64_t>((reinterpret_cast<intptr_t>(g.cIn) - reinterpret_cast<intptr_t>(g.c)) /
                              static_cast<intptr_t>(sizeof(float)));
}

Problem normalise(const GemmArgs& g, double* rowSums) {
  Problem p{g.m, g.n, g.k, g.batch,
            {g.a, g.aRowStride, g.aColStride}, {g.b, g.bRowStride, g.bColStride}, {g.c, g.cRowStride, g.cColStride},
            g.aBatchStride, g.bBatchStride, g.cBatchStride, g.alpha, g.beta, g.bias, rowSums, addendOffset(g)};
  // A column-major C is computed as C^T = B^T · A^T, so the micro-kernel stores rows directly
  // (not with a bias, which runs along C's rows, nor with A's row sums, which would then be B's
  // columns: then every tile goes through mergeTile).
  if (p.c.cs != 1 && p.c.rs == 1 && !p.bias && !p.rowSums) {
    std::swap(p.m, p.n);
    ConstMat a = p.a;
    p.a = {p.b.p, p.b.cs, p.b.rs};
    p.b = {a.p, a.cs, a.rs};
    std::swap(p.aBatch, p.bBatch);
    p.c = {p.c.p, p.c.cs, p.c.rs};
  }
  // Batch item b's rows continue item b-1's in A and C, and B is shared: one (batch*m)×n product.
  if (p.batch > 1 && p.bBatch == 0 && p.aBatch == p.m * p.a.rs && p.cBatch == p.m * p.c.rs) {
    p.m *= p.batch;
    p.batch = 1;
  }
  return p;
}

void scaleC(const Problem& p) {
  parallelFor(p.batch * p.m, bytesCost(8.0 * static_cast<double>(p.n)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = p.c.p + (r / p.m) * p.cBatch + (r % p.m) * p.c.rs;
      for (int64_t j = 0; j < p.n; ++j) {
        float& out = row[j * p.c.cs];
        const float v = p.beta == 0.0f ? 0.0f : p.beta * (&out)[p.cIn];
        out = p.bias ? v + p.bias[j] : v;
      }
    }
  });
}

// Whether `small` takes p: C's rows are contiguous and the product is within its size limit.
bool takesSmallPath(const SmallKernel& small, const Problem& p) {
  return p.c.cs == 1 && static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k) <= small.maxMacs;
}

template <int MR, int NR>
void runGemm(const MicroKernel& kernel, const SmallKernel* small, const Problem& p) {
  if (kernel.mr != MR || kernel.nr != NR) std::abort();  // the table below pairs them; never differs
  const double itemFlops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k);
  const int pool = numThreads();
  const SmallKernel* edge = small;
  if (small && !takesSmallPath(*small, p)) small = nullptr;
  double* rowSums = p.rowSums;
  if (small && rowSums) {  // the small path packs nothing to take them from
    rowSumsDirect(p.m, p.k, p.a, rowSums);
    rowSums = nullptr;
  }
  auto serial = [&](int64_t m, int64_t n, ConstMat a, ConstMat b, Mat c, const float* bias, double* sums) {
    if (small)
      small->fn(SmallGemm{m, n, p.k, a, b, c, p.alpha, p.beta, bias, p.cIn});
    else
      gemmSerial<MR, NR>(kernel, edge, m, n, p.k, a, b, c, p.alpha, p.beta, bias, p.cIn, sums);
  };
  auto item = [&](int64_t b) {
    return std::make_tuple(ConstMat{p.a.p + b * p.aBatch, p.a.rs, p.a.cs}, ConstMat{p.b.p + b * p.bBatch, p.b.rs, p.b.cs},
                           Mat{p.c.p + b * p.cBatch, p.c.rs, p.c.cs});
  };

  if (p.batch > 1 && p.batch >= pool && (p.batch % pool == 0 || itemFlops < kLargeItemFlops)) {
    parallelFor(p.batch, flopsCost(itemFlops), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        auto [a, bm, c] = item(b);
        serial(p.m, p.n, a, bm, c, p.bias, nullptr);  // batch > 1: no row sums
      }
    });
    return;
  }
  const int mr = small ? small->mr : MR, nr = small ? small->nr : NR;
  for (int64_t b = 0; b < p.batch; ++b) {
    auto [a, bm, c] = item(b);
    gemmParallel(mr, nr, p.m, p.n, p.k, a, bm, c, p.bias, rowSums, serial);
  }
}

}  // namespace

void sgemm(const GemmArgs& args) {
  if (args.aRowSums && args.batch != 1) throw std::invalid_argument("gemm: A's row sums need batch 1");
  if (args.m <= 0 || args.batch <= 0) return;
  std::vector<double> rowSums(args.aRowSums ? args.m : 0, 0.0);
  double* sums = args.aRowSums ? rowSums.data() : nullptr;
  if (args.n > 0) {
    const Problem p = normalise(args, sums);
    if (p.k <= 0 || p.alpha == 0.0f) {
      scaleC(p);
      if (sums) rowSumsDirect(args.m, args.k, ConstMat{args.a, args.aRowStride, args.aColStride}, sums);
    } else {
      switch (dispatchIsa()) {
        case CpuIsa::Avx512: runGemm<14, 32>(microKernelAvx512(), &smallKernelAvx512(), p); break;
        case CpuIsa::Avx2: runGemm<6, 16>(microKernelAvx2(), &smallKernelAvx2(), p); break;
        default: runGemm<4, 8>(microKernelScalar(), nullptr, p); break;
      }
    }
  } else if (sums) {
    rowSumsDirect(args.m, args.k, ConstMat{args.a, args.aRowStride, args.aColStride}, sums);
  }
  for (int64_t i = 0; i < static_cast<int64_t>(rowSums.size()); ++i) args.aRowSums[i] = static_cast<float>(rowSums[i]);
}

namespace {

// The small path whose tiles read prepacked panels, or null (scalar: no small path).
const SmallKernel* panelKernel() {
  switch (dispatchIsa()) {
    case CpuIsa::Avx512: return &smallKernelAvx512();
    case CpuIsa::Avx2: return &smallKernelAvx2();
    default: return nullptr;
  }
}

template <int NR>
void packPanels(int64_t k, int64_t n, ConstMat b, float* dst) {
  parallelFor(ceilDiv(n, NR), bytesCost(8.0 * static_cast<double>(k * NR)), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q)
      packB<NR>(k, std::min<int64_t>(NR, n - q * NR), b.at(0, q * NR), dst + q * NR * k);
  });
}

}  // namespace

void sgemmPackB(int64_t k, int64_t n, const float* b, int64_t rowStride, int64_t colStride, PackedB& out) {
  out.k = k, out.n = n, out.b = b, out.rowStride = rowStride, out.colStride = colStride;
  const SmallKernel* small = panelKernel();
  out.nr = small && k > 0 && n > 0 ? small->nr : 0;
  if (out.nr == 0) {
    out.panels.clear();
    return;
  }
  out.panels.resize(static_cast<size_t>(roundUp(n, out.nr) * k));
  const ConstMat src{b, rowStride, colStride};
  if (out.nr == 32)
    packPanels<32>(k, n, src, out.panels.data());
  else if (out.nr == 16)
    packPanels<16>(k, n, src, out.panels.data());
  else
    std::abort();  // the small paths' tiles are 32 (AVX-512) or 16 (AVX2) wide
}

void sgemmPacked(int64_t m, const float* a, int64_t aRowStride, int64_t aColStride, const PackedB& b, float* c,
                 int64_t ldc, float alpha, float beta, int64_t j0, int64_t j1) {
  if (j1 < 0 || j1 > b.n) j1 = b.n;
  if (m <= 0 || j0 >= j1) return;
  const SmallKernel* small = panelKernel();
  if (b.nr == 0 || !small || small->nr != b.nr || b.k <= 0 || alpha == 0.0f) {  // no panels for this ISA
    GemmArgs args{};
    args.m = m, args.n = j1 - j0, args.k = b.k, args.batch = 1;
    args.a = a, args.aRowStride = aRowStride, args.aColStride = aColStride;
    args.b = b.b + j0 * b.colStride, args.bRowStride = b.rowStride, args.bColStride = b.colStride;
    args.c = c + j0, args.cRowStride = ldc, args.cColStride = 1;
    args.alpha = alpha, args.beta = beta;
    sgemm(args);
    return;
  }
  if (j0 % b.nr != 0) std::abort();  // callers split columns on panels
  // Each panel is a k × nr matrix with row pitch nr, which the small path reads in place.
  const int64_t q0 = j0 / b.nr, panels = ceilDiv(j1, b.nr) - q0;
  const ConstMat am{a, aRowStride, aColStride};
  parallelFor(panels, flopsCost(2.0 * static_cast<double>(m) * b.nr * static_cast<double>(b.k)),
              [&](int64_t p0, int64_t p1) {
                for (int64_t q = q0 + p0; q < q0 + p1; ++q) {
                  const int64_t j = q * b.nr;
                  small->fn(SmallGemm{m, std::min<int64_t>(b.nr, j1 - j), b.k, am,
                                      ConstMat{b.panels.data() + j * b.k, b.nr, 1}, Mat{c + j, ldc, 1}, alpha, beta,
                                      nullptr});
                }
              });
}

void sgemmRef(const GemmArgs& g) {
  for (int64_t b = 0; b < g.batch; ++b) {
    const float* a = g.a + b * g.aBatchStride;
    const float* bm = g.b + b * g.bBatchStride;
    float* c = g.c + b * g.cBatchStride;
    const float* cIn = g.cIn ? g.cIn + b * g.cBatchStride : c;
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < g.k; ++p)
          sum += static_cast<double>(a[i * g.aRowStride + p * g.aColStride]) * bm[p * g.bRowStride + j * g.bColStride];
        float& out = c[i * g.cRowStride + j * g.cColStride];
        double v = g.alpha == 0.0f ? 0.0 : static_cast<double>(g.alpha) * sum;
        if (g.beta != 0.0f) v += static_cast<double>(g.beta) * cIn[i * g.cRowStride + j * g.cColStride];
        if (g.bias) v += g.bias[j];
        out = static_cast<float>(v);
      }
    if (g.aRowSums && b == 0)
      for (int64_t i = 0; i < g.m; ++i) {
        double s = 0;
        for (int64_t p = 0; p < g.k; ++p) s += a[i * g.aRowStride + p * g.aColStride];
        g.aRowSums[i] = static_cast<float>(s);
      }
  }
}

}  // namespace kd
