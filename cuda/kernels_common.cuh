// Shared device machinery for the tiled matrix kernels (gemm.cu, conv.cu).
//
// One kernel template, tiledMatmulKernel<Math, Problem>, runs every matrix product here:
//   * a CTA of 256 threads (8 warps, 2 along M x 4 along N) owns a (32*MF) x (32*NF) tile of the
//     output: 128x128 for GEMM and wide convolutions, 64x128 for convolutions with <= 64 rows;
//   * K is walked in 64-byte slices (BK = 16 floats or 32 bf16/fp16 elements) through a
//     STAGES-deep ring of shared-memory tiles filled with cp.async, so the loads of slices
//     kt+1 .. kt+STAGES-1 are in flight while slice kt is multiplied (one barrier per slice);
//   * shared memory holds, per stage, one A tile (128 x BK) and one B tile (BK x 128), each in
//     the orientation its global layout copies in without transposition:
//       "K-contiguous" tile  [128 rows][BK + 16 bytes pad]  (k fastest),
//       "MN-contiguous" tile [BK rows][128 + 8 elems pad]    (m or n fastest);
//     the pads make the fragment reads below free of bank conflicts;
//   * Math decides how a warp multiplies a stage: MmaMath<T> uses mma.sync tensor-core
//     instructions (m16n8k8 TF32 for float, m16n8k16 for bf16/fp16) with fragments read by
//     ldmatrix (.trans for MN-contiguous 16-bit tiles; scalar reads for MN-contiguous TF32),
//     each warp owning (16*MF)x(8*NF) outputs = MFxNF mma tiles in registers; SimtMath is exact FP32 FMA,
//     each thread owning an 8x8 strided sub-block.
//   * Problem says where tiles come from (its ALoader/BLoader: dense strided matrices or the
//     implicit im2col gathers of convolution), which K range a CTA covers (split-K) and how
//     an output element is finished (epilogue: scale, bias, activation, atomic add...).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "check.cuh"

namespace kd::cuda::detail {

inline int multiprocessorCount() {
  int dev = 0, sms = 0;
  checkCuda(cudaGetDevice(&dev), "cudaGetDevice");
  checkCuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  return sms;
}

// ---- division by a run-time invariant: q = (umulhi(n, magic) + n) >> shift, valid for n < 2^31
struct FastDiv {
  uint32_t d, magic, shift;
};
inline FastDiv makeFastDiv(uint32_t d) {
  uint32_t l = 0;
  while ((uint64_t(1) << l) < d) ++l;
  uint64_t magic = ((uint64_t(1) << 32) * ((uint64_t(1) << l) - d)) / d + 1;
  return FastDiv{d, uint32_t(magic), l};
}
__host__ __device__ __forceinline__ int fastDiv(int n, const FastDiv& f) {
#ifdef __CUDA_ARCH__
  return int((__umulhi(uint32_t(n), f.magic) + uint32_t(n)) >> f.shift);
#else
  return int(((uint64_t(uint32_t(n)) * f.magic >> 32) + uint32_t(n)) >> f.shift);
#endif
}

// ---- PTX wrappers ----------------------------------------------------------------------------
__device__ __forceinline__ uint32_t smemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// 16-byte async copy; bytes past srcBytes are zero-filled (srcBytes = 0 reads nothing).
__device__ __forceinline__ void cpAsync16(void* dst, const void* src, int srcBytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smemAddr(dst)), "l"(src), "r"(srcBytes));
}
__device__ __forceinline__ void cpAsync4(void* dst, const void* src, int srcBytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smemAddr(dst)), "l"(src), "r"(srcBytes));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddr(p)));
}
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddr(p)));
}
__device__ __forceinline__ uint32_t toTf32(uint32_t bits) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(__uint_as_float(bits)));
  return r;
}
template <class T>
struct MmaOp;
// Pure register operations (not volatile), so the scheduler may interleave them with the
// fragment loads of the next k-step.
template <>
struct MmaOp<float> {  // m16n8k8, tf32 inputs, f32 accumulate
  static constexpr int K = 8;
  __device__ __forceinline__ static void run(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
};
template <>
struct MmaOp<__nv_bfloat16> {
  static constexpr int K = 16;
  __device__ __forceinline__ static void run(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
};
template <>
struct MmaOp<__half> {
  static constexpr int K = 16;
  __device__ __forceinline__ static void run(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
};

// ---- tile geometry ---------------------------------------------------------------------------
constexpr int kThreads = 256;

// Shared-memory tile of R rows (m or n) by BK (k). K-contiguous rows are padded by 16 bytes so
// that 8 consecutive rows start in 8 different 4-bank groups (ldmatrix conflict-free);
// MN-contiguous rows by 8 elements so that rows k..k+3 (TF32 scalar reads) or 8 rows of 16 bytes
// (ldmatrix.trans) land in distinct banks.
template <class T, bool KCONTIG, int R, int BK>
struct TileLayout {
  static constexpr int kPitch = KCONTIG ? BK + 16 / int(sizeof(T)) : R + 8;
  static constexpr int kElems = KCONTIG ? R * kPitch : BK * kPitch;
  __device__ __forceinline__ static int at(int r, int k) { return KCONTIG ? r * kPitch + k : k * kPitch + r; }
};

// Dense strided operand: element (r, k) at base[r*ld + k] (K-contiguous) or base[k*ld + r].
// vec: base, ld (and the batch stride) are 16-byte aligned, so 16-byte cp.async chunks are legal;
// otherwise elements are copied one by one (still zero-filled outside the matrix).
template <class T, bool KCONTIG, int R, int BK>
struct DenseLoader {
  static constexpr bool kContig = KCONTIG;
  using Layout = TileLayout<T, KCONTIG, R, BK>;
  static constexpr int kChunk = 16 / int(sizeof(T));  // elements per 16-byte chunk
  const T* base;
  int64_t ld;
  int rows, K;  // extent of the operand along r and k
  bool vec;
  int r0;  // first row of this CTA's tile

  __device__ __forceinline__ void load(T* s, int k0) const {
    constexpr int kChunks = R * BK / kChunk;
    static_assert(kChunks % kThreads == 0, "tile must split evenly over the threads");
#pragma unroll
    for (int i = 0; i < kChunks / kThreads; ++i) {
      const int c = threadIdx.x + i * kThreads;
      int r, k, n;
      T* dst;
      if constexpr (KCONTIG) {
        const int row = c / (BK / kChunk), kc = (c % (BK / kChunk)) * kChunk;
        r = r0 + row;
        k = k0 + kc;
        n = r < rows ? min(max(K - k, 0), kChunk) : 0;
        dst = s + Layout::at(row, kc);
      } else {
        const int kr = c / (R / kChunk), rc = (c % (R / kChunk)) * kChunk;
        r = r0 + rc;
        k = k0 + kr;
        n = k < K ? min(max(rows - r, 0), kChunk) : 0;
        dst = s + Layout::at(rc, kr);
      }
      const T* src = KCONTIG ? base + int64_t(r) * ld + k : base + int64_t(k) * ld + r;
      if (vec) {
        cpAsync16(dst, n > 0 ? src : base, n * int(sizeof(T)));
      } else if constexpr (sizeof(T) == 4) {
#pragma unroll
        for (int e = 0; e < kChunk; ++e) cpAsync4(dst + e, e < n ? src + e : base, e < n ? 4 : 0);
      } else {
        // 16-bit elements at odd addresses: no async copy narrower than 4 bytes exists.
        const uint16_t* s16 = reinterpret_cast<const uint16_t*>(src);
        uint16_t* d16 = reinterpret_cast<uint16_t*>(dst);
#pragma unroll
        for (int e = 0; e < kChunk; ++e) d16[e] = e < n ? s16[e] : uint16_t(0);
      }
    }
  }
};

// ---- per-warp math on one shared-memory stage ------------------------------------------------
// MF x NF mma tiles (16 rows x 8 columns each) per warp; warps 2 along M x 4 along N, so the
// CTA tile is (32*MF) x (32*NF). MIN_BLOCKS caps registers so that many CTAs share an SM.
template <class T_, int MF, int NF, int MIN_BLOCKS>
struct MmaMath {
  using T = T_;
  static constexpr int BK = 64 / int(sizeof(T));
  static constexpr int kStages = 4;
  static constexpr int kMF = MF, kNF = NF;
  static constexpr int kTileM = 32 * MF, kTileN = 32 * NF, kMinBlocks = MIN_BLOCKS;
  struct Acc {
    float v[kMF][kNF][4];
  };
  __device__ __forceinline__ static void zero(Acc& acc) {
#pragma unroll
    for (int i = 0; i < kMF; ++i)
#pragma unroll
      for (int j = 0; j < kNF; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc.v[i][j][e] = 0.f;
  }

  // Fragment layouts (PTX ISA, mma.m16n8k16 / m16n8k8): lane = 4*g + t. A (16 x k) a0..a3 hold
  // rows g / g+8 at k-columns t-based; B (k x 8) b0,b1 hold column g; ldmatrix with lanes 8j..8j+7
  // pointing at the 8 rows of matrix j delivers exactly these registers.
  template <bool AK, bool BKC>
  __device__ __forceinline__ static void compute(Acc& acc, const T* sA, const T* sB) {
    using LA = TileLayout<T, AK, kTileM, BK>;
    using LB = TileLayout<T, BKC, kTileN, BK>;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int wm = (warp >> 2) * 16 * MF, wn = (warp & 3) * 8 * NF;
    const int j = lane >> 3, r = lane & 7, g = lane >> 2, t = lane & 3;
    constexpr bool kTf32 = sizeof(T) == 4;
#pragma unroll
    for (int kk = 0; kk < BK; kk += MmaOp<T>::K) {
      uint32_t a[kMF][4], b[kNF][2];
#pragma unroll
      for (int mf = 0; mf < kMF; ++mf) {
        const int m0 = wm + mf * 16;
        if constexpr (AK) {
          // matrices: (rows 0-7,k lo) (rows 8-15,k lo) (rows 0-7,k hi) (rows 8-15,k hi)
          const int kofs = kTf32 ? (j >> 1) * 4 : (j >> 1) * 8;
          ldmatrixX4(a[mf], sA + LA::at(m0 + r + (j & 1) * 8, kk + kofs));
        } else if constexpr (!kTf32) {
          ldmatrixX4Trans(a[mf], sA + LA::at(m0 + (j & 1) * 8, kk + r + (j >> 1) * 8));
        } else {
          const uint32_t* s = reinterpret_cast<const uint32_t*>(sA);
          a[mf][0] = s[LA::at(m0 + g, kk + t)];
          a[mf][1] = s[LA::at(m0 + g + 8, kk + t)];
          a[mf][2] = s[LA::at(m0 + g, kk + t + 4)];
          a[mf][3] = s[LA::at(m0 + g + 8, kk + t + 4)];
        }
        if constexpr (kTf32) {
#pragma unroll
          for (int e = 0; e < 4; ++e) a[mf][e] = toTf32(a[mf][e]);
        }
      }
#pragma unroll
      for (int nf = 0; nf < kNF; nf += 2) {
        const int n0 = wn + nf * 8;
        uint32_t q[4];
        if constexpr (BKC) {
          // matrices: (n 0-7,k lo) (n 0-7,k hi) (n 8-15,k lo) (n 8-15,k hi)
          const int kofs = kTf32 ? (j & 1) * 4 : (j & 1) * 8;
          ldmatrixX4(q, sB + LB::at(n0 + r + (j >> 1) * 8, kk + kofs));
        } else if constexpr (!kTf32) {
          ldmatrixX4Trans(q, sB + LB::at(n0 + (j >> 1) * 8, kk + r + (j & 1) * 8));
        } else {
          const uint32_t* s = reinterpret_cast<const uint32_t*>(sB);
          q[0] = s[LB::at(n0 + g, kk + t)];
          q[1] = s[LB::at(n0 + g, kk + t + 4)];
          q[2] = s[LB::at(n0 + 8 + g, kk + t)];
          q[3] = s[LB::at(n0 + 8 + g, kk + t + 4)];
        }
        if constexpr (kTf32) {
#pragma unroll
          for (int e = 0; e < 4; ++e) q[e] = toTf32(q[e]);
        }
        b[nf][0] = q[0];
        b[nf][1] = q[1];
        b[nf + 1][0] = q[2];
        b[nf + 1][1] = q[3];
      }
#pragma unroll
      for (int mf = 0; mf < kMF; ++mf)
#pragma unroll
        for (int nf = 0; nf < kNF; ++nf) MmaOp<T>::run(acc.v[mf][nf], a[mf], b[nf]);
    }
  }

  // Accumulator element e of tile (mf, nf): row g (+8 for e >= 2), column 2t (+1 for odd e).
  template <class Problem>
  __device__ __forceinline__ static void epilogue(const Acc& acc, const Problem& p, int z, int m0, int n0) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rowBase = m0 + (warp >> 2) * 16 * MF + (lane >> 2), colBase = n0 + (warp & 3) * 8 * NF + 2 * (lane & 3);
#pragma unroll
    for (int mf = 0; mf < kMF; ++mf)
#pragma unroll
      for (int nf = 0; nf < kNF; ++nf) {
        const int row = rowBase + mf * 16, col = colBase + nf * 8;
        p.store(z, row, col, acc.v[mf][nf][0], acc.v[mf][nf][1], true);
        p.store(z, row + 8, col, acc.v[mf][nf][2], acc.v[mf][nf][3], true);
      }
  }
};

// Exact FP32: thread (tx, ty) of a 16x16 grid owns rows ty + 16i and columns tx + 16j, so a
// warp reads 2 distinct A values (broadcast) and 16 consecutive B values per k.
struct SimtMath {
  using T = float;
  static constexpr int BK = 16;
  static constexpr int kStages = 3;
  static constexpr int kTileM = 128, kTileN = 128, kMinBlocks = 2;
  struct Acc {
    float v[8][8];
  };
  __device__ __forceinline__ static void zero(Acc& acc) {
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) acc.v[i][j] = 0.f;
  }
  template <bool AK, bool BKC>
  __device__ __forceinline__ static void compute(Acc& acc, const float* sA, const float* sB) {
    using LA = TileLayout<float, AK, kTileM, BK>;
    using LB = TileLayout<float, BKC, kTileN, BK>;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[8], b[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) a[i] = sA[LA::at(ty + 16 * i, k)];
#pragma unroll
      for (int i = 0; i < 8; ++i) b[i] = sB[LB::at(tx + 16 * i, k)];
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int jj = 0; jj < 8; ++jj) acc.v[i][jj] = fmaf(a[i], b[jj], acc.v[i][jj]);
    }
  }
  template <class Problem>
  __device__ __forceinline__ static void epilogue(const Acc& acc, const Problem& p, int z, int m0, int n0) {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int jj = 0; jj < 8; ++jj) p.store(z, m0 + ty + 16 * i, n0 + tx + 16 * jj, acc.v[i][jj], 0.f, false);
  }
};

template <class Math, class Problem>
__host__ __device__ constexpr int stageElems() {
  using T = typename Math::T;
  return TileLayout<T, Problem::ALoader::kContig, Math::kTileM, Math::BK>::kElems +
         TileLayout<T, Problem::BLoader::kContig, Math::kTileN, Math::BK>::kElems;
}
template <class Math, class Problem>
__host__ __device__ constexpr int smemBytes() {
  return Math::kStages * stageElems<Math, Problem>() * int(sizeof(typename Math::T));
}

// Tiles are visited in column strips 8 tile-rows tall (blockIdx.x linear), so CTAs resident at
// the same time share A rows and B columns in L2.
__device__ __forceinline__ void tileCoords(int tilesM, int tilesN, int& tm, int& tn) {
  constexpr int kGroup = 8;
  const int id = blockIdx.x, perGroup = kGroup * tilesN;
  const int group = id / perGroup, first = group * kGroup;
  const int height = min(tilesM - first, kGroup);
  const int inGroup = id - group * perGroup;
  tm = first + inGroup % height;
  tn = inGroup / height;
}

// Problem interface (all __device__ const):
//   ALoader aLoader(int z, int row0); BLoader bLoader(int z, int col0);
//   void kRange(int z, int& kBegin, int& kEnd)  — kBegin a multiple of BK;
//   void store(int z, int row, int col, float v0, float v1, bool pair)  — bounds-checked.
//   int tilesM, tilesN members.
template <class Math, class Problem>
__global__ void __launch_bounds__(kThreads, Math::kMinBlocks) tiledMatmulKernel(const Problem p) {
  using T = typename Math::T;
  constexpr int BK = Math::BK, S = Math::kStages, kTileM = Math::kTileM, kTileN = Math::kTileN;
  constexpr bool AK = Problem::ALoader::kContig, BKC = Problem::BLoader::kContig;
  constexpr int aElems = TileLayout<T, AK, kTileM, BK>::kElems;
  constexpr int sElems = stageElems<Math, Problem>();
  extern __shared__ __align__(128) unsigned char smemRaw[];
  T* smem = reinterpret_cast<T*>(smemRaw);

  int tm, tn;
  tileCoords(p.tilesM, p.tilesN, tm, tn);
  const int z = blockIdx.z;
  const auto aLd = p.aLoader(z, tm * kTileM);
  const auto bLd = p.bLoader(z, tn * kTileN);
  int kBegin, kEnd;
  p.kRange(z, kBegin, kEnd);
  const int numK = (kEnd - kBegin + BK - 1) / BK;

  typename Math::Acc acc;
  Math::zero(acc);
#pragma unroll
  for (int s = 0; s < S - 1; ++s) {
    if (s < numK) {
      aLd.load(smem + s * sElems, kBegin + s * BK);
      bLd.load(smem + s * sElems + aElems, kBegin + s * BK);
    }
    cpAsyncCommit();
  }
  for (int kt = 0; kt < numK; ++kt) {
    // Stage kt has landed once at most S-2 younger groups are pending; the barrier also proves
    // every warp finished reading stage kt-1, whose slot the next load overwrites.
    cpAsyncWait<S - 2>();
    __syncthreads();
    const int next = kt + S - 1;
    if (next < numK) {
      T* s = smem + (next % S) * sElems;
      aLd.load(s, kBegin + next * BK);
      bLd.load(s + aElems, kBegin + next * BK);
    }
    cpAsyncCommit();
    const T* s = smem + (kt % S) * sElems;
    Math::template compute<AK, BKC>(acc, s, s + aElems);
  }
  cpAsyncWait<0>();
  Math::epilogue(acc, p, z, tm * kTileM, tn * kTileN);
}

template <class Math, class Problem>
void launchTiled(const Problem& p, int batch, cudaStream_t stream, const char* name) {
  auto kernel = tiledMatmulKernel<Math, Problem>;
  constexpr int bytes = smemBytes<Math, Problem>();
  checkCuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
            "cudaFuncSetAttribute");
  dim3 grid(p.tilesM * p.tilesN, 1, batch);
  kernel<<<grid, kThreads, bytes, stream>>>(p);
  checkLaunch(name);
}

// ---- element type helpers for epilogues ------------------------------------------------------
__device__ __forceinline__ float geluErf(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }

}  // namespace kd::cuda::detail
