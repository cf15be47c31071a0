// What the convolution engines (conv_im2col.cc, conv_wide.cc) share: the sizes derived from the
// geometry, per-thread scratch, threads that own ranges of images, and the per-thread partial
// sums of the weight gradient.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/conv.h"
#include "common/parallel.h"
#include "common/scratch.h"

namespace kd::conv_detail {

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The sizes every pass derives from the geometry.
struct Dims {
  int64_t cg, kg;     // channels per group in and out
  int64_t ckk;        // rows of col per group: cg·kh·kw
  int64_t outPlane;   // oh·ow
  int64_t inPlane;    // h·w
};

inline Dims dimsOf(const ConvGeometry& g) {
  Dims d;
  d.cg = g.c / g.groups;
  d.kg = g.k / g.groups;
  d.ckk = d.cg * g.kh * g.kw;
  d.outPlane = g.oh * g.ow;
  d.inPlane = g.h * g.w;
  return d;
}

// Any of the three passes: 2·n·k·(c/groups)·kh·kw·oh·ow flops.
inline Cost convCost(const ConvGeometry& g) {
  return flopsCost(2.0 * static_cast<double>(g.n * g.k * (g.c / g.groups) * g.kh * g.kw) * static_cast<double>(g.oh * g.ow));
}

// Two buffers per thread (col and a temporary tile), kept across calls.
struct ThreadScratch {
  ScratchBuffer col, tmp;
};

inline ThreadScratch& threadScratch() {
  thread_local ThreadScratch scratch;
  return scratch;
}

// Runs body(t, n0, n1) on parts that own contiguous, even ranges of the batch's images, as many
// as the convolution's cost warrants. Returns the number of parts that ran.
template <class Body>
int forEachImageRange(const ConvGeometry& g, Body&& body) {
  int used = 1;
  parallelRun(static_cast<int>(std::min<int64_t>(kMaxThreads, g.n)), convCost(g), [&](int t, int count) {
    if (t == 0) used = count;
    body(t, g.n * t / count, g.n * (t + 1) / count);
  });
  return used;
}

// The weight gradient summed over the batch by several threads: thread 0 accumulates into
// gradWeight itself, thread t > 0 into a partial sum of its own; finish() adds the partials of
// the threads that touched theirs (an untouched gradWeight becomes zero).
class WeightGradSums {
 public:
  WeightGradSums(float* gradWeight, int64_t elems, int threads)
      : gradWeight_(gradWeight), elems_(elems), partials_(static_cast<size_t>(std::max(threads - 1, 0) * elems)),
        touched_(static_cast<size_t>(threads), 0) {}

  float* of(int t) { return t == 0 ? gradWeight_ : partials_.data() + (t - 1) * elems_; }
  bool touched(int t) const { return touched_[t] != 0; }
  void touch(int t) { touched_[t] = 1; }

  // Call once, after threads [0, used) are done.
  void finish(int used) {
    if (!touched(0)) std::fill(gradWeight_, gradWeight_ + elems_, 0.0f);
    if (used <= 1) return;
    parallelFor(elems_, bytesCost(8.0 * used), [&](int64_t i0, int64_t i1) {
      for (int t = 1; t < used; ++t) {
        if (!touched(t)) continue;
        const float* p = of(t);
        for (int64_t i = i0; i < i1; ++i) gradWeight_[i] += p[i];
      }
    });
  }

 private:
  float* gradWeight_;
  int64_t elems_;
  std::vector<float> partials_;
  std::vector<char> touched_;
};

}  // namespace kd::conv_detail
