// The AVX2+FMA 6×16 register tile: C (6 rows × 2 vectors of 8) held in 12 ymm accumulators. Per
// k step: 2 loads of B, 6 broadcasts of A, 12 FMAs; with 2 FMA pipes of latency 4-5 cycles, 12
// independent chains keep both pipes busy. 12 + 2 + 1 = 15 of the 16 ymm registers.
// One body serves every AVX2 product; where A and B come from is a parameter:
//   gemm_avx2.cc       packed A, packed B               (sgemm's micro-kernel)
//                      A and B read in place            (sgemm's small path, gemm_small.h)
//   conv_wide_avx2.cc  packed A, B rows read in place    (wide-rows forward)
//                      A rows read in place, packed B    (wide-rows weight gradient)
// A tile of fewer rows (the bottom edge of C) runs the same body with Rows < 6: the accumulators
// of the missing rows are never touched, so no padding row is computed.
// Include only from files compiled with -mavx2 -mfma.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace kd::avx2_tile {

constexpr int kMr = 6, kNr = 16;

// Row i of the tile in r<i>0 (columns 0-7) and r<i>1 (8-15): named registers, not an array,
// which GCC would keep in memory across the k loop.
struct Tile {
  __m256 r00, r01, r10, r11, r20, r21, r30, r31, r40, r41, r50, r51;
};

// A as MR-high panels, k-major: A(i, p) at pa[p·6 + i] (gemm_detail::packA<6>).
struct PackedA {
  const float* pa;
  __m256 broadcast(int p, int i) const { return _mm256_broadcast_ss(pa + p * kMr + i); }
  void advance(int steps) { pa += steps * kMr; }
  void prefetchAhead() const { _mm_prefetch(reinterpret_cast<const char*>(pa + 24 * kMr), _MM_HINT_T0); }
};

// A as six rows, each contiguous in k: A(i, p) at row[i][p].
struct RowsA {
  const float* const* row;
  int64_t p0 = 0;
  __m256 broadcast(int p, int i) const { return _mm256_broadcast_ss(row[i] + p0 + p); }
  void advance(int steps) { p0 += steps; }
  void prefetchAhead() const {}
};

// A read in place with any strides: A(i, p) at a[i·rs + p·cs].
struct StridedA {
  const float* a;
  int64_t rs, cs;
  __m256 broadcast(int p, int i) const { return _mm256_broadcast_ss(a + p * cs + i * rs); }
  void advance(int steps) { a += steps * cs; }
  void prefetchAhead() const {}
};

// B as NR-wide panels, k-major and 32-byte aligned: B(p, j) at pb[p·16 + j].
struct PackedB {
  const float* pb;
  __m256 load(int p, int half) const { return _mm256_load_ps(pb + p * kNr + half * 8); }
  void advance(int steps) { pb += steps * kNr; }
};

// B rows read in place from an image: B(p, j) at image[offset[p] + j], unaligned.
struct OffsetB {
  const float* image;
  const int64_t* offset;
  __m256 load(int p, int half) const { return _mm256_loadu_ps(image + offset[p] + half * 8); }
  void advance(int steps) { offset += steps; }
};

// B rows read in place: B(p, j) at b[p·ldb + j], unaligned.
struct RowsB {
  const float* b;
  int64_t ldb;
  __m256 load(int p, int half) const { return _mm256_loadu_ps(b + p * ldb + half * 8); }
  void advance(int steps) { b += steps * ldb; }
};

// Lane masks for the first `cols` (0..16) of 16 columns: all ones in a lane that is kept.
struct ColumnMask {
  __m256i lo, hi;
  explicit ColumnMask(int cols) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane);
    hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), lane);
  }
};

// RowsB for a tile narrower than 16: columns past the edge load as zero and are never read.
struct MaskedRowsB {
  const float* b;
  int64_t ldb;
  ColumnMask mask;
  __m256 load(int p, int half) const {
    return _mm256_maskload_ps(b + p * ldb + half * 8, half ? mask.hi : mask.lo);
  }
  void advance(int steps) { b += steps * ldb; }
};

// One k step for the first Rows rows of the tile.
template <int Rows = kMr, class A, class B>
inline void fmaStep(Tile& t, const A& a, const B& b, int p) {
  static_assert(Rows >= 1 && Rows <= kMr, "a tile has 1 to 6 rows");
  const __m256 b0 = b.load(p, 0), b1 = b.load(p, 1);
  __m256 ai = a.broadcast(p, 0);
  t.r00 = _mm256_fmadd_ps(ai, b0, t.r00); t.r01 = _mm256_fmadd_ps(ai, b1, t.r01);
  if constexpr (Rows > 1) {
    ai = a.broadcast(p, 1);
    t.r10 = _mm256_fmadd_ps(ai, b0, t.r10); t.r11 = _mm256_fmadd_ps(ai, b1, t.r11);
  }
  if constexpr (Rows > 2) {
    ai = a.broadcast(p, 2);
    t.r20 = _mm256_fmadd_ps(ai, b0, t.r20); t.r21 = _mm256_fmadd_ps(ai, b1, t.r21);
  }
  if constexpr (Rows > 3) {
    ai = a.broadcast(p, 3);
    t.r30 = _mm256_fmadd_ps(ai, b0, t.r30); t.r31 = _mm256_fmadd_ps(ai, b1, t.r31);
  }
  if constexpr (Rows > 4) {
    ai = a.broadcast(p, 4);
    t.r40 = _mm256_fmadd_ps(ai, b0, t.r40); t.r41 = _mm256_fmadd_ps(ai, b1, t.r41);
  }
  if constexpr (Rows > 5) {
    ai = a.broadcast(p, 5);
    t.r50 = _mm256_fmadd_ps(ai, b0, t.r50); t.r51 = _mm256_fmadd_ps(ai, b1, t.r51);
  }
}

inline Tile zeroTile() {
  const __m256 z = _mm256_setzero_ps();
  return Tile{z, z, z, z, z, z, z, z, z, z, z, z};
}

// The tile of C (rows ldc apart).
inline Tile loadTile(const float* c, int64_t ldc) {
  auto at = [&](int i, int h) { return _mm256_loadu_ps(c + i * ldc + h * 8); };
  return Tile{at(0, 0), at(0, 1), at(1, 0), at(1, 1), at(2, 0), at(2, 1),
              at(3, 0), at(3, 1), at(4, 0), at(4, 1), at(5, 0), at(5, 1)};
}

// t + A (6 × kc) · B (kc × 16), k steps unrolled by `Unroll` (4 for packed operands; 1 for B
// read in place, where unrolling hoists the next step's B loads and spills accumulators).
template <int Unroll, int Rows = kMr, class A, class B>
inline Tile multiplyAdd(Tile t, int64_t kc, A a, B b) {
  int64_t p = 0;
  if constexpr (Unroll > 1) {
    for (; p + Unroll <= kc; p += Unroll) {
      a.prefetchAhead();
      for (int u = 0; u < Unroll; ++u) fmaStep<Rows>(t, a, b, u);
      a.advance(Unroll);
      b.advance(Unroll);
    }
  }
  for (; p < kc; ++p) {
    fmaStep<Rows>(t, a, b, 0);
    a.advance(1);
    b.advance(1);
  }
  return t;
}

// 16 floats of C = (alpha · (x0, x1) + beta · Cin) + bias, Cin read at c + cIn (GemmArgs::cIn;
// 0: C itself); beta == 0 means Cin is not read, a null bias adds nothing.
inline void storeRow(float* c, __m256 x0, __m256 x1, __m256 alpha, float beta, const float* bias, int64_t cIn = 0) {
  if (beta == 0.0f) {
    x0 = _mm256_mul_ps(alpha, x0);
    x1 = _mm256_mul_ps(alpha, x1);
  } else if (beta == 1.0f) {
    x0 = _mm256_fmadd_ps(alpha, x0, _mm256_loadu_ps(c + cIn));
    x1 = _mm256_fmadd_ps(alpha, x1, _mm256_loadu_ps(c + cIn + 8));
  } else {
    // Broadcast here, not before the k loop: a 16th live register there would spill.
    const __m256 vb = _mm256_set1_ps(beta);
    x0 = _mm256_fmadd_ps(alpha, x0, _mm256_mul_ps(vb, _mm256_loadu_ps(c + cIn)));
    x1 = _mm256_fmadd_ps(alpha, x1, _mm256_mul_ps(vb, _mm256_loadu_ps(c + cIn + 8)));
  }
  if (bias) {
    x0 = _mm256_add_ps(x0, _mm256_loadu_ps(bias));
    x1 = _mm256_add_ps(x1, _mm256_loadu_ps(bias + 8));
  }
  _mm256_storeu_ps(c, x0);
  _mm256_storeu_ps(c + 8, x1);
}

// C (rows ldc apart) = (alpha · tile + beta · Cin) + bias (16 floats, or null), Cin at c + cIn;
// beta == 0 means Cin is not read.
inline void store(const Tile& t, float* c, int64_t ldc, float alpha, float beta, const float* bias = nullptr,
                  int64_t cIn = 0) {
  const __m256 va = _mm256_set1_ps(alpha);
  storeRow(c + 0 * ldc, t.r00, t.r01, va, beta, bias, cIn);
  storeRow(c + 1 * ldc, t.r10, t.r11, va, beta, bias, cIn);
  storeRow(c + 2 * ldc, t.r20, t.r21, va, beta, bias, cIn);
  storeRow(c + 3 * ldc, t.r30, t.r31, va, beta, bias, cIn);
  storeRow(c + 4 * ldc, t.r40, t.r41, va, beta, bias, cIn);
  storeRow(c + 5 * ldc, t.r50, t.r51, va, beta, bias, cIn);
}

// The first `cols` of 16 floats of C = (alpha · (x0, x1) + beta · Cin) + bias, Cin at c + cIn;
// beta == 0 means Cin is not read, a null bias adds nothing.
inline void storeRowMasked(float* c, __m256 x0, __m256 x1, __m256 alpha, float beta, const float* bias,
                           const ColumnMask& mask, int64_t cIn) {
  x0 = _mm256_mul_ps(alpha, x0);
  x1 = _mm256_mul_ps(alpha, x1);
  if (beta != 0.0f) {
    const __m256 vb = _mm256_set1_ps(beta);
    x0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(c + cIn, mask.lo), x0);
    x1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(c + cIn + 8, mask.hi), x1);
  }
  if (bias) {
    x0 = _mm256_add_ps(x0, _mm256_maskload_ps(bias, mask.lo));
    x1 = _mm256_add_ps(x1, _mm256_maskload_ps(bias + 8, mask.hi));
  }
  _mm256_maskstore_ps(c, mask.lo, x0);
  _mm256_maskstore_ps(c + 8, mask.hi, x1);
}

// The first Rows rows and `cols` columns of C (rows ldc apart) = (alpha · tile + beta · Cin) + bias
// (`cols` floats, or null), Cin at c + cIn; beta == 0 means Cin is not read. Nothing outside those
// rows and columns is read or written.
template <int Rows>
inline void storeEdge(const Tile& t, float* c, int64_t ldc, int cols, float alpha, float beta, const float* bias,
                      int64_t cIn) {
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 rows[kMr][2] = {{t.r00, t.r01}, {t.r10, t.r11}, {t.r20, t.r21},
                               {t.r30, t.r31}, {t.r40, t.r41}, {t.r50, t.r51}};
  if (cols == kNr) {
    for (int i = 0; i < Rows; ++i) storeRow(c + i * ldc, rows[i][0], rows[i][1], va, beta, bias, cIn);
  } else {
    const ColumnMask mask(cols);
    for (int i = 0; i < Rows; ++i) storeRowMasked(c + i * ldc, rows[i][0], rows[i][1], va, beta, bias, mask, cIn);
  }
}

// C (rows ldc apart) = tile.
inline void store(const Tile& t, float* c, int64_t ldc) {
  _mm256_storeu_ps(c + 0 * ldc, t.r00); _mm256_storeu_ps(c + 0 * ldc + 8, t.r01);
  _mm256_storeu_ps(c + 1 * ldc, t.r10); _mm256_storeu_ps(c + 1 * ldc + 8, t.r11);
  _mm256_storeu_ps(c + 2 * ldc, t.r20); _mm256_storeu_ps(c + 2 * ldc + 8, t.r21);
  _mm256_storeu_ps(c + 3 * ldc, t.r30); _mm256_storeu_ps(c + 3 * ldc + 8, t.r31);
  _mm256_storeu_ps(c + 4 * ldc, t.r40); _mm256_storeu_ps(c + 4 * ldc + 8, t.r41);
  _mm256_storeu_ps(c + 5 * ldc, t.r50); _mm256_storeu_ps(c + 5 * ldc + 8, t.r51);
}

}  // namespace kd::avx2_tile
