// AVX2+FMA micro-kernel: the 6×16 tile of gemm_avx2_tile.h over packed panels of A and B.
// Blocking for Zen 3 (32 KiB L1d, 512 KiB L2 per core): the kc×16 B micro-panel (16 KiB at
// kc = 256) stays in L1 across the row panels of one A block; the mc×kc A block (120 KiB at
// mc = 120) stays in L2 with room for streaming B and C; the kc×nc B block lives in L3.
// (Measured on Zen 3: mc 120 beat 96, 144, 168, 240; kc 256 beat 192, 320, 384.)
#include "cpu/gemm_avx2_tile.h"
#include "cpu/gemm_micro_kernel.h"
#include "cpu/gemm_small.h"

namespace kd::gemm_detail {
namespace {

using avx2_tile::kMr;
using avx2_tile::kNr;

void microKernel6x16(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                     int64_t ldc, float alpha, float beta, const float* bias, int64_t cIn) {
  for (int i = 0; i < kMr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  if (cIn != 0 && beta != 0.0f)
    for (int i = 0; i < kMr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + cIn + i * ldc), _MM_HINT_T0);
  const avx2_tile::Tile t =
      avx2_tile::multiplyAdd<4>(avx2_tile::zeroTile(), kc, avx2_tile::PackedA{pa}, avx2_tile::PackedB{pb});
  avx2_tile::store(t, c, ldc, alpha, beta, bias, cIn);
}

// The same, prefetching one line of the next packing's source into L2 every 8 k steps
// (gemm_blocked.h, PackAhead). Both alternated in one process on an AVX-512 Xeon running the AVX2
// kernels, operands evicted before each call: the GPT step's products 1.02-1.08×; warm 1.01-1.05×.
void microKernel6x16Ahead(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                          int64_t ldc, float alpha, float beta, const float* bias, int64_t cIn,
                          const AheadLines& ahead) {
  for (int i = 0; i < kMr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  if (cIn != 0 && beta != 0.0f)
    for (int i = 0; i < kMr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + cIn + i * ldc), _MM_HINT_T0);
  AheadCursor cursor(ahead);
  avx2_tile::Tile t = avx2_tile::zeroTile();
  int64_t p = 0;
  for (; p + 8 <= kc; p += 8, pa += 8 * kMr, pb += 8 * kNr) {
    cursor.fetchNext();
    t = avx2_tile::multiplyAdd<4>(t, 8, avx2_tile::PackedA{pa}, avx2_tile::PackedB{pb});
  }
  t = avx2_tile::multiplyAdd<4>(t, kc - p, avx2_tile::PackedA{pa}, avx2_tile::PackedB{pb});
  avx2_tile::store(t, c, ldc, alpha, beta, bias, cIn);
}

// The small path's tile: Rows × cols of C from A and B read in place (or B from a packed panel,
// which is the same layout with ldb = 16), k steps not unrolled (see multiplyAdd).
template <int Rows>
struct SmallTileKernel {
  static void run(const SmallTile& t) {
    const avx2_tile::StridedA a{t.a, t.ars, t.acs};
    const avx2_tile::Tile acc =
        t.cols == kNr
            ? avx2_tile::multiplyAdd<1, Rows>(avx2_tile::zeroTile(), t.k, a, avx2_tile::RowsB{t.b, t.ldb})
            : avx2_tile::multiplyAdd<1, Rows>(avx2_tile::zeroTile(), t.k, a,
                                              avx2_tile::MaskedRowsB{t.b, t.ldb, avx2_tile::ColumnMask(t.cols)});
    avx2_tile::storeEdge<Rows>(acc, t.c, t.ldc, t.cols, t.alpha, t.beta, t.bias, t.cIn);
  }
};

void smallGemm(const SmallGemm& g) {
  static constexpr auto tiles = smallTileTable<SmallTileKernel>(std::make_integer_sequence<int, kMr>());
  smallGemmLoop<kMr, kNr>(g, tiles);
}

}  // namespace

const MicroKernel& microKernelAvx2() {
  static const MicroKernel kernel{microKernel6x16, kMr, kNr, 120, 256, 4080, "avx2 6x16", false,
                                  microKernel6x16Ahead};
  return kernel;
}

const SmallKernel& smallKernelAvx2() {
  // Measured on the same Xeon under KINDLING_CPU_ISA=avx2: ahead at 64×128×64 (1.07×) and 128³,
  // level to 6% behind at 128×784×64 and 256×784×128, so the limit sits between them.
  static const SmallKernel kernel{smallGemm, kMr, kNr, 4.0 * 1024 * 1024, "avx2 small 6x16"};
  return kernel;
}

}  // namespace kd::gemm_detail
