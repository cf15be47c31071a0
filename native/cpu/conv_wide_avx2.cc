// A GEMM whose B operand is read straight out of an image: row p of B is the run of the image
// starting at offset[p] (a tap's shift). The "wide rows" convolution (conv_wide.cc) is exactly such a
// product, so it needs no packed copy of B: one image of a mid-sized CNN layer (32 channels of
// 13×13 is 21 KiB) stays in L1 while every output channel is computed from it. Packing B cost a
// quarter of the layer's time, because with 64 output channels each packed value is used only
// 64 times.
#include <algorithm>

#include "cpu/conv_wide.h"
#include "cpu/gemm_avx2_tile.h"

namespace kd::conv_wide {
namespace {

using avx2_tile::kMr;
using avx2_tile::kNr;

// c[6][16] (+)= sum over p of pa[p·6 + i] · b[offset[p] + j].
void gatherKernel(int64_t kc, const float* __restrict pa, const float* __restrict b, const int64_t* __restrict offset,
                  float* __restrict c, int64_t ldc, bool accumulate) {
  const avx2_tile::Tile t =
      avx2_tile::multiplyAdd<1>(avx2_tile::zeroTile(), kc, avx2_tile::PackedA{pa}, avx2_tile::OffsetB{b, offset});
  avx2_tile::store(t, c, ldc, 1.0f, accumulate ? 1.0f : 0.0f);
}

// c[6][16] += sum over p of rows[i][p] · pb[p·16 + j]: A read from six runs of the image.
void rowsKernel(int64_t kc, const float* const* rows, const float* __restrict pb, float* __restrict c, int64_t ldc) {
  const avx2_tile::Tile t =
      avx2_tile::multiplyAdd<1>(avx2_tile::loadTile(c, ldc), kc, avx2_tile::RowsA{rows}, avx2_tile::PackedB{pb});
  avx2_tile::store(t, c, ldc);
}

}  // namespace

void gatherGemmAvx2(int64_t mPanels, int64_t k, int64_t kc, const float* packedA, const float* image,
                    const int64_t* offset, int64_t nPanels, float* c, int64_t ldc) {
  // k in blocks of kc (the caller sizes them so that the image rows a block reads fit in L1);
  // within a block, column panels outer: those rows stay in L1 while the A panels stream from L2.
  for (int64_t p0 = 0; p0 < k; p0 += kc) {
    const int64_t kb = std::min(kc, k - p0);
    for (int64_t jr = 0; jr < nPanels; ++jr)
      for (int64_t ir = 0; ir < mPanels; ++ir)
        gatherKernel(kb, packedA + ir * kMr * k + p0 * kMr, image + jr * kNr, offset + p0,
                     c + ir * kMr * ldc + jr * kNr, ldc, p0 > 0);
  }
}

void rowsGemmAvx2(int64_t rows, int64_t kc, const float* image, const int64_t* offset, const float* zeros,
                  const float* packedB, int64_t nPanels, float* c, int64_t ldc) {
  // B panel outer: it (kc·16 floats) and the image stay in L1 while every row panel passes.
  for (int64_t jr = 0; jr < nPanels; ++jr)
    for (int64_t i0 = 0; i0 < rows; i0 += kMr) {
      const float* a[kMr];
      for (int i = 0; i < kMr; ++i) a[i] = i0 + i < rows ? image + offset[i0 + i] : zeros;
      rowsKernel(kc, a, packedB + jr * kc * kNr, c + i0 * ldc + jr * kNr, ldc);
    }
}

}  // namespace kd::conv_wide
