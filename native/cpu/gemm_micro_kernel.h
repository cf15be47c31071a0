// The micro-kernel interface between sgemm's blocked loop nest (gemm_blocked.h, gemm.cc) and the
// register tiles written once per ISA (gemm_scalar.cc, gemm_avx2.cc, gemm_avx512.cc).
#pragma once
#include <xmmintrin.h>  // _mm_prefetch (SSE, the x86-64 baseline)

#include <cstdint>

namespace kd::gemm_detail {

// A micro-kernel computes one MR×NR tile of C from packed panels:
//   pa: kc × MR, k-major (pa[p*MR + i] = A(i, p)), 64-byte aligned
//   pb: kc × NR, k-major (pb[p*NR + j] = B(p, j)), 64-byte aligned
//   c:  row-major tile, element (i, j) at c[i*ldc + j], unaligned
//   bias: null, or NR floats (unaligned) added to every row after the rest is summed
//   cIn: where the addend is, in floats from c (GemmArgs::cIn; 0: C itself)
// and writes C = (alpha * pa·pb + beta * Cin) + bias, Cin(i, j) at c[cIn + i*ldc + j]; beta == 0
// means Cin is not read.
using MicroKernelFn = void (*)(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc,
                               float alpha, float beta, const float* bias, int64_t cIn);

// Lines [begin, end) of a block of `rows` rows of A's source (lineRuns 64-byte lines each, rows rs
// floats apart, line l at p + (l / lineRuns) * rs + (l % lineRuns) * 16) that a micro-kernel with
// fnAhead prefetches into L2 while it runs, spread over its k steps.
struct AheadLines {
  const float* p;
  int64_t rs, lineRuns, begin, end;
};
// Walks an AheadLines range, prefetching one line into L2 per fetchNext (nothing once done).
struct AheadCursor {
  const float* p;
  int64_t rs, lineRuns, row, col, left;
  explicit AheadCursor(const AheadLines& a)
      : p(a.p), rs(a.rs), lineRuns(a.lineRuns), row(a.begin / a.lineRuns), col(a.begin % a.lineRuns),
        left(a.end - a.begin) {}
  void fetchNext() {
    if (left <= 0) return;
    _mm_prefetch(reinterpret_cast<const char*>(p + row * rs + col * 16), _MM_HINT_T1);
    --left;
    if (++col == lineRuns) col = 0, ++row;
  }
};

using MicroKernelAheadFn = void (*)(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc,
                                    float alpha, float beta, const float* bias, int64_t cIn, const AheadLines& ahead);

using RowPanelPackFn = void (*)(int64_t kc, const float* src, int64_t rs, float* dst);

// One ISA's register tile and the cache blocking tuned for it (mc % mr == 0, nc % nr == 0).
// streamB picks the order of the two innermost loops (gemm_blocked.h, multiplyPackedBlocks):
//   false: each kc×NR B micro-panel stays in L1 while the MR-high A panels of the block pass
//          under it (the kc×nc B block may then live in L3);
//   true:  each kc×MR A micro-panel stays in L1 while the B micro-panels of the block stream past
//          it from L2 (the kernel prefetches them), so the kc×nc B block must fit in L2 beside
//          the A block.
struct MicroKernel {
  MicroKernelFn fn;
  int mr, nr;
  int64_t mc, kc, nc;
  const char* name;
  bool streamB = false;
  MicroKernelAheadFn fnAhead = nullptr;  // fn that also prefetches AheadLines, or null
  // Packs MR whole rows (rs floats apart) × kc of a row-major A into one k-major panel
  // (dst[p*MR + i]) with the ISA's own transposes, or null (packRowMajorPanelA's SSE).
  RowPanelPackFn packRowPanel = nullptr;
};

const MicroKernel& microKernelScalar();  // gemm_scalar.cc, 4×8, any x86-64
const MicroKernel& microKernelAvx2();    // gemm_avx2.cc, 6×16 of ymm, needs AVX2+FMA
const MicroKernel& microKernelAvx512();  // gemm_avx512.cc, 14×32 of zmm, needs AVX-512F

}  // namespace kd::gemm_detail
