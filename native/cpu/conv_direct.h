// Direct convolution for a single input channel (the first layer of an image CNN: one grey
// channel, a few taps), where the GEMM view has K = kh·kw (9) and its micro-kernel would spend
// more time loading and storing C than multiplying. AVX2, vectorised along output columns.
#pragma once
#include <cstdint>

#include "cpu/conv.h"

namespace kd::conv_direct {

// One input channel, groups 1, stride 1, dilation 1, no padding, unit column stride, a 3×3 or
// 5×5 kernel (the caller also checks that the ISA has AVX2).
bool applies(const ConvGeometry& g, const ConvInput& x);

// out[n] for images [n0, n1) (contiguous [n, k, oh, ow]); bias may be null.
void forwardAvx2(const ConvGeometry& g, const ConvInput& x, const float* weight, const float* bias, float* out,
                 int64_t n0, int64_t n1);

// gradWeight rows of output channels [k0, k1) (overwritten) summed over the whole batch.
void weightGradAvx2(const ConvGeometry& g, const ConvInput& x, const float* gradOut, float* gradWeight, int64_t k0,
                    int64_t k1);

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

}  // namespace kd::conv_direct
