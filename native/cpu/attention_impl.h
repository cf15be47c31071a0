// The fused attention kernels, written once over a SIMD vector type and compiled per ISA.
// The including file defines KD_ISA_NS and, in kd::KD_ISA_NS::(anonymous), a `Vec` with:
//   W (lanes), kRows × kCols (register tile of the tile GEMM, in rows × vectors), zero, set1,
//   load, store (unaligned), add, sub, mul, max, fmadd(a, b, c) = a*b + c, reduceMax,
//   reduceAdd, exp (float32-accurate, exp(-inf) = 0), transpose8x8 (a scaled block transpose) and
//   stream (a store that bypasses the caches, to an address aligned to the vector).
//
// Forward: one task is (batch b, head h, a tile of up to kBq query rows); threads take
// contiguous runs of tasks. Per thread, row-major (dp = headDim rounded up to W):
//   kt  [kvTiles][D][kBk]  the whole key slice of (b, h's key/value head), times scale,
//                          transposed per tile so a score row is a run of W-wide key columns;
//                          packed when the slice changes, so once per head for a run of tasks
//   vr  [kvLen][dp]        the value slice, only when its rows are not contiguous
//   s   [kBq][kBk]         scores, then weights in place
//   o   [kBq][dp]          the unnormalised output; m and l the running max and sum per row
// Per key tile: s = q·kt (q read in place), mask, online softmax, o += s·v. Causal skips key
// tiles wholly above the diagonal and, in a tile the diagonal crosses, the score columns past each
// row block's diagonal (TileColumns).
// Backward: one task is (b, key/value head), which owns dK and dV of that head and dQ of its
// query heads; per (query tile, key tile) it recomputes P from q, k and the log-sum-exp and
// runs five tile products (S, dP, dV, dK, dQ).
// Every product is C (+)= A·B over row-major tiles: tileGemm, a register-blocked
// kRows × kCols·W kernel that broadcasts A (or Aᵀ) and streams B.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <immintrin.h>  // _mm_sfence (SSE, the x86-64 baseline)

#include "common/parallel.h"
#include "common/scratch.h"
#include "common/attention.h"

namespace kd {
namespace KD_ISA_NS {
namespace {

constexpr int64_t kBq = 64;  // query rows per tile
constexpr int64_t kBk = 64;  // keys per tile
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// C[R][NC·W] (+)= A[R][p0:p1] · B[p0:p1][NC·W]; B and C row-major (leading dims ldb, ldc). A is
// row-major with leading dim lda, or, when TA, stored transposed (element (r, p) at a[p*lda + r]),
// which lets the backward multiply by Pᵀ and dSᵀ without transposing them.
template <int R, int NC, bool ACC, bool TA>
inline void microTile(int64_t p0, int64_t p1, const float* __restrict a, int64_t lda, const float* __restrict b,
                      int64_t ldb, float* __restrict c, int64_t ldc) {
  typename Vec::V acc[R][NC];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) acc[r][j] = ACC ? Vec::load(c + r * ldc + j * Vec::W) : Vec::zero();
  for (int64_t p = p0; p < p1; ++p) {
    typename Vec::V bv[NC];
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) bv[j] = Vec::load(b + p * ldb + j * Vec::W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const typename Vec::V av = Vec::set1(TA ? a[p * lda + r] : a[r * lda + p]);
#pragma GCC unroll 4
      for (int j = 0; j < NC; ++j) acc[r][j] = Vec::fmadd(av, bv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) Vec::store(c + r * ldc + j * Vec::W, acc[r][j]);
}

// Where a causal tile's A is zero: A's element (r, p) pairs query and key tile positions (r, p)
// (or, when TA, key r with query p), and the product runs over p. With `shift` = (query tile
// start) - (key tile start), weight (query i, key j) is zero for j > i: row r of a query-row A
// needs p < shift + r + 1, row r of a key-row (TA) A needs p >= r - shift. `on` false: all of K.
struct CausalBand {
  bool on;
  int64_t shift;
};
constexpr CausalBand kFullBand{false, 0};

// The part [p0, p1) of [0, K) that rows [r, r + rows) of A need.
template <bool TA>
inline void bandRange(const CausalBand& band, int64_t K, int64_t r, int64_t rows, int64_t& p0, int64_t& p1) {
  p0 = 0;
  p1 = K;
  if (!band.on) return;
  if (TA) p0 = std::min(K, std::max<int64_t>(0, r - band.shift));
  else p1 = std::max<int64_t>(0, std::min(K, band.shift + r + rows));
}

// Rows [0, M) in blocks of R, the last rows in blocks of 4, 2, 1 (those below R): calls
// block(std::integral_constant<int, Rows>, first row) for each. Every tile product blocks its rows
// this way (microColumn, causalScores, and TileColumns through rowBlockEnd).
template <int R, class Block>
inline void forEachRowBlock(int64_t M, const Block& block) {
  int64_t i = 0;
  for (; i + R <= M; i += R) block(std::integral_constant<int, R>{}, i);
  if constexpr (R > 4) {
    if (M - i >= 4) {
      block(std::integral_constant<int, 4>{}, i);
      i += 4;
    }
  }
  if constexpr (R > 2) {
    if (M - i >= 2) {
      block(std::integral_constant<int, 2>{}, i);
      i += 2;
    }
  }
  if constexpr (R > 1) {
    if (M - i >= 1) block(std::integral_constant<int, 1>{}, i);
  }
}

// One column block (NC vectors) of C (+)= A·B over rows [0, M), with the band's K range per row block.
template <int R, int NC, bool ACC, bool TA>
inline void microColumn(int64_t M, int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                        int64_t ldc, const CausalBand& band) {
  const int64_t rowStep = TA ? 1 : lda;  // distance between consecutive rows of A
  forEachRowBlock<R>(M, [&](auto rows, int64_t i) {
    constexpr int Rows = decltype(rows)::value;
    int64_t p0, p1;
    bandRange<TA>(band, K, i, Rows, p0, p1);
    microTile<Rows, NC, ACC, TA>(p0, p1, a + i * rowStep, lda, b, ldb, c + i * ldc, ldc);
  });
}

// C[M][N] (+)= A[M][K] · B[K][N] with N a multiple of W: column blocks of kCols vectors, then
// the remaining vectors one block narrower at a time. With a band (ACC only), each row block skips
// the part of K where its A is zero above the causal diagonal.
template <bool ACC, bool TA = false>
void tileGemm(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc, const CausalBand& band = kFullBand) {
  constexpr int64_t block = Vec::kCols * Vec::W;
  int64_t j = 0;
  for (; j + block <= N; j += block) microColumn<Vec::kRows, Vec::kCols, ACC, TA>(M, K, a, lda, b + j, ldb, c + j, ldc, band);
  while (j < N) {
    const int64_t vectors = (N - j) / Vec::W;
    if (Vec::kCols > 3 && vectors >= 3) {
      microColumn<Vec::kRows, 3, ACC, TA>(M, K, a, lda, b + j, ldb, c + j, ldc, band);
      j += 3 * Vec::W;
    } else if (Vec::kCols > 2 && vectors >= 2) {
      microColumn<Vec::kRows, 2, ACC, TA>(M, K, a, lda, b + j, ldb, c + j, ldc, band);
      j += 2 * Vec::W;
    } else {
      microColumn<Vec::kRows, 1, ACC, TA>(M, K, a, lda, b + j, ldb, c + j, ldc, band);
      j += Vec::W;
    }
  }
}

// The end of the row block holding row r under forEachRowBlock<kRows>(M, ...).
inline int64_t rowBlockEnd(int64_t M, int64_t r) {
  const int64_t full = M / Vec::kRows * Vec::kRows;
  if (r < full) return (r / Vec::kRows + 1) * Vec::kRows;
  int64_t end = M;
  forEachRowBlock<Vec::kRows>(M, [&](auto rows, int64_t i) {
    if (i >= full && r >= i && r < i + decltype(rows)::value) end = i + decltype(rows)::value;
  });
  return end;
}

// Which columns of a score tile (rows = queries, columns = keys) are computed. A tile the causal
// diagonal crosses needs, in row r, only keys c <= shift + r (shift = query tile start - key tile
// start); its rows are computed in blocks, each up to its last row's diagonal rounded up to whole
// vectors, and the columns past that are zero after the exponential. Any other tile: all of them.
struct TileColumns {
  bool causal;
  int64_t shift, rows, padded;
  int64_t of(int64_t r) const {
    if (!causal) return padded;
    return std::clamp<int64_t>(roundUp(shift + rowBlockEnd(rows, r), Vec::W), 0, padded);
  }
};

// Columns [0, n) of R rows of C (+)= A·B: blocks of kCols vectors, then narrower ones.
template <int R, bool ACC, bool TA>
inline void rowBlockColumns(int64_t n, int64_t p0, int64_t p1, const float* a, int64_t lda, const float* b,
                            int64_t ldb, float* c, int64_t ldc) {
  constexpr int64_t block = Vec::kCols * Vec::W;
  int64_t j = 0;
  for (; j + block <= n; j += block) microTile<R, Vec::kCols, ACC, TA>(p0, p1, a, lda, b + j, ldb, c + j, ldc);
  for (; j + 2 * Vec::W <= n; j += 2 * Vec::W) microTile<R, 2, ACC, TA>(p0, p1, a, lda, b + j, ldb, c + j, ldc);
  if (j < n) microTile<R, 1, ACC, TA>(p0, p1, a, lda, b + j, ldb, c + j, ldc);
}

// S[M][·] = A[M][K]·B[K][·] over only the columns `cols` computes for each row block.
inline void causalScores(const TileColumns& cols, int64_t M, int64_t K, const float* a, int64_t lda, const float* b,
                         int64_t ldb, float* c, int64_t ldc) {
  forEachRowBlock<Vec::kRows>(M, [&](auto rows, int64_t i) {
    rowBlockColumns<decltype(rows)::value, false, false>(cols.of(i), 0, K, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
  });
}

// The score tile's product: causalScores on a tile the diagonal crosses, else every column.
inline void scoreTile(const TileColumns& cols, int64_t M, int64_t K, const float* a, int64_t lda, const float* b,
                      int64_t ldb, float* c, int64_t ldc) {
  if (cols.causal) causalScores(cols, M, K, a, lda, b, ldb, c, ldc);
  else tileGemm<false>(M, cols.padded, K, a, lda, b, ldb, c, ldc);
}

// Copies rows [i0, i0 + n) of one (b, h) slice of a strided view into dst[n][ld], times factor.
inline void packRows(const float* base, int64_t rowStride, int64_t colStride, int64_t i0, int64_t n, int64_t d,
                     float factor, float* dst, int64_t ld) {
  for (int64_t r = 0; r < n; ++r) {
    const float* src = base + (i0 + r) * rowStride;
    float* row = dst + r * ld;
    if (colStride == 1)
      for (int64_t c = 0; c < d; ++c) row[c] = src[c] * factor;
    else
      for (int64_t c = 0; c < d; ++c) row[c] = src[c * colStride] * factor;
  }
}

// Packs the n keys (or values) of one (b, head) slice transposed, tile by tile: tile t holds keys
// [t·kBk, t·kBk + kBk) as dst[t][d][kBk] (times factor; keys past n are zero). Tiles rather than
// one [d][n] array keep a tile's rows 256 bytes apart: rows 4 KiB apart would share L1 sets.
inline void packTransposedTiles(const float* base, int64_t rowStride, int64_t colStride, int64_t n, int64_t d,
                                float factor, float* dst) {
  for (int64_t j0 = 0; j0 < n; j0 += kBk) {
    const int64_t nk = std::min(kBk, n - j0);
    float* tile = dst + (j0 / kBk) * d * kBk;
    int64_t r0 = 0, c0 = 0;
    if (colStride == 1) {  // 8×8 blocks in registers, the ragged edges below
      for (; r0 + 8 <= nk; r0 += 8)
        for (c0 = 0; c0 + 8 <= d; c0 += 8)
          Vec::transpose8x8(base + (j0 + r0) * rowStride + c0, rowStride, tile + c0 * kBk + r0, kBk, factor);
    }
    for (int64_t r = 0; r < nk; ++r) {
      const float* src = base + (j0 + r) * rowStride;
      for (int64_t c = r < r0 ? c0 : 0; c < d; ++c) tile[c * kBk + r] = src[c * colStride] * factor;
    }
    for (int64_t c = 0; c < d; ++c)
      for (int64_t r = nk; r < kBk; ++r) tile[c * kBk + r] = 0.0f;
  }
}

// Writes rows [i0, i0 + n) of the (b, h) slice of a strided output from src[n][ld], times factor.
inline void writeRows(const AttentionOutput& o, int64_t b, int64_t h, int64_t i0, int64_t n, int64_t d,
                      const float* src, int64_t ld, float factor) {
  float* base = o.data + b * o.strides[0] + h * o.strides[1];
  for (int64_t r = 0; r < n; ++r) {
    float* row = base + (i0 + r) * o.strides[2];
    const float* from = src + r * ld;
    if (o.strides[3] == 1)
      for (int64_t c = 0; c < d; ++c) row[c] = from[c] * factor;
    else
      for (int64_t c = 0; c < d; ++c) row[c * o.strides[3]] = from[c] * factor;
  }
}

// writeRows through streaming (non-temporal) stores, for the backward's dQ, dK and dV: rows of
// whole vectors, each starting on a 64-byte line (else writeRows). A task writes its gradient rows
// once, at its end, into lines nothing has touched for a whole forward pass; an ordinary store
// first reads each line in (rows 256 bytes long, a row of q, k and v apart, so in short scattered
// runs), a streaming store writes the whole line without reading it. In the GPT bench's step (both
// ways in one build, 2-second rounds alternated, 10 pairs): 1.018x tokens/s on 1 thread, 1.021x on
// 2; streaming the forward's output the same way was level (0.999x), its consumer reads it at once.
inline void writeRowsStreaming(const AttentionOutput& o, int64_t b, int64_t h, int64_t i0, int64_t n, int64_t d,
                               const float* src, int64_t ld, float factor) {
  float* base = o.data + b * o.strides[0] + h * o.strides[1];
  const bool lines = o.strides[3] == 1 && d % Vec::W == 0 && (o.strides[2] * sizeof(float)) % 64 == 0 &&
                     reinterpret_cast<uintptr_t>(base + i0 * o.strides[2]) % 64 == 0;
  if (!lines) {
    writeRows(o, b, h, i0, n, d, src, ld, factor);
    return;
  }
  const typename Vec::V f = Vec::set1(factor);
  for (int64_t r = 0; r < n; ++r) {
    float* row = base + (i0 + r) * o.strides[2];
    const float* from = src + r * ld;
    for (int64_t c = 0; c < d; c += Vec::W) Vec::stream(row + c, Vec::mul(Vec::load(from + c), f));
  }
}

// Zeroes a strided output over [batch, heads, len, d].
inline void zeroOutput(const AttentionOutput& o, int64_t batch, int64_t heads, int64_t len, int64_t d) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < len; ++i) {
        float* row = o.data + b * o.strides[0] + h * o.strides[1] + i * o.strides[2];
        for (int64_t c = 0; c < d; ++c) row[c * o.strides[3]] = 0.0f;
      }
}

// Asks for rows [r0, r1) of a (b, head) slice to be brought towards the cache, so that packing
// them later does not wait on memory: issued a little per task while the tiles compute.
inline void prefetchRows(const float* base, int64_t rowStride, int64_t colStride, int64_t r0, int64_t r1, int64_t d) {
  if (colStride != 1) return;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < d; c += 16) __builtin_prefetch(base + r * rowStride + c, 0, 2);
}

// What one (query tile, key tile) pair needs to mask its scores.
struct MaskContext {
  const AttentionGeometry* g;
  AttentionMask mask;
  int64_t b, h;
};

// Adds the mask to scores s[nq][ld] of queries [i0, i0 + nq) against keys [j0, j0 + nk) and sets
// the padding columns [nk, nkPad) to -inf, in each row only over the columns `cols` computed.
inline void maskScores(const MaskContext& mc, int64_t i0, int64_t nq, int64_t j0, int64_t nk, int64_t nkPad, float* s,
                       int64_t ld, const TileColumns& cols) {
  const AttentionGeometry& g = *mc.g;
  if (g.maskKind == AttentionMaskKind::None && !cols.causal && nk == nkPad) return;
  for (int64_t r = 0; r < nq; ++r) {
    float* row = s + r * ld;
    const int64_t i = i0 + r;
    const int64_t width = cols.of(r), keys = std::min(nk, width);
    if (g.maskKind == AttentionMaskKind::Additive) {
      const float* m = static_cast<const float*>(mc.mask.data) + mc.b * mc.mask.strides[0] +
                       mc.h * mc.mask.strides[1] + i * mc.mask.strides[2] + j0 * mc.mask.strides[3];
      const int64_t st = mc.mask.strides[3];
      if (st == 1)
        for (int64_t c = 0; c < keys; ++c) row[c] += m[c];
      else
        for (int64_t c = 0; c < keys; ++c) row[c] += m[c * st];
    } else if (g.maskKind == AttentionMaskKind::Bool) {
      const uint8_t* m = static_cast<const uint8_t*>(mc.mask.data) + mc.b * mc.mask.strides[0] +
                         mc.h * mc.mask.strides[1] + i * mc.mask.strides[2] + j0 * mc.mask.strides[3];
      const int64_t st = mc.mask.strides[3];
      for (int64_t c = 0; c < keys; ++c) row[c] = m[c * st] ? row[c] : kNegInf;
    }
    if (cols.causal)
      for (int64_t c = std::max<int64_t>(0, i - j0 + 1); c < keys; ++c) row[c] = kNegInf;
    for (int64_t c = nk; c < width; ++c) row[c] = kNegInf;
  }
}

// z[c] = the dropout factor (0 or 1/(1-p)) of columns [j0, j0 + n) of the row with this key.
inline void dropoutFactors(uint64_t rowKey, int64_t j0, int64_t n, float p, float keepScale, float* z) {
  for (int64_t c = 0; c < n; ++c)
    z[c] = attentionDropoutUniform(rowKey, static_cast<uint32_t>(j0 + c)) < p ? 0.0f : keepScale;
}

inline float rowMax(const float* x, int64_t n) {
  typename Vec::V m = Vec::set1(kNegInf);
  for (int64_t c = 0; c < n; c += Vec::W) m = Vec::max(m, Vec::load(x + c));
  return Vec::reduceMax(m);
}

// x[c] = exp(x[c] - shift) in place; returns the sum as W partial sums. n is a multiple of W.
inline typename Vec::V expShiftSum(float* x, int64_t n, float shift) {
  const typename Vec::V sv = Vec::set1(shift);
  typename Vec::V sum = Vec::zero();
  for (int64_t c = 0; c < n; c += Vec::W) {
    const typename Vec::V e = Vec::exp(Vec::sub(Vec::load(x + c), sv));
    Vec::store(x + c, e);
    sum = Vec::add(sum, e);
  }
  return sum;
}

// x[c] = 0 for c in [from, to): the columns of a causal tile's row that were not computed.
inline void zeroColumns(float* x, int64_t from, int64_t to) {
  for (int64_t c = from; c < to; c += Vec::W) Vec::store(x + c, Vec::zero());
}

inline void scaleRow(float* x, int64_t n, float f) {
  const typename Vec::V fv = Vec::set1(f);
  for (int64_t c = 0; c < n; c += Vec::W) Vec::store(x + c, Vec::mul(Vec::load(x + c), fv));
}

// Grow-only, one per thread (and per ISA build): no allocation or page faults per call.
inline ScratchBuffer& threadScratch() {
  thread_local ScratchBuffer buffer;
  return buffer;
}

// ---- forward -----------------------------------------------------------------------------------

// One thread's buffers. kt (and vr when values must be packed) hold the whole key/value slice
// of (packedB, packedKvh): the thread's consecutive tasks are mostly query tiles of one head (or
// of heads sharing its key/value head under GQA), so the slice is packed once and read by every
// one of them. Queries with contiguous rows are read in place (the tile GEMM broadcasts them),
// and so are values with contiguous rows when headDim is a multiple of W.
struct ForwardScratch {
  float* kt;                    // [kvTiles][D][kBk], keys times scale
  float* vr;                    // [kvLen][dp]
  float *qs, *s, *o;            // [kBq][dp], [kBq][kBk], [kBq][dp]
  float *m, *mNew, *alpha;      // [kBq] each
  float* l;                     // [kBq][W]: each row's sum of weights as W partial sums
  float* z;                     // [kBk]
  int64_t packedB = -1, packedKvh = -1;
};

inline bool valuesInPlace(const AttentionGeometry& g, const AttentionInput& v) {
  return v.strides[3] == 1 && g.headDim % Vec::W == 0;
}

void forwardTile(const AttentionGeometry& g, const AttentionInput& q, const AttentionInput& k,
                 const AttentionInput& v, const AttentionMask& mask, int64_t b, int64_t h, int64_t i0,
                 ForwardScratch& w, const AttentionOutput& out, float* logsumexp) {
  const int64_t D = g.headDim, dp = roundUp(D, Vec::W);
  const int64_t nq = std::min(kBq, g.qLen - i0);
  const int64_t kvh = h / (g.heads / g.kvHeads);
  const bool dropout = g.dropoutP > 0.0f;
  const float keepScale = dropout ? 1.0f / (1.0f - g.dropoutP) : 1.0f;
  const MaskContext mc{&g, mask, b, h};

  const float* kBase = k.data + b * k.strides[0] + kvh * k.strides[1];
  const float* vBase = v.data + b * v.strides[0] + kvh * v.strides[1];
  const bool vInPlace = valuesInPlace(g, v);
  if (w.packedB != b || w.packedKvh != kvh) {
    packTransposedTiles(kBase, k.strides[2], k.strides[3], g.kvLen, D, g.scale, w.kt);
    if (!vInPlace) packRows(vBase, v.strides[2], v.strides[3], 0, g.kvLen, D, 1.0f, w.vr, dp);
    w.packedB = b;
    w.packedKvh = kvh;
  }
  const float* vRows = vInPlace ? vBase : w.vr;
  const int64_t ldv = vInPlace ? v.strides[2] : dp;
  const float* qBase = q.data + b * q.strides[0] + h * q.strides[1];
  const float* qRows = w.qs;
  int64_t ldq = dp;
  if (q.strides[3] == 1) {
    qRows = qBase + i0 * q.strides[2];
    ldq = q.strides[2];
  } else {
    packRows(qBase, q.strides[2], q.strides[3], i0, nq, D, 1.0f, w.qs, dp);
  }
  std::fill(w.o, w.o + nq * dp, 0.0f);
  std::fill(w.m, w.m + kBq, kNegInf);
  std::fill(w.l, w.l + kBq * Vec::W, 0.0f);

  // Causal: keys past the tile's last query are masked for every row of it, so never visited.
  const int64_t kvEnd = g.causal ? std::min(g.kvLen, i0 + nq) : g.kvLen;
  for (int64_t j0 = 0; j0 < kvEnd; j0 += kBk) {
    const int64_t nk = std::min(kBk, kvEnd - j0), nkPad = roundUp(nk, Vec::W);
    const TileColumns cols{g.causal && j0 + nk - 1 > i0, i0 - j0, nq, nkPad};
    scoreTile(cols, nq, D, qRows, ldq, w.kt + (j0 / kBk) * D * kBk, kBk, w.s, kBk);
    maskScores(mc, i0, nq, j0, nk, nkPad, w.s, kBk, cols);
    // Online softmax: what was accumulated under the old row max m is rescaled by
    // alpha = exp(m - mNew); a row with every key so far masked keeps mNew = -inf.
    for (int64_t r = 0; r < nq; ++r) {
      w.mNew[r] = std::max(w.m[r], rowMax(w.s + r * kBk, cols.of(r)));
      w.alpha[r] = w.mNew[r] == kNegInf ? 0.0f : w.m[r] - w.mNew[r];
    }
    for (int64_t r = 0; r < kBq; r += Vec::W) Vec::store(w.alpha + r, Vec::exp(Vec::load(w.alpha + r)));
    for (int64_t r = 0; r < nq; ++r) {
      float* row = w.s + r * kBk;
      if (w.mNew[r] == kNegInf) {
        std::fill(row, row + nkPad, 0.0f);
        continue;
      }
      const int64_t width = cols.of(r);
      const typename Vec::V sum = expShiftSum(row, width, w.mNew[r]);
      zeroColumns(row, width, nkPad);
      float* l = w.l + r * Vec::W;
      Vec::store(l, Vec::fmadd(Vec::load(l), Vec::set1(w.alpha[r]), sum));
      w.m[r] = w.mNew[r];
      if (w.alpha[r] != 1.0f) scaleRow(w.o + r * dp, dp, w.alpha[r]);
      if (dropout) {
        const uint64_t rowKey = attentionDropoutRowKey(g.seed, g.offset, (b * g.heads + h) * g.qLen + i0 + r);
        const int64_t keys = std::min(nk, width);
        dropoutFactors(rowKey, j0, keys, g.dropoutP, keepScale, w.z);
        for (int64_t c = 0; c < keys; ++c) row[c] *= w.z[c];
      }
    }
    tileGemm<true>(nq, dp, nk, w.s, kBk, vRows + j0 * ldv, ldv, w.o, dp, CausalBand{g.causal, i0 - j0});
  }

  float* lseTile = logsumexp + (b * g.heads + h) * g.qLen + i0;
  for (int64_t r = 0; r < nq; ++r) {
    const float l = Vec::reduceAdd(Vec::load(w.l + r * Vec::W));
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // a fully masked row gives 0, as PyTorch
    writeRows(out, b, h, i0 + r, 1, D, w.o + r * dp, dp, inv);
    lseTile[r] = l > 0.0f ? w.m[r] + std::log(l) : kNegInf;
  }
}

}  // namespace

void attentionForward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                      AttentionMask mask, AttentionOutput out, float* logsumexp) {
  const int64_t qTiles = (g.qLen + kBq - 1) / kBq;
  const int64_t tasks = g.batch * g.heads * qTiles;
  if (tasks == 0) return;
  const int64_t D = g.headDim, dp = roundUp(D, Vec::W);
  if (g.kvLen == 0) {  // no keys: every row fully masked
    zeroOutput(out, g.batch, g.heads, g.qLen, D);
    std::fill(logsumexp, logsumexp + g.batch * g.heads * g.qLen, kNegInf);
    return;
  }
  const int64_t kvTiles = (g.kvLen + kBk - 1) / kBk;
  // Per task: one query tile against every key, two GEMMs of 2·kBq·kvLen·D flops.
  parallelFor(tasks, flopsCost(4.0 * static_cast<double>(kBq * g.kvLen * D)), [&](int64_t begin, int64_t end) {
    ScratchBuffer& buffer = threadScratch();
    const int64_t ktElems = kvTiles * D * kBk, vrElems = valuesInPlace(g, v) ? 0 : g.kvLen * dp;
    const int64_t total = ktElems + vrElems + 2 * kBq * dp + kBq * kBk + 3 * kBq + kBq * Vec::W + kBk;
    float* base = buffer.reserve(total);
    std::fill(base, base + total, 0.0f);  // pad columns of vr and qs stay zero
    ForwardScratch w;
    w.kt = base;
    w.vr = w.kt + ktElems;
    w.qs = w.vr + vrElems;
    w.s = w.qs + kBq * dp;
    w.o = w.s + kBq * kBk;
    w.m = w.o + kBq * dp;
    w.mNew = w.m + kBq;
    w.alpha = w.mNew + kBq;
    w.l = w.alpha + kBq;
    w.z = w.l + kBq * Vec::W;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t qt = t % qTiles, bh = t / qTiles;
      if (t + 1 < end) {
        // Prefetch the next task's queries, and a 1/qTiles share of the next head's keys and
        // values, so the repack after this head's last query tile finds them near.
        const int64_t nextBh = (t + 1) / qTiles, nextB = nextBh / g.heads, nextH = nextBh % g.heads;
        const int64_t nextI0 = ((t + 1) % qTiles) * kBq;
        prefetchRows(q.data + nextB * q.strides[0] + nextH * q.strides[1], q.strides[2], q.strides[3], nextI0,
                     std::min(g.qLen, nextI0 + kBq), D);
        const int64_t aheadBh = bh + 1;
        if (aheadBh < g.batch * g.heads) {
          const int64_t ab = aheadBh / g.heads, akvh = (aheadBh % g.heads) / (g.heads / g.kvHeads);
          const int64_t r0 = qt * g.kvLen / qTiles, r1 = (qt + 1) * g.kvLen / qTiles;
          prefetchRows(k.data + ab * k.strides[0] + akvh * k.strides[1], k.strides[2], k.strides[3], r0, r1, D);
          prefetchRows(v.data + ab * v.strides[0] + akvh * v.strides[1], v.strides[2], v.strides[3], r0, r1, D);
        }
      }
      forwardTile(g, q, k, v, mask, bh / g.heads, bh % g.heads, qt * kBq, w, out, logsumexp);
    }
  });
}

// ---- backward ----------------------------------------------------------------------------------

namespace {

// Per task (b, key/value head kvh): the key/value slice packed once, gradient accumulators for
// it, and per query head of the group the packed queries, output gradient and dQ accumulator.
struct BackwardScratch {
  float *kt, *vt;          // [kvTiles][D][kBk]
  float *kr, *dk, *dv;     // [kvLen][dp]
  float *qs, *dout, *dq;   // [qLen][dp]; qs = q times scale
  float *delta, *lse;      // [qLen]
  float *p, *pd, *ds, *z;  // [kBq][kBk] tiles, z [kBk]
};

void backwardTask(const AttentionGeometry& g, const AttentionInput& q, const AttentionInput& k,
                  const AttentionInput& v, const AttentionMask& mask, const AttentionInput& out,
                  const AttentionInput& gradOut, const float* logsumexp, int64_t b, int64_t kvh,
                  const BackwardScratch& w, const AttentionOutput& gradQ, const AttentionOutput& gradK,
                  const AttentionOutput& gradV) {
  const int64_t D = g.headDim, dp = roundUp(D, Vec::W);
  const int64_t group = g.heads / g.kvHeads;
  const bool dropout = g.dropoutP > 0.0f;
  const float keepScale = dropout ? 1.0f / (1.0f - g.dropoutP) : 1.0f;

  const float* kBase = k.data + b * k.strides[0] + kvh * k.strides[1];
  const float* vBase = v.data + b * v.strides[0] + kvh * v.strides[1];
  packTransposedTiles(kBase, k.strides[2], k.strides[3], g.kvLen, D, 1.0f, w.kt);
  packTransposedTiles(vBase, v.strides[2], v.strides[3], g.kvLen, D, 1.0f, w.vt);
  packRows(kBase, k.strides[2], k.strides[3], 0, g.kvLen, D, 1.0f, w.kr, dp);
  std::fill(w.dk, w.dk + g.kvLen * dp, 0.0f);
  std::fill(w.dv, w.dv + g.kvLen * dp, 0.0f);

  for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
    const MaskContext mc{&g, mask, b, h};
    const float* qBase = q.data + b * q.strides[0] + h * q.strides[1];
    const float* oBase = out.data + b * out.strides[0] + h * out.strides[1];
    const float* gBase = gradOut.data + b * gradOut.strides[0] + h * gradOut.strides[1];
    packRows(qBase, q.strides[2], q.strides[3], 0, g.qLen, D, g.scale, w.qs, dp);
    packRows(gBase, gradOut.strides[2], gradOut.strides[3], 0, g.qLen, D, 1.0f, w.dout, dp);
    std::fill(w.dq, w.dq + g.qLen * dp, 0.0f);
    const float* lseHead = logsumexp + (b * g.heads + h) * g.qLen;
    for (int64_t i = 0; i < g.qLen; ++i) {
      // delta_i = rowsum(dO ∘ O) = sum_j P_ij dP_ij, the softmax backward's row term.
      // In vector lanes where O's rows are contiguous (a scalar double loop here was ~10% of the
      // backward at seq 128), then the lanes and any tail in double.
      const float* o = oBase + i * out.strides[2];
      const float* dO = w.dout + i * dp;
      double acc = 0.0;
      int64_t c = 0;
      if (out.strides[3] == 1) {
        typename Vec::V lanes = Vec::zero();
        for (; c + Vec::W <= D; c += Vec::W) lanes = Vec::fmadd(Vec::load(dO + c), Vec::load(o + c), lanes);
        acc = Vec::reduceAdd(lanes);
      }
      for (; c < D; ++c) acc += static_cast<double>(dO[c]) * o[c * out.strides[3]];
      w.delta[i] = static_cast<float>(acc);
      // A fully masked row (lse = -inf) has zero weights: exp(s - inf) = 0 for every s.
      w.lse[i] = lseHead[i] == kNegInf ? std::numeric_limits<float>::infinity() : lseHead[i];
    }

    for (int64_t i0 = 0; i0 < g.qLen; i0 += kBq) {
      const int64_t nq = std::min(kBq, g.qLen - i0);
      const int64_t kvEnd = g.causal ? std::min(g.kvLen, i0 + nq) : g.kvLen;
      for (int64_t j0 = 0; j0 < kvEnd; j0 += kBk) {
        const int64_t nk = std::min(kBk, kvEnd - j0), nkPad = roundUp(nk, Vec::W);
        const int64_t tileOffset = (j0 / kBk) * D * kBk;
        const TileColumns cols{g.causal && j0 + nk - 1 > i0, i0 - j0, nq, nkPad};
        // P = exp(scale q kᵀ + mask - lse), recomputed.
        scoreTile(cols, nq, D, w.qs + i0 * dp, dp, w.kt + tileOffset, kBk, w.p, kBk);
        maskScores(mc, i0, nq, j0, nk, nkPad, w.p, kBk, cols);
        for (int64_t r = 0; r < nq; ++r) {
          expShiftSum(w.p + r * kBk, cols.of(r), w.lse[i0 + r]);
          zeroColumns(w.p + r * kBk, cols.of(r), nkPad);
        }
        // dP' = dO vᵀ (the gradient of the dropped weights P' = P ∘ Z), over the same columns.
        scoreTile(cols, nq, D, w.dout + i0 * dp, dp, w.vt + tileOffset, kBk, w.ds, kBk);
        const float* pd = w.p;
        if (dropout) {
          for (int64_t r = 0; r < nq; ++r) {
            const uint64_t rowKey = attentionDropoutRowKey(g.seed, g.offset, (b * g.heads + h) * g.qLen + i0 + r);
            const int64_t width = cols.of(r), keys = std::min(nk, width);
            dropoutFactors(rowKey, j0, keys, g.dropoutP, keepScale, w.z);
            float* pdRow = w.pd + r * kBk;
            float* dsRow = w.ds + r * kBk;
            const float* pRow = w.p + r * kBk;
            const float delta = w.delta[i0 + r];
            for (int64_t c = 0; c < keys; ++c) {
              pdRow[c] = pRow[c] * w.z[c];
              dsRow[c] = pRow[c] * (dsRow[c] * w.z[c] - delta);
            }
            zeroColumns(pdRow, width, nkPad);
            zeroColumns(dsRow, width, nkPad);
          }
          pd = w.pd;
        } else {
          for (int64_t r = 0; r < nq; ++r) {
            float* dsRow = w.ds + r * kBk;
            const float* pRow = w.p + r * kBk;
            const float delta = w.delta[i0 + r];
            const int64_t width = cols.of(r), keys = std::min(nk, width);
            for (int64_t c = 0; c < keys; ++c) dsRow[c] = pRow[c] * (dsRow[c] - delta);
            zeroColumns(dsRow, width, nkPad);
          }
        }
        // dV += P'ᵀ dO;  dK += dSᵀ (scale q);  dQ += dS k  (times scale at the end).
        // Causal: P', dS are zero above the diagonal, which the band skips.
        const CausalBand band{g.causal, i0 - j0};
        tileGemm<true, true>(nk, dp, nq, pd, kBk, w.dout + i0 * dp, dp, w.dv + j0 * dp, dp, band);
        tileGemm<true, true>(nk, dp, nq, w.ds, kBk, w.qs + i0 * dp, dp, w.dk + j0 * dp, dp, band);
        tileGemm<true>(nq, dp, nk, w.ds, kBk, w.kr + j0 * dp, dp, w.dq + i0 * dp, dp, band);
      }
    }

    writeRowsStreaming(gradQ, b, h, 0, g.qLen, D, w.dq, dp, g.scale);
  }

  writeRowsStreaming(gradK, b, kvh, 0, g.kvLen, D, w.dk, dp, 1.0f);
  writeRowsStreaming(gradV, b, kvh, 0, g.kvLen, D, w.dv, dp, 1.0f);
}

}  // namespace

void attentionBackward(const AttentionGeometry& g, AttentionInput q, AttentionInput k, AttentionInput v,
                       AttentionMask mask, AttentionInput out, AttentionInput gradOut, const float* logsumexp,
                       AttentionOutput gradQ, AttentionOutput gradK, AttentionOutput gradV) {
  const int64_t D = g.headDim, dp = roundUp(D, Vec::W);
  const int64_t tasks = g.batch * g.kvHeads;
  if (tasks == 0) return;
  if (g.qLen == 0 || g.kvLen == 0) {
    zeroOutput(gradQ, g.batch, g.heads, g.qLen, D);
    zeroOutput(gradK, g.batch, g.kvHeads, g.kvLen, D);
    zeroOutput(gradV, g.batch, g.kvHeads, g.kvLen, D);
    return;
  }
  const int64_t kvTiles = (g.kvLen + kBk - 1) / kBk;
  // Per task: every query head of one kv head, five GEMMs of 2·qLen·kvLen·D flops each.
  const double groupHeads = static_cast<double>(g.heads / g.kvHeads);
  parallelFor(tasks, flopsCost(10.0 * groupHeads * static_cast<double>(g.qLen * g.kvLen * D)), [&](int64_t begin, int64_t end) {
    ScratchBuffer& buffer = threadScratch();
    const int64_t ktElems = kvTiles * D * kBk, rowsKv = g.kvLen * dp, rowsQ = g.qLen * dp, tile = kBq * kBk;
    const int64_t total = 2 * ktElems + 3 * rowsKv + 3 * rowsQ + 2 * g.qLen + 3 * tile + kBk;
    float* base = buffer.reserve(total);
    std::fill(base, base + total, 0.0f);
    BackwardScratch w;
    w.kt = base;
    w.vt = w.kt + ktElems;
    w.kr = w.vt + ktElems;
    w.dk = w.kr + rowsKv;
    w.dv = w.dk + rowsKv;
    w.qs = w.dv + rowsKv;
    w.dout = w.qs + rowsQ;
    w.dq = w.dout + rowsQ;
    w.delta = w.dq + rowsQ;
    w.lse = w.delta + g.qLen;
    w.p = w.lse + g.qLen;
    w.pd = w.p + tile;
    w.ds = w.pd + tile;
    w.z = w.ds + tile;
    for (int64_t t = begin; t < end; ++t)
      backwardTask(g, q, k, v, mask, out, gradOut, logsumexp, t / g.kvHeads, t % g.kvHeads, w, gradQ, gradK, gradV);
    _mm_sfence();  // the streaming stores land before the region ends and anyone reads dQ, dK, dV
  });
}

}  // namespace KD_ISA_NS
}  // namespace kd
