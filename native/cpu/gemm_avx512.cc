// AVX-512 micro-kernel: a 14×32 tile of C held in 28 zmm accumulators (14 rows × 2 vectors of 16).
// Per k step: 2 aligned loads of B and 14 embedded broadcasts of A feed 28 FMAs, so loads stay
// well under the FMA rate; 28 + 2 = 30 of the 32 zmm registers.
// Blocking: kc = 256, so the transformer's K = 256 products run as one k block (C written once,
// never re-read), and the loops run with streamB (gemm_micro_kernel.h): the kc×14 A micro-panel
// (14 KiB) stays in L1 while the kc×32 B micro-panels (32 KiB each) stream past it from L2, each
// prefetched 16 k steps (2 KiB) ahead in the kernel; nc = 1024 keeps the kc×nc B block (1 MiB) in
// L2 beside the mc×kc A block (336 KiB at mc = 336). Measured on a 48 KiB-L1d / 2 MiB-L2 Xeon
// against the previous order (B micro-panel held in L1, A panels streamed, kc 512, nc 4096),
// both builds in one process with their calls alternated, medians: the twelve GPT-bench products
// and 2048³ 1.00-1.06× (mean 1.04×) on 1 thread and 1.00-1.08× (mean 1.03×) on 2. Earlier,
// with the old order: kc 192 → 512 had taken 2048x1024x256 from 178 to 187-207 GFLOP/s (kc 192
// left C re-read between k blocks, as kc 256 now does for K = 512-2048).
// Below it, the small path's tiles (gemm_small.h): up to 14×32 of C, A and B read in place.
#include <immintrin.h>

#include "cpu/gemm_micro_kernel.h"
#include "cpu/gemm_small.h"

namespace kd::gemm_detail {
namespace {

constexpr int kMr = 14, kNr = 32;

// One k step: row p of the A panel (14 broadcasts) times row p of the B panel (2 vectors).
__attribute__((always_inline)) inline void fmaStep(__m512 (&acc)[kMr][2], const float* pa, const float* pb) {
  const __m512 b0 = _mm512_load_ps(pb);
  const __m512 b1 = _mm512_load_ps(pb + 16);
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    const __m512 a = _mm512_set1_ps(pa[i]);
    acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
    acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
  }
}

template <bool WithAhead>
inline void microKernelBody(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c, int64_t ldc,
                            float alpha, float beta, const float* bias, int64_t cIn, const AheadLines* ahead) {
  __m512 acc[kMr][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    acc[i][0] = _mm512_setzero_ps();
    acc[i][1] = _mm512_setzero_ps();
  }
  // The first 14 k steps each prefetch one row of the tile's C (two lines). C is often cold (a
  // fresh output); 28 prefetches at once would hold every L1 fill buffer while the B panel
  // streams from L2. Measured with C cold and hot, 1 thread: level to 4% faster than all at once.
  // An addend read from elsewhere (cIn, GemmArgs::cIn) is prefetched the same way.
  int64_t p = 0;
  if (cIn != 0 && beta != 0.0f) {
    for (; p < kMr && p < kc; ++p, pa += kMr, pb += kNr) {
      _mm_prefetch(reinterpret_cast<const char*>(c + p * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + p * ldc + 31), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + cIn + p * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + cIn + p * ldc + 31), _MM_HINT_T0);
      fmaStep(acc, pa, pb);
    }
  }
  for (; p < kMr && p < kc; ++p, pa += kMr, pb += kNr) {
    _mm_prefetch(reinterpret_cast<const char*>(c + p * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + p * ldc + 31), _MM_HINT_T0);
    fmaStep(acc, pa, pb);
  }
  // Then the B micro-panel 16 k steps ahead (two lines per step): it streams from L2 while the
  // A micro-panel stays in L1 (streamB). With ahead, also one line of the next packing's source
  // into L2 every 4 k steps (gemm_blocked.h, PackAhead): a few in flight at a time, not a burst
  // (every 8 left the weight gradients' lines over: 0.96-0.98× on them, the rest level).
  if constexpr (WithAhead) {
    AheadCursor cursor(*ahead);
    for (; p < kc; ++p, pa += kMr, pb += kNr) {
      if ((p & 3) == 0) cursor.fetchNext();
      _mm_prefetch(reinterpret_cast<const char*>(pb + 16 * kNr), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(pb + 16 * kNr + 16), _MM_HINT_T0);
      fmaStep(acc, pa, pb);
    }
  }
  for (; p < kc; ++p, pa += kMr, pb += kNr) {
    _mm_prefetch(reinterpret_cast<const char*>(pb + 16 * kNr), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(pb + 16 * kNr + 16), _MM_HINT_T0);
    fmaStep(acc, pa, pb);
  }

  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    __m512 x0 = _mm512_mul_ps(va, acc[i][0]), x1 = _mm512_mul_ps(va, acc[i][1]);
    if (beta != 0.0f) {
      x0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row + cIn), x0);
      x1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row + cIn + 16), x1);
    }
    if (bias) {
      x0 = _mm512_add_ps(x0, bias0);
      x1 = _mm512_add_ps(x1, bias1);
    }
    _mm512_storeu_ps(row, x0);
    _mm512_storeu_ps(row + 16, x1);
  }
}

void microKernel14x32(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                      int64_t ldc, float alpha, float beta, const float* bias, int64_t cIn) {
  microKernelBody<false>(kc, pa, pb, c, ldc, alpha, beta, bias, cIn, nullptr);
}

void microKernel14x32Ahead(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                           int64_t ldc, float alpha, float beta, const float* bias, int64_t cIn,
                           const AheadLines& ahead) {
  microKernelBody<true>(kc, pa, pb, c, ldc, alpha, beta, bias, cIn, &ahead);
}

// The 16×16 transpose of r[0..15] (row i, column j → row j, column i): unpacks, in-lane
// shuffles, then two rounds of 128-bit lane shuffles; 64 shuffles for 256 floats, where SSE's 4×4
// transposes take 128 plus four times the loads and stores.
inline void transpose16x16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

// MicroKernel::packRowPanel: 16 k steps at a time, the 14 rows' 16 floats each (one load per row)
// transposed as 16×16 with two zero rows, then the 16 panel rows of 14 floats stored in order
// (each full store's last two floats are overwritten by the next row's; the last one masked).
// From L2 (what the look-ahead leaves there), 1.2× the SSE transposes' rate; the step's products
// 1.00-1.02× (alternated in one process, 1 thread).
void packRowPanel14(int64_t kc, const float* src, int64_t rs, float* dst) {
  int64_t p = 0;
  for (; p + 16 <= kc; p += 16) {
    __m512 r[16];
    for (int i = 0; i < kMr; ++i) r[i] = _mm512_loadu_ps(src + i * rs + p);
    r[14] = r[15] = _mm512_setzero_ps();
    transpose16x16(r);
    for (int q = 0; q < 15; ++q) _mm512_storeu_ps(dst + (p + q) * kMr, r[q]);
    _mm512_mask_storeu_ps(dst + (p + 15) * kMr, static_cast<__mmask16>((1u << kMr) - 1), r[15]);
  }
  for (; p < kc; ++p)
    for (int i = 0; i < kMr; ++i) dst[p * kMr + i] = src[i * rs + p];
}

}  // namespace

const MicroKernel& microKernelAvx512() {
  static const MicroKernel kernel{microKernel14x32, kMr, kNr, 336, 256, 1024, "avx512 14x32", true,
                                  microKernel14x32Ahead, packRowPanel14};
  return kernel;
}

}  // namespace kd::gemm_detail

// ---- The small path (gemm_small.h): 14×32 tiles with A and B read in place ------------------------
// 14 rows, as the packed kernel: for m = 64 that is four tiles of 14 and one compiled for 8 rows, no
// padding. Measured at 64×128×64 (1 thread): 8×32 tiles 189-200 GFLOP/s, 12×32 190-209, 14×32
// 193-209. A's rows come from two base pointers (rows 0-6 and 7-13 share offsets), so the general-
// stride tile keeps its row offsets in registers instead of spilling them.

namespace kd::gemm_detail {
namespace {

constexpr int kSmallMr = 14, kSmallNr = 32;

// Rows×(16·Vecs) of C from A (in place: broadcasts, rows ars apart, or adjacent when UnitRows)
// and B (rows ldb apart); the last vector of each row is masked to `tail` columns.
template <int Rows, int Vecs, bool UnitRows>
inline void smallTileBody(const SmallTile& t, __mmask16 tail) {
  __m512 acc[Rows][Vecs];
#pragma GCC unroll 16
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v) acc[i][v] = _mm512_setzero_ps();
  // Rows from two bases, the second half of the tile at `a2`, so they share offsets 0..Half-1 rows.
  constexpr int Half = (Rows + 1) / 2;
  const int64_t ars = UnitRows ? 1 : t.ars, acs = t.acs, ldb = t.ldb, k = t.k;
  const float* a = t.a;
  const float* a2 = t.a + Half * ars;
  const float* b = t.b;
#pragma GCC unroll 2
  for (int64_t p = 0; p < k; ++p) {
    __m512 bv[Vecs];
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v)
      bv[v] = v == Vecs - 1 ? _mm512_maskz_loadu_ps(tail, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < Rows; ++i) {
      const __m512 ai = _mm512_set1_ps(i < Half ? a[i * ars] : a2[(i - Half) * ars]);
#pragma GCC unroll 2
      for (int v = 0; v < Vecs; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += acs;
    a2 += acs;
    b += ldb;
  }
  const __m512 va = _mm512_set1_ps(t.alpha);
#pragma GCC unroll 16
  for (int i = 0; i < Rows; ++i) {
    float* row = t.c + i * t.ldc;
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v) {
      const __mmask16 mask = v == Vecs - 1 ? tail : static_cast<__mmask16>(0xFFFF);
      __m512 x = _mm512_mul_ps(va, acc[i][v]);
      if (t.beta != 0.0f)
        x = _mm512_fmadd_ps(_mm512_set1_ps(t.beta), _mm512_maskz_loadu_ps(mask, row + t.cIn + 16 * v), x);
      if (t.bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, t.bias + 16 * v));
      _mm512_mask_storeu_ps(row + 16 * v, mask, x);
    }
  }
}

template <bool UnitRows>
struct SmallTiles {
  template <int Rows>
  struct Kernel {
    static void run(const SmallTile& t) {
      if (t.cols > 16)
        smallTileBody<Rows, 2, UnitRows>(t, static_cast<__mmask16>((1u << (t.cols - 16)) - 1));
      else
        smallTileBody<Rows, 1, UnitRows>(t, static_cast<__mmask16>((1u << t.cols) - 1));
    }
  };
};

void smallGemm(const SmallGemm& g) {
  static constexpr auto unitRows = smallTileTable<SmallTiles<true>::Kernel>(std::make_integer_sequence<int, kSmallMr>());
  static constexpr auto anyRows = smallTileTable<SmallTiles<false>::Kernel>(std::make_integer_sequence<int, kSmallMr>());
  if (g.a.rs == 1)
    smallGemmLoop<kSmallMr, kSmallNr>(g, unitRows);
  else
    smallGemmLoop<kSmallMr, kSmallNr>(g, anyRows);
}

}  // namespace

const SmallKernel& smallKernelAvx512() {
  // Measured on an AVX-512 Xeon (1 thread): ahead of the packed path up to 384³ and the 256×784×128
  // Linear (1.05-1.3×), behind from 512³.
  static const SmallKernel kernel{smallGemm, kSmallMr, kSmallNr, 32.0 * 1024 * 1024, "avx512 small 14x32"};
  return kernel;
}

}  // namespace kd::gemm_detail
