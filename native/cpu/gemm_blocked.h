// The blocked GEMM loop nest shared by sgemm (cpu/gemm.cc) and the wide-rows convolution
// (cpu/conv_wide.cc): BLIS order, with where A and B come from and where C's tiles go left to the
// caller. sgemm packs strided matrices and writes C in place; the convolution packs runs of the
// image straight into B's panels, with no im2col buffer.
//
//   for jc in n step NC:            B block kc×nc packed once, reused by every A block (L3)
//     for pc in k step KC:          the first pc block writes C, later ones accumulate, the last
//                                   adds the bias (if any)
//       packB(pc, jc, kc, nc)       NR-wide panels, k-major, columns past nc zero
//       for ic in m step MC:        packA(ic, pc, mc, kc): MR-high panels (L2), rows past mc zero
//         for jr in nc step NR:     B micro-panel kc×NR stays in L1
//           for ir in mc step MR:   micro-kernel: MR×NR tile of C in registers
// (or, for a kernel with streamB, ir outside jr: the A micro-panel stays in L1, see
// gemm_micro_kernel.h); with a kernel that has fnAhead, each block's micro-kernels prefetch what
// the next packA/packB will read (PackAhead).
#pragma once
#include <xmmintrin.h>  // SSE, part of the x86-64 baseline: used only for packing

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/scratch.h"
#include "cpu/gemm_micro_kernel.h"

namespace kd::gemm_detail {

struct ConstMat {
  const float* p;
  int64_t rs, cs;
  ConstMat at(int64_t i, int64_t j) const { return {p + i * rs + j * cs, rs, cs}; }
};

struct Mat {
  float* p;
  int64_t rs, cs;
  Mat at(int64_t i, int64_t j) const { return {p + i * rs + j * cs, rs, cs}; }
};


struct PackBuffers {
  ScratchBuffer a, b;  // packed panels of A and of B, one pair per thread
};

inline PackBuffers& threadPackBuffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t unit) { return ceilDiv(a, unit) * unit; }

// The block size for `total` items split into the fewest blocks of at most maxBlock, made as
// even as possible (so k = 257 runs as 129 + 128, not 256 + 1), rounded up to `unit`.
inline int64_t balancedBlock(int64_t total, int64_t maxBlock, int64_t unit) {
  int64_t blocks = ceilDiv(total, maxBlock);
  return roundUp(ceilDiv(total, blocks), unit);
}

// Copies MR rows × kc columns of a row-major A (rows `rs` apart) into one k-major panel
// (dst[p*MR + i]): 4×4 SSE transposes for each group of 4 rows, unpacks for a final pair.
template <int MR>
void packRowMajorPanelA(int64_t kc, const float* src, int64_t rs, float* dst) {
  static_assert(MR % 2 == 0, "packRowMajorPanelA handles rows in fours and a final pair");
  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    int i = 0;
    for (; i + 4 <= MR; i += 4) {
      __m128 r0 = _mm_loadu_ps(src + (i + 0) * rs + p), r1 = _mm_loadu_ps(src + (i + 1) * rs + p);
      __m128 r2 = _mm_loadu_ps(src + (i + 2) * rs + p), r3 = _mm_loadu_ps(src + (i + 3) * rs + p);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // now r<q> holds rows i..i+3 at column p+q
      _mm_storeu_ps(dst + (p + 0) * MR + i, r0);
      _mm_storeu_ps(dst + (p + 1) * MR + i, r1);
      _mm_storeu_ps(dst + (p + 2) * MR + i, r2);
      _mm_storeu_ps(dst + (p + 3) * MR + i, r3);
    }
    if (i < MR) {  // two rows left: interleave them column by column
      const __m128 r0 = _mm_loadu_ps(src + i * rs + p), r1 = _mm_loadu_ps(src + (i + 1) * rs + p);
      const __m128 lo = _mm_unpacklo_ps(r0, r1), hi = _mm_unpackhi_ps(r0, r1);
      _mm_storel_pi(reinterpret_cast<__m64*>(dst + (p + 0) * MR + i), lo);
      _mm_storeh_pi(reinterpret_cast<__m64*>(dst + (p + 1) * MR + i), lo);
      _mm_storel_pi(reinterpret_cast<__m64*>(dst + (p + 2) * MR + i), hi);
      _mm_storeh_pi(reinterpret_cast<__m64*>(dst + (p + 3) * MR + i), hi);
    }
  }
  for (; p < kc; ++p)
    for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[i * rs + p];
}

// Copies the MR contiguous floats of one k step of a transposed A (A(i, p) at src[i]) into its
// panel row: SSE quads and a final pair, not MR scalar moves (the weight gradient's Aᵀ = gᵀ is
// packed this way; at K = 2048 that is 8% of the product's time done a float at a time).
template <int MR>
inline void copyPanelStep(const float* src, float* dst) {
  static_assert(MR % 2 == 0, "copyPanelStep copies quads and a final pair");
  int i = 0;
  for (; i + 4 <= MR; i += 4) _mm_storeu_ps(dst + i, _mm_loadu_ps(src + i));
  if (i < MR)
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + i),
                  _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(src + i)));
}

// Packs NR rows given by pointers (each `kc` contiguous floats) into one k-major panel
// (dst[p*NR + j] = rows[j][p]); 4×4 SSE transposes, null rows give zeros.
template <int NR>
void packRowPointersPanel(int64_t kc, const float* const* rows, float* dst) {
  static_assert(NR % 4 == 0, "packRowPointersPanel handles rows in fours");
  static const float kZeros[4] = {0, 0, 0, 0};
  for (int j = 0; j < NR; j += 4) {
    const float* r[4];
    for (int i = 0; i < 4; ++i) r[i] = rows[j + i];
    int64_t p = 0;
    if (r[0] && r[1] && r[2] && r[3]) {
      for (; p + 4 <= kc; p += 4) {
        __m128 a = _mm_loadu_ps(r[0] + p), b = _mm_loadu_ps(r[1] + p), c = _mm_loadu_ps(r[2] + p), d = _mm_loadu_ps(r[3] + p);
        _MM_TRANSPOSE4_PS(a, b, c, d);
        _mm_storeu_ps(dst + (p + 0) * NR + j, a);
        _mm_storeu_ps(dst + (p + 1) * NR + j, b);
        _mm_storeu_ps(dst + (p + 2) * NR + j, c);
        _mm_storeu_ps(dst + (p + 3) * NR + j, d);
      }
    }
    for (; p < kc; ++p)
      for (int i = 0; i < 4; ++i) dst[p * NR + j + i] = r[i] ? r[i][p] : kZeros[0];
  }
}

// Packs the mc×kc block of A into ceil(mc/MR) panels, each kc×MR k-major (dst[p*MR + i]), rows
// past mc zero-filled; whole row-major panels through rowPanel when given (MicroKernel::packRowPanel).
template <int MR>
void packA(int64_t mc, int64_t kc, ConstMat a, float* dst, RowPanelPackFn rowPanel = nullptr) {
  int64_t full = 0;  // panels already packed
  if (a.rs == 1) {
    // A transposed: the block's rows for one k are contiguous runs, a row of A apart (4 KiB for
    // 1024 rows, so runs share L1 sets). Take kRuns runs at a time: they stay in L1 (kRuns lines
    // a set, under its 12 ways) while every full panel takes its MR floats of each, and each
    // panel's writes run contiguously. Runs one group ahead are prefetched: too short for the
    // hardware prefetcher.
    constexpr int64_t kRuns = 8;
    full = mc / MR;
    for (int64_t p0 = 0; p0 < kc; p0 += kRuns) {
      const int64_t p1 = std::min(kc, p0 + kRuns);
      for (int64_t p = p1; p < std::min(kc, p1 + kRuns); ++p)
        for (int64_t i = 0; i < full * MR; i += 16)
          _mm_prefetch(reinterpret_cast<const char*>(a.p + p * a.cs + i), _MM_HINT_T0);
      for (int64_t q = 0; q < full; ++q)
        for (int64_t p = p0; p < p1; ++p) copyPanelStep<MR>(a.p + p * a.cs + q * MR, dst + (q * kc + p) * MR);
    }
  }
  dst += full * MR * kc;
  for (int64_t i0 = full * MR; i0 < mc; i0 += MR, dst += MR * kc) {
    const float* src = a.p + i0 * a.rs;
    const int64_t rows = std::min<int64_t>(MR, mc - i0);
    if (rows == MR && a.cs == 1) {
      if (rowPanel)
        rowPanel(kc, src, a.rs, dst);
      else
        packRowMajorPanelA<MR>(kc, src, a.rs, dst);
    } else {
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = i < rows ? src[i * a.rs + p * a.cs] : 0.0f;
    }
  }
}

// Adds the row sums of a packed mc×kc block of A (panels of kc×MR, k-major) into sums[0, mc):
// each panel's sums over the block in float (kc terms, the packing block; SSE quads and a final
// pair, two sets of accumulators taking alternate k steps so the adds do not wait on each other),
// then into the double totals.
template <int MR>
void addPanelRowSums(int64_t mc, int64_t kc, const float* packed, double* sums) {
  static_assert(MR % 2 == 0, "addPanelRowSums adds quads and a final pair");
  constexpr int kVecs = (MR + 3) / 4;  // the last holds the pair when MR % 4 == 2
  auto step = [](__m128 (&acc)[kVecs], const float* row) {
    for (int v = 0; v < MR / 4; ++v) acc[v] = _mm_add_ps(acc[v], _mm_loadu_ps(row + 4 * v));
    if constexpr (MR % 4 != 0)
      acc[kVecs - 1] = _mm_add_ps(acc[kVecs - 1], _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(row + MR - 2)));
  };
  for (int64_t i0 = 0; i0 < mc; i0 += MR, packed += MR * kc) {
    __m128 even[kVecs], odd[kVecs];
    for (int v = 0; v < kVecs; ++v) even[v] = odd[v] = _mm_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= kc; p += 2) {
      step(even, packed + p * MR);
      step(odd, packed + (p + 1) * MR);
    }
    if (p < kc) step(even, packed + p * MR);
    alignas(16) float total[4 * kVecs];
    for (int v = 0; v < kVecs; ++v) _mm_store_ps(total + 4 * v, _mm_add_ps(even[v], odd[v]));
    const int64_t rows = std::min<int64_t>(MR, mc - i0);
    for (int64_t i = 0; i < rows; ++i) sums[i0 + i] += total[i];
  }
}

// Packs the kc×nc block of B into ceil(nc/NR) panels, each kc×NR k-major (dst[p*NR + j]),
// columns past nc zero-filled.
template <int NR>
void packB(int64_t kc, int64_t nc, ConstMat b, float* dst) {
  // B row-major: copy full panels walking each row of B across a strip of panels, so reads run
  // along rows (kStripPanels*NR floats at a time) instead of striding down a 64-byte column.
  constexpr int64_t kStripPanels = 8;
  const int64_t rowMajorPanels = b.cs == 1 ? nc / NR : 0;
  for (int64_t q0 = 0; q0 < rowMajorPanels; q0 += kStripPanels) {
    const int64_t panels = std::min(kStripPanels, rowMajorPanels - q0);
    for (int64_t p = 0; p < kc; ++p) {
      const float* row = b.p + p * b.rs + q0 * NR;
      for (int64_t q = 0; q < panels; ++q)
        std::memcpy(dst + (q0 + q) * NR * kc + p * NR, row + q * NR, NR * sizeof(float));
    }
  }
  int64_t j0 = rowMajorPanels * NR;
  for (dst += j0 * kc; j0 < nc; j0 += NR, dst += NR * kc) {
    const float* src = b.p + j0 * b.cs;
    const int64_t cols = std::min<int64_t>(NR, nc - j0);
    if (cols == NR && b.rs == 1) {  // B transposed: its columns are contiguous runs of k
      const float* columns[NR];
      for (int j = 0; j < NR; ++j) columns[j] = src + j * b.cs;
      packRowPointersPanel<NR>(kc, columns, dst);
    } else {
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) dst[p * NR + j] = j < cols ? src[p * b.rs + j * b.cs] : 0.0f;
    }
  }
}

// C = (alpha * tile + beta * Cin) + bias for a rows×cols corner of a full MR×NR tile; bias: null
// or `cols` floats; Cin laid out as C, `cIn` floats from it (0: C itself).
inline void mergeTile(int64_t rows, int64_t cols, const float* tile, int64_t ldTile, Mat c, float alpha, float beta,
                      const float* bias, int64_t cIn) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float* out = c.p + i * c.rs + j * c.cs;
      float v = alpha * tile[i * ldTile + j];
      v = beta == 0.0f ? v : v + beta * out[cIn];
      *out = bias ? v + bias[j] : v;
    }
}

// Where the driver puts C's tiles: C itself, plus an optional bias per column added by the last
// k block. A full tile with unit column stride is written in place by the micro-kernel; edge tiles
// go through a buffer and mergeTile.
struct MatSink {
  Mat c;
  float alpha, beta;
  const float* bias = nullptr;  // one per column of c, or null
  int64_t cIn = 0;              // where the first k block reads beta's addend, in floats from C
  // In-place destination of the full tile at (i, j), or null.
  float* direct(int64_t i, int64_t j, int64_t& ld) const {
    if (c.cs != 1) return nullptr;
    ld = c.rs;
    return c.p + i * c.rs + j;
  }
  float scale() const { return alpha; }
  float betaFor(bool accumulate) const { return accumulate ? 1.0f : beta; }
  // The addend of the k block: Cin for the first, C itself (the sum so far) after it.
  int64_t cInFor(bool accumulate) const { return accumulate ? 0 : cIn; }
  // What the micro-kernel adds to the tile at column j: the bias, in the last k block only.
  const float* biasFor(int64_t j, bool lastBlock) const { return bias && lastBlock ? bias + j : nullptr; }
  void store(int64_t i, int64_t j, int64_t rows, int64_t cols, const float* tile, int64_t ldTile, bool accumulate,
             bool lastBlock) const {
    mergeTile(rows, cols, tile, ldTile, c.at(i, j), alpha, betaFor(accumulate), biasFor(j, lastBlock), cInFor(accumulate));
  }
};

// Rows of a matrix that the next packing will read (`rows` runs of lineRuns 64-byte lines, rs
// floats apart, starting at p), prefetched into L2 by the micro-kernels of the blocks before it, a
// few lines each while they run (kernel.fnAhead): packing otherwise waits on memory with the FMA
// units idle (single-core bandwidth here ~13 GB/s: 10% of 2048x256x1024's time). Empty: rows 0.
struct SourceRows {
  const float* p = nullptr;
  int64_t rs = 0, rows = 0, lineRuns = 0;
  int64_t lines() const { return rows * lineRuns; }
};

// The rows×cols block at m as SourceRows: its rows when they are contiguous runs, its columns
// when those are (m transposed); empty for other strides.
inline SourceRows blockSource(ConstMat m, int64_t rows, int64_t cols) {
  auto runs = [](const float* p, int64_t count, int64_t length, int64_t stride) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(p);
    const int64_t misalign = static_cast<int64_t>(address % 64) / 4;  // floats before p in its line
    return SourceRows{reinterpret_cast<const float*>(address - address % 64), stride, count,
                      ceilDiv(length + misalign, 16)};
  };
  if (m.cs == 1) return runs(m.p, rows, cols, m.rs);
  if (m.rs == 1) return runs(m.p, cols, rows, m.cs);
  return {};
}

// What the next packing reads: the next A block, and the next B block when that changes too.
struct PackAhead {
  SourceRows a, b;
};

// The sources gemmBlocked's blocks are packed from, for PackAhead (NoSources: none known).
struct NoSources {
  SourceRows blockA(int64_t, int64_t, int64_t, int64_t) const { return {}; }
  SourceRows blockB(int64_t, int64_t, int64_t, int64_t) const { return {}; }
};

// The two inner loops of the nest: C[ic:ic+mc, jc:jc+nc] from the packed mc×kc block of A and
// kc×nc block of B, one MR×NR tile per micro-kernel call, in the order kernel.streamB picks
// (gemm_micro_kernel.h); edge tiles (and every tile when the sink has no direct destination) go
// through a buffer and sink.store.
template <int MR, int NR, class Sink>
void multiplyPackedBlocks(const MicroKernel& kernel, int64_t ic, int64_t jc, int64_t mc, int64_t nc, int64_t kc,
                          const float* packedA, const float* packedB, bool accumulate, bool lastBlock,
                          const Sink& sink, const PackAhead& ahead = {}) {
  alignas(64) float tile[MR * NR];
  // Tile t prefetches lines [t*L/T, (t+1)*L/T) of the L lines of ahead.a then ahead.b (a range
  // that crosses from one to the other stops at the end of the first).
  const int64_t tiles = ceilDiv(mc, MR) * ceilDiv(nc, NR);
  const int64_t linesA = ahead.a.lines(), aheadLines = kernel.fnAhead ? linesA + ahead.b.lines() : 0;
  int64_t tileIndex = 0;
  auto run = [&](const float* pa, const float* pb, float* c, int64_t ld, float alpha, float beta, const float* bias,
                 int64_t cIn) {
    if (aheadLines == 0) return kernel.fn(kc, pa, pb, c, ld, alpha, beta, bias, cIn);
    int64_t begin = tileIndex * aheadLines / tiles, end = (tileIndex + 1) * aheadLines / tiles;
    ++tileIndex;
    const SourceRows& from = begin < linesA ? ahead.a : ahead.b;
    if (begin < linesA)
      end = std::min(end, linesA);
    else
      begin -= linesA, end -= linesA;
    kernel.fnAhead(kc, pa, pb, c, ld, alpha, beta, bias, cIn, AheadLines{from.p, from.rs, from.lineRuns, begin, end});
  };
  auto multiplyTile = [&](int64_t ir, int64_t jr) {
    const int64_t rows = std::min<int64_t>(MR, mc - ir), cols = std::min<int64_t>(NR, nc - jr);
    const float* pa = packedA + ir * kc;
    const float* pb = packedB + jr * kc;
    int64_t ld = 0;
    float* c = rows == MR && cols == NR ? sink.direct(ic + ir, jc + jr, ld) : nullptr;
    if (c) {
      run(pa, pb, c, ld, sink.scale(), sink.betaFor(accumulate), sink.biasFor(jc + jr, lastBlock),
          sink.cInFor(accumulate));
    } else {
      run(pa, pb, tile, NR, 1.0f, 0.0f, nullptr, 0);
      sink.store(ic + ir, jc + jr, rows, cols, tile, NR, accumulate, lastBlock);
    }
  };
  if (kernel.streamB) {
    for (int64_t ir = 0; ir < mc; ir += MR)
      for (int64_t jr = 0; jr < nc; jr += NR) multiplyTile(ir, jr);
  } else {
    for (int64_t jr = 0; jr < nc; jr += NR)
      for (int64_t ir = 0; ir < mc; ir += MR) multiplyTile(ir, jr);
  }
}

// The loop nest above for one thread, with its own packing buffers. PackA(ic, pc, mc, kc, dst)
// and PackB(pc, jc, kc, nc, dst) fill zero-padded panels; Sink is MatSink or any type with the
// same members (direct may always return null; store then receives every tile, computed with
// alpha 1, `accumulate` false for the first k block and `lastBlock` true for the last).
// sources.blockA(ic, pc, mc, kc) and sources.blockB(pc, jc, kc, nc) name what packA and packB
// read for those blocks, which the micro-kernels of the block before prefetch (NoSources: none).
template <int MR, int NR, class PackA, class PackB, class Sink, class Sources = NoSources>
void gemmBlocked(const MicroKernel& kernel, int64_t m, int64_t n, int64_t k, PackA&& packA, PackB&& packB,
                 const Sink& sink, const Sources& sources = {}) {
  const int64_t mcMax = balancedBlock(m, kernel.mc, MR);
  const int64_t kcMax = balancedBlock(k, kernel.kc, 1);
  const int64_t ncMax = balancedBlock(n, kernel.nc, NR);
  PackBuffers& buffers = threadPackBuffers();
  float* packedA = buffers.a.reserve(mcMax * kcMax);
  float* packedB = buffers.b.reserve(ncMax * kcMax);

  for (int64_t jc = 0; jc < n; jc += ncMax) {
    const int64_t nc = std::min(ncMax, n - jc);
    for (int64_t pc = 0; pc < k; pc += kcMax) {
      const int64_t kc = std::min(kcMax, k - pc);
      const bool accumulate = pc > 0, lastBlock = pc + kc == k;
      packB(pc, jc, kc, nc, packedB);
      for (int64_t ic = 0; ic < m; ic += mcMax) {
        const int64_t mc = std::min(mcMax, m - ic);
        packA(ic, pc, mc, kc, packedA);
        // What is packed next: the next rows of A, else the next k block's (or column block's)
        // first rows; and that k block's B block, its rows shared out over this k block's A blocks
        // (block i of `blocks` takes rows [i·kc'/blocks, (i+1)·kc'/blocks)), so that no one
        // block's tiles carry a whole B block.
        PackAhead next;
        if (ic + mc < m) next.a = sources.blockA(ic + mc, pc, std::min(mcMax, m - ic - mc), kc);
        const int64_t blocks = ceilDiv(m, mcMax), block = ic / mcMax;
        auto shareOfB = [&](int64_t pcNext, int64_t jcNext, int64_t kcNext, int64_t ncNext) {
          const int64_t r0 = block * kcNext / blocks, r1 = (block + 1) * kcNext / blocks;
          return sources.blockB(pcNext + r0, jcNext, r1 - r0, ncNext);
        };
        if (pc + kc < k) {
          const int64_t kcNext = std::min(kcMax, k - pc - kc);
          next.b = shareOfB(pc + kc, jc, kcNext, nc);
          if (ic + mc >= m) next.a = sources.blockA(0, pc + kc, std::min(mcMax, m), kcNext);
        } else if (jc + nc < n) {
          const int64_t kcNext = std::min(kcMax, k), ncNext = std::min(ncMax, n - jc - nc);
          next.b = shareOfB(0, jc + nc, kcNext, ncNext);
          if (ic + mc >= m) next.a = sources.blockA(0, 0, std::min(mcMax, m), kcNext);
        }
        multiplyPackedBlocks<MR, NR>(kernel, ic, jc, mc, nc, kc, packedA, packedB, accumulate, lastBlock, sink, next);
      }
    }
  }
}

}  // namespace kd::gemm_detail
