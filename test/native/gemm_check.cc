// Standalone check and timing of kd::sgemm, without Node: for each ISA the processor offers,
// compares sgemm with sgemmRef on odd shapes, transposed and broadcast operands, then times
// square products at 1 thread and at all threads. A CMake target outside the default build
// (npm install skips it); from the repository root, after `npm install` has configured build/:
//
//   cmake --build build --target kindling_gemm_check && build/kindling_gemm_check
//
// Usage: kindling_gemm_check [maxSize=2048] [timeLimitSeconds=0.25]. Exits non-zero when a check fails.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/gemm.h"
#include "common/isa.h"
#include "common/parallel.h"

namespace {

struct Rng {
  uint64_t state;
  float next() {  // uniform in [-1, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>((state >> 40) * (1.0 / (1ULL << 24)) * 2.0 - 1.0);
  }
};

struct Case {
  const char* name;
  int64_t m, n, k, batch;
  bool transA, transB, broadcastB, transC;
  float alpha, beta;
};

// Builds operands for one case, runs sgemm and sgemmRef on copies of the same C, and returns the
// relative error ||out - ref|| / ||ref||.
double runCase(const Case& cs, uint64_t seed) {
  Rng rng{seed};
  const int64_t m = cs.m, n = cs.n, k = cs.k, batch = cs.batch;
  // Row strides padded past the logical width so sliced views are covered too.
  const int64_t lda = (cs.transA ? m : k) + 3, ldb = (cs.transB ? k : n) + 5, ldc = (cs.transC ? m : n) + 2;
  const int64_t aItem = (cs.transA ? k : m) * lda, bItem = (cs.transB ? n : k) * ldb, cItem = (cs.transC ? n : m) * ldc;
  const int64_t bBatches = cs.broadcastB ? 1 : batch;
  std::vector<float> a(aItem * batch + 1), b(bItem * bBatches + 1), c0(cItem * batch + 1);
  for (float& x : a) x = rng.next();
  for (float& x : b) x = rng.next();
  for (float& x : c0) x = cs.beta == 0.0f ? NAN : rng.next();
  std::vector<float> c = c0, cRef = c0;

  kd::GemmArgs g{};
  g.m = m; g.n = n; g.k = k; g.batch = batch;
  g.a = a.data(); g.aRowStride = cs.transA ? 1 : lda; g.aColStride = cs.transA ? lda : 1; g.aBatchStride = aItem;
  g.b = b.data(); g.bRowStride = cs.transB ? 1 : ldb; g.bColStride = cs.transB ? ldb : 1;
  g.bBatchStride = cs.broadcastB ? 0 : bItem;
  g.c = c.data(); g.cRowStride = cs.transC ? 1 : ldc; g.cColStride = cs.transC ? ldc : 1; g.cBatchStride = cItem;
  g.alpha = cs.alpha; g.beta = cs.beta;
  kd::sgemm(g);
  g.c = cRef.data();
  kd::sgemmRef(g);

  double diff = 0, norm = 0;
  std::vector<bool> logical(c.size(), false);
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t at = bi * cItem + (cs.transC ? j * ldc + i : i * ldc + j);
        logical[at] = true;
        double d = static_cast<double>(c[at]) - cRef[at];
        diff += d * d;
        norm += static_cast<double>(cRef[at]) * cRef[at];
      }
  // Padding between rows must be untouched (bit for bit: it may be NaN).
  for (size_t i = 0; i < c.size(); ++i)
    if (!logical[i] && std::memcmp(&c[i], &c0[i], sizeof(float)) != 0) return INFINITY;
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best GFLOP/s of n×n×n over repeats filling about `budget` seconds after one warm-up.
double timeSquare(int64_t n, double budget) {
  std::vector<float> a(n * n), b(n * n), c(n * n);
  Rng rng{42};
  for (float& x : a) x = rng.next();
  for (float& x : b) x = rng.next();
  kd::GemmArgs g{n, n, n, 1, a.data(), n, 1, 0, b.data(), n, 1, 0, c.data(), n, 1, 0, 1.0f, 0.0f};
  kd::sgemm(g);
  double best = 1e30, start = seconds();
  int reps = 0;
  while (reps < 3 || seconds() - start < budget) {
    double t0 = seconds();
    kd::sgemm(g);
    best = std::min(best, seconds() - t0);
    ++reps;
  }
  return 2.0 * n * n * n / best * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t maxSize = argc > 1 ? std::atoll(argv[1]) : 2048;
  const double budget = argc > 2 ? std::atof(argv[2]) : 0.25;
  const int allThreads = kd::numThreads();
  std::printf("detected ISA: %s, pool threads: %d\n", kd::isaName(kd::detectedIsa()), allThreads);

  const Case cases[] = {
      {"1x1x1", 1, 1, 1, 1, false, false, false, false, 1.0f, 0.0f},
      {"7x7x7", 7, 7, 7, 1, false, false, false, false, 1.0f, 0.0f},
      {"33x33x33", 33, 33, 33, 1, false, false, false, false, 1.0f, 0.0f},
      {"65x17x129", 65, 17, 129, 1, false, false, false, false, 1.0f, 0.0f},
      {"65x17x129 A^T", 65, 17, 129, 1, true, false, false, false, 1.0f, 0.0f},
      {"65x17x129 B^T", 65, 17, 129, 1, false, true, false, false, 1.0f, 0.0f},
      {"65x17x129 A^T B^T alpha beta", 65, 17, 129, 1, true, true, false, false, 0.5f, -1.5f},
      {"65x17x129 C^T beta=1", 65, 17, 129, 1, false, false, false, true, 1.0f, 1.0f},
      {"33x7x65 batch 5, B broadcast", 33, 7, 65, 5, false, false, true, false, 1.0f, 0.0f},
      {"33x7x65 batch 4, A^T B broadcast", 33, 7, 65, 4, true, false, true, false, 2.0f, 0.5f},
      {"k=0 beta=2", 9, 11, 0, 2, false, false, false, false, 1.0f, 2.0f},
      // The small path (gemm_small.h): A and B in place, masked edge tiles, k blocked past 256.
      {"64x128x64", 64, 128, 64, 1, false, false, false, false, 1.0f, 0.0f},
      {"64x128x64 A^T", 64, 128, 64, 1, true, false, false, false, 1.0f, 0.0f},
      {"64x64x128 B^T", 64, 64, 128, 1, false, true, false, false, 1.0f, 0.0f},
      {"69x47x33 A^T B^T alpha beta", 69, 47, 33, 1, true, true, false, false, -2.0f, 0.5f},
      {"1x70x19 beta=1", 1, 70, 19, 1, false, false, false, false, 1.0f, 1.0f},
      {"70x1x70 alpha", 70, 1, 70, 1, false, false, false, false, 0.75f, 0.0f},
      {"13x9x300 C^T beta", 13, 9, 300, 1, false, false, false, true, 1.0f, -1.0f},
      {"11x19x7 batch 5, B broadcast", 11, 19, 7, 5, false, false, true, false, 1.0f, 0.0f},
      {"300x500x700 B^T", 300, 500, 700, 1, false, true, false, false, 1.0f, 0.0f},
      {"1000x37x600", 1000, 37, 600, 1, false, false, false, false, 1.0f, 0.25f},
      {"520x1030x2100", 520, 1030, 2100, 1, false, false, false, false, 1.0f, 0.0f},
  };
  const kd::CpuIsa isas[] = {kd::CpuIsa::Avx512, kd::CpuIsa::Avx2, kd::CpuIsa::Scalar};
  const int64_t sizes[] = {256, 512, 1024, 2048};
  double gflops[3][4][2] = {};
  bool ok = true;

  for (int ii = 0; ii < 3; ++ii) {
    kd::CpuIsa isa = isas[ii];
    if (!kd::setActiveIsa(isa)) {
      std::printf("[%s] not available on this processor: skipped\n", kd::isaName(isa));
      continue;
    }
    for (int threads : {1, allThreads}) {
      kd::setNumThreads(threads);
      for (const Case& cs : cases) {
        if (isa == kd::CpuIsa::Scalar && cs.m * cs.n * cs.k > 1000000 && threads == 1) continue;
        double err = runCase(cs, 1234 + cs.m * 7 + cs.n);
        bool pass = err < 1e-5;
        ok = ok && pass;
        std::printf("[%s] %2d thr  %-34s rel err %.2e  %s\n", kd::isaName(isa), threads, cs.name, err,
                    pass ? "ok" : "FAIL");
      }
    }
    for (int ti = 0; ti < 2; ++ti) {
      int threads = ti == 0 ? 1 : allThreads;
      kd::setNumThreads(threads);
      for (int si = 0; si < 4; ++si) {
        int64_t n = sizes[si];
        if (n > maxSize || (isa == kd::CpuIsa::Scalar && n > 512)) continue;
        gflops[ii][si][ti] = timeSquare(n, budget);
        std::printf("[%s] %2d thr  %5lld^3  %8.1f GFLOP/s\n", kd::isaName(isa), threads, static_cast<long long>(n),
                    gflops[ii][si][ti]);
        std::fflush(stdout);
      }
    }
    kd::setNumThreads(allThreads);
  }
  if (gflops[0][0][0] > 0 && gflops[1][0][0] > 0) {
    std::printf("avx512 / avx2:\n");
    for (int ti = 0; ti < 2; ++ti)
      for (int si = 0; si < 4; ++si)
        if (gflops[1][si][ti] > 0)
          std::printf("  %2d thr %5lld^3  %.2fx\n", ti == 0 ? 1 : allThreads, static_cast<long long>(sizes[si]),
                      gflops[0][si][ti] / gflops[1][si][ti]);
  }
  kd::setActiveIsa(kd::detectedIsa());
  std::printf(ok ? "ALL CHECKS PASSED\n" : "SOME CHECKS FAILED\n");
  return ok ? 0 : 1;
}
