// AVX2 rows of the 2×2, stride-2 max pool (the pooling every small CNN uses), eight outputs per
// step. A window's two input rows are loaded as 16 floats each and split into even and odd
// columns, so the four taps of eight windows sit in four registers. Same tie and NaN rules as
// the scalar kernel: taps in row-major order, a later tap wins if greater or NaN.
#include <immintrin.h>

#include "cpu/pool_rows.h"

namespace kd::pool_rows {
namespace {

// Lanes [0, count) set (count clamped to [0, 8]): masks for the row's last, partial group.
inline __m256i firstLanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(count)), _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0));
}

// Even and odd columns of p[0, 2·lanes): the window's left and right taps for `lanes` outputs.
// Masked loads read nothing past the row's end.
inline void splitColumns(const float* p, int64_t lanes, __m256& even, __m256& odd) {
  __m256 a, b;
  if (lanes == 8) {
    a = _mm256_loadu_ps(p);
    b = _mm256_loadu_ps(p + 8);
  } else {
    a = _mm256_maskload_ps(p, firstLanes(2 * lanes));
    b = _mm256_maskload_ps(p + 8, firstLanes(2 * lanes - 8));
  }
  // shuffle keeps 128-bit lanes: (a0 a2 b0 b2 | a4 a6 b4 b6); the 64-bit permute restores order.
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

// Interleaves even/odd columns back into 2·lanes consecutive floats at p.
inline void storeColumns(float* p, int64_t lanes, __m256 even, __m256 odd) {
  const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
  const __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20), second = _mm256_permute2f128_ps(lo, hi, 0x31);
  if (lanes == 8) {
    _mm256_storeu_ps(p, first);
    _mm256_storeu_ps(p + 8, second);
  } else {
    _mm256_maskstore_ps(p, firstLanes(2 * lanes), first);
    _mm256_maskstore_ps(p + 8, firstLanes(2 * lanes - 8), second);
  }
}

inline void takeIfLarger(__m256 v, __m256i at, __m256& best, __m256i& bestAt) {
  const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  best = _mm256_blendv_ps(best, v, take);
  bestAt = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bestAt), _mm256_castsi256_ps(at), take));
}

// Plane index of the top-left tap of outputs ox .. ox+7.
inline __m256i topLeft(int32_t base, int64_t ox) {
  return _mm256_add_epi32(_mm256_set_epi32(14, 12, 10, 8, 6, 4, 2, 0), _mm256_set1_epi32(base + static_cast<int32_t>(2 * ox)));
}

}  // namespace

void maxPool2x2RowAvx2(const float* row0, const float* row1, int64_t ow, int32_t base, int32_t w, float* out,
                       int32_t* indices) {
  const __m256i one = _mm256_set1_epi32(1), down = _mm256_set1_epi32(w);
  for (int64_t ox = 0; ox < ow; ox += 8) {
    const int64_t lanes = ow - ox < 8 ? ow - ox : 8;
    __m256 e0, o0, e1, o1;
    splitColumns(row0 + 2 * ox, lanes, e0, o0);
    splitColumns(row1 + 2 * ox, lanes, e1, o1);
    const __m256i at00 = topLeft(base, ox);
    __m256 best = e0;
    __m256i bestAt = at00;
    takeIfLarger(o0, _mm256_add_epi32(at00, one), best, bestAt);
    takeIfLarger(e1, _mm256_add_epi32(at00, down), best, bestAt);
    takeIfLarger(o1, _mm256_add_epi32(_mm256_add_epi32(at00, down), one), best, bestAt);
    if (lanes == 8) {
      _mm256_storeu_ps(out + ox, best);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(indices + ox), bestAt);
    } else {
      const __m256i mask = firstLanes(lanes);
      _mm256_maskstore_ps(out + ox, mask, best);
      _mm256_maskstore_epi32(indices + ox, mask, bestAt);
    }
  }
}

bool maxPool2x2BackwardRowAvx2(const float* gradOut, const int32_t* indices, int64_t ow, int32_t base, int32_t w,
                               float* row0, float* row1) {
  const __m256i one = _mm256_set1_epi32(1), down = _mm256_set1_epi32(w);
  for (int64_t ox = 0; ox < ow; ox += 8) {
    const int64_t lanes = ow - ox < 8 ? ow - ox : 8;
    const __m256i mask = firstLanes(lanes);
    const __m256 g = _mm256_maskload_ps(gradOut + ox, mask);
    const __m256i at = _mm256_maskload_epi32(indices + ox, mask);
    const __m256i at00 = topLeft(base, ox), at10 = _mm256_add_epi32(at00, down);
    const __m256 m00 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(at, at00));
    const __m256 m01 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(at, _mm256_add_epi32(at00, one)));
    const __m256 m10 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(at, at10));
    const __m256 m11 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(at, _mm256_add_epi32(at10, one)));
    const __m256 inWindow = _mm256_or_ps(_mm256_or_ps(m00, m01), _mm256_or_ps(m10, m11));
    const int active = (1 << lanes) - 1;
    if ((_mm256_movemask_ps(inWindow) & active) != active) return false;
    storeColumns(row0 + 2 * ox, lanes, _mm256_and_ps(g, m00), _mm256_and_ps(g, m01));
    storeColumns(row1 + 2 * ox, lanes, _mm256_and_ps(g, m10), _mm256_and_ps(g, m11));
  }
  return true;
}

}  // namespace kd::pool_rows
