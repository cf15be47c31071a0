// Fused optimizer updates (common/optim.h): the portable build of the update loop, and the dispatch
// between it and the AVX2 build (AVX-512 machines use the AVX2 one: the loop is memory-bound).
#define KD_ISA_NS isa_scalar
#include "cpu/optim_impl.h"
#undef KD_ISA_NS

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "common/isa.h"
#include "common/parallel.h"

namespace kd {
namespace {

// One tensor's share of the flat element range [begin, begin + n) and its float step constants.
struct AdamSegment {
  int64_t begin;
  float stepSize, bc2Sqrt;
};

}  // namespace

// Every tensor of the call in one threaded region over their concatenated elements: a thread's
// chunk may span several tensors, so the many small ones (biases, norms) and the large ones share
// one wake-up instead of one region per tensor. Element updates are independent, so the bits do
// not depend on how the range is split.
void adamStep(const AdamHyper& h, const AdamTensor* tensors, int count) {
  std::vector<AdamSegment> segments(count);
  int64_t total = 0;
  for (int i = 0; i < count; ++i) {
    const AdamTensor& t = tensors[i];
    if (t.step < 1) throw std::invalid_argument("adam: step must be at least 1");
    const double bc1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(t.step));
    const double bc2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(t.step));
    segments[i] = {total, static_cast<float>(h.lr / bc1), static_cast<float>(std::sqrt(bc2))};
    total += t.n;
  }
  const float decay = h.decoupled ? 1.0f - h.lr * h.weightDecay : 1.0f;
  auto range = dispatchIsa(CpuIsa::Avx2) == CpuIsa::Avx2 ? isa_avx2::adamRange : isa_scalar::adamRange;
  parallelFor(total, bytesCost(32), [&](int64_t b, int64_t e) {  // four floats read, three written
    // The last segment starting at or before b, then each segment that overlaps [b, e).
    int i = static_cast<int>(std::upper_bound(segments.begin(), segments.end(), b,
                                              [](int64_t x, const AdamSegment& s) { return x < s.begin; }) -
                             segments.begin()) - 1;
    for (; i < count && segments[i].begin < e; ++i) {
      const AdamTensor& t = tensors[i];
      const AdamSegment& s = segments[i];
      const int64_t i0 = std::max(b, s.begin) - s.begin, i1 = std::min(e, s.begin + t.n) - s.begin;
      if (i0 < i1) range(h, s.stepSize, s.bc2Sqrt, decay, i0, i1, t.param, t.grad, t.expAvg, t.expAvgSq, t.maxExpAvgSq);
    }
  });
}

}  // namespace kd
