// The small-GEMM path: products too small to repay packing (the MLP's 64×128×64 gradients take
// about 5 µs, of which packing A and B took a sixth) are computed from the operands in place.
//   A: read in place with broadcasts, any strides.
//   B: read in place when its rows are contiguous (column stride 1), 16 or 32 floats per k step;
//      otherwise packed one NR-wide panel at a time into a buffer that stays in L1.
//   C: written in place (column stride 1), partial tiles with masked stores: a tile of r < MR rows
//      runs a kernel compiled for r rows, so no padding row or column is computed or written.
// Loop order: column panels of B outer, k in blocks of kSmallKc inside them, so one kc×NR panel
// stays in L1 while every row tile of A passes over it; A stays in L1/L2 across the panels (sgemm
// sends only products up to SmallKernel::maxMacs here). Later k blocks accumulate into C; the last
// adds the bias.
// Included by the ISA files (gemm_avx512.cc, gemm_avx2.cc), which supply the tile kernels.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "cpu/gemm_blocked.h"

namespace kd::gemm_detail {

// k is taken in blocks of at most this many, so a kc×NR panel of B stays in L1 (32 KiB at NR 32).
constexpr int64_t kSmallKc = 256;

// One thread's part of a small product: C = (alpha·A·B + beta·C) + bias, C with column stride 1;
// beta == 0 means C is not read; bias: null or n floats, one per column.
struct SmallGemm {
  int64_t m, n, k;
  ConstMat a, b;
  Mat c;
  float alpha, beta;
  const float* bias;
  int64_t cIn = 0;  // the addend beta scales, in floats from C (GemmArgs::cIn; 0: C itself)
};

using SmallGemmFn = void (*)(const SmallGemm&);

// An ISA's small path: the function, its tile (the unit sgemm splits C on between threads), and
// the largest product (m·n·k multiply-adds) it takes, measured against that ISA's packed path.
struct SmallKernel {
  SmallGemmFn fn;
  int mr, nr;
  double maxMacs;
  const char* name;
};

const SmallKernel& smallKernelAvx512();  // gemm_avx512.cc
const SmallKernel& smallKernelAvx2();    // gemm_avx2.cc

// A tile kernel's view of one MR×NR (or smaller) tile: A(i, p) at a[i*ars + p*acs], B(p, j) at
// b[p*ldb + j], C(i, j) at c[i*ldc + j], with `cols` (1..NR) valid columns; C = (alpha·A·B +
// beta·Cin) + bias, bias null or `cols` floats, Cin(i, j) at c[cIn + i*ldc + j].
struct SmallTile {
  int64_t k;
  const float* a;
  int64_t ars, acs;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
  int cols;
  float alpha, beta;
  const float* bias;
  int64_t cIn = 0;
};

using SmallTileFn = void (*)(const SmallTile&);

// tiles[r - 1] computes a tile of r rows; `Kernel<Rows>::run` is the ISA's tile body.
template <template <int> class Kernel, int... Rows>
constexpr auto smallTileTable(std::integer_sequence<int, Rows...>) {
  return std::array<SmallTileFn, sizeof...(Rows)>{&Kernel<Rows + 1>::run...};
}

// Whether a kc×NR panel of B, rows `ldb` floats apart, stays in a 12-way 32-48 KiB L1 when read in
// place. Rows whose byte stride shares a large power of two with 4 KiB fall into few cache sets:
// with ldb = 1024 every row maps to the same set pair and a panel of more than ~8 rows evicts
// itself, so such panels are packed instead.
inline bool panelFitsInPlace(int64_t kc, int64_t ldb) {
  const uint64_t strideBytes = static_cast<uint64_t>(ldb < 0 ? -ldb : ldb) * sizeof(float);
  const uint64_t setBytes = 4096;  // L1 bytes per way: rows this far apart share a set
  const uint64_t sharedPow2 = std::min<uint64_t>(setBytes, strideBytes & (~strideBytes + 1));
  const int64_t positions = static_cast<int64_t>(setBytes / std::max<uint64_t>(sharedPow2, 64));
  return kc <= 8 * positions;
}

// The loop nest above over tiles from `tiles` (MR entries, by row count), NR columns each.
template <int MR, int NR, class Tiles>
void smallGemmLoop(const SmallGemm& g, const Tiles& tiles) {
  const int64_t kcMax = balancedBlock(g.k, kSmallKc, 1);
  const bool bInPlace = g.b.cs == 1 && panelFitsInPlace(kcMax, g.b.rs);
  float* panel = bInPlace ? nullptr : threadPackBuffers().b.reserve(kcMax * NR);
  for (int64_t j = 0; j < g.n; j += NR) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, g.n - j));
    for (int64_t pc = 0; pc < g.k; pc += kcMax) {
      const int64_t kc = std::min(kcMax, g.k - pc);
      // Later k blocks accumulate; the last one adds the bias.
      SmallTile t{kc, nullptr, g.a.rs, g.a.cs, g.b.p + pc * g.b.rs + j, g.b.rs, nullptr, g.c.rs, cols, g.alpha,
                  pc == 0 ? g.beta : 1.0f, g.bias && pc + kc == g.k ? g.bias + j : nullptr, pc == 0 ? g.cIn : 0};
      if (!bInPlace) {
        packB<NR>(kc, cols, g.b.at(pc, j), panel);
        t.b = panel;
        t.ldb = NR;
      }
      for (int64_t i = 0; i < g.m; i += MR) {
        const int rows = static_cast<int>(std::min<int64_t>(MR, g.m - i));
        t.a = g.a.p + i * g.a.rs + pc * g.a.cs;
        t.c = g.c.p + i * g.c.rs + j;
        tiles[rows - 1](t);
      }
    }
  }
}

}  // namespace kd::gemm_detail
