// The wide-rows engine for stride-1, unpadded, undilated convolutions with one group, and its
// AVX2 kernels (conv_wide_avx2.cc).
//
// A stride-1, unpadded, undilated convolution computed over "wide" output rows: positions
// (oy, ox) for ox in [0, w) instead of [0, ow). Then the patch row of tap (c, ky, kx) is the
// input image itself read from offset c·h·w + ky·w + kx, so the GEMM packs B straight from the
// input with no im2col buffer. The w − ow extra columns of each row are computed and dropped
// (forward) or meet a zero gradient (weight gradient; a non-finite input pixel there would leak
// a NaN into the weight gradient, where the exact path would not). Reads past an image's last
// element, which only junk columns make, are replaced by zeros. Worth it while ow/w >= 0.8.
#pragma once
#include <cstdint>

#include "common/conv.h"
#include "common/isa.h"
#include "cpu/conv_engine.h"

namespace kd::conv_wide {

// The geometry suits wide rows: see above (and ow/w >= 0.8, c·kh·kw >= 16, oh·w >= 64).
bool applies(const ConvGeometry& g, const ConvInput& x);

// The forward and the weight gradient (summed into sums.of(t) on each thread t; returns the
// number of threads that ran) for a geometry that applies. AVX2 runs the kernels below; the
// other ISAs pack B from the image into the blocked GEMM's panels (gemm_blocked.h).
void forward(CpuIsa isa, const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out);
int weightGrad(CpuIsa isa, const ConvGeometry& g, const ConvInput& x, const float* gradOut,
               conv_detail::WeightGradSums& sums);

// ---- AVX2 kernels (conv_wide_avx2.cc), on the 6×16 tile of gemm_avx2_tile.h ----------------------
// Panels of 6 rows and 16 columns (AVX2): c[mPanels·6][nPanels·16] (leading dimension ldc) =
// packedA (mPanels panels of 6×k, k-major, as gemm_detail::packA<6> writes them) × B, where
// B[p][j] = image[offset[p] + j], summed over k in blocks of kc. Reads image[offset[p] + j] for
// every j < nPanels·16, so the caller makes sure those lie in readable memory.
constexpr int kGatherMr = 6, kGatherNr = 16;
void gatherGemmAvx2(int64_t mPanels, int64_t k, int64_t kc, const float* packedA, const float* image,
                    const int64_t* offset, int64_t nPanels, float* c, int64_t ldc);

// c[ceil(rows/6)·6][nPanels·16] += A × packedB, where A[i][p] = image[offset[i] + p] for i < rows
// (zeros[p], kc floats of zero, past them) and packedB holds nPanels panels of kc×16, k-major.
void rowsGemmAvx2(int64_t rows, int64_t kc, const float* image, const int64_t* offset, const float* zeros,
                  const float* packedB, int64_t nPanels, float* c, int64_t ldc);

// The k block for gatherGemmAvx2 over whole channels of `tapsPerChannel` taps whose image plane
// is planeElems floats: as many channels as fit in about 12 KiB of L1.
inline int64_t gatherBlock(int64_t tapsPerChannel, int64_t planeElems) {
  const int64_t channels = planeElems > 0 ? (12 * 1024 / 4) / planeElems : 1;
  return tapsPerChannel * (channels > 1 ? channels : 1);
}

}  // namespace kd::conv_wide
