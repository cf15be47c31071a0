// A convolution followed by max pooling on the CPU (common/conv_pooled.h).
//
// Forward: when the batch gives every thread at least two images, images are split across
// threads and each image's convolution output is pooled while it is still in cache, never
// written out; smaller batches run the (internally threaded) convolution over the whole batch
// into a temporary and pool that.
//
// Backward, taken straight from the pooled gradient: only each window's maximum receives a
// gradient, so the convolution's output gradient is zero except at one position per window (a
// quarter of them for 2×2 pools). Instead of materialising it and running dense GEMMs over its
// zeros, every nonzero position adds its gradient times the input patch to the weight gradient
// (and times the weight to the input gradient) directly. Images are worked on channels-last, so
// those updates are contiguous vectors of input channels. groups == 1 runs this sparse kernel
// (conv_pooled_impl.h, built per ISA); grouped convolutions go through the dense route
// (maxPool2dBackward into a temporary, then the convolution's gradients).
#include "common/conv_pooled.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/conv.h"
#include "common/isa.h"
#include "common/parallel.h"
#include "common/pool.h"
#include "cpu/conv_pooled_impl.h"

namespace kd {
namespace conv_pooled_detail {

void rangeScalar(const Work& w, int64_t n0, int64_t n1) { pooledRange<tapAccumulate32Portable>(w, n0, n1); }

}  // namespace conv_pooled_detail

namespace {

void requirePoolAfterConv(const ConvGeometry& g, const PoolGeometry& pool, const char* op) {
  checkConvGeometry(g);
  checkPoolGeometry(pool);
  if (pool.n != g.n || pool.c != g.k || pool.h != g.oh || pool.w != g.ow)
    throw std::invalid_argument(std::string(op) + ": the pooling geometry does not match the convolution's output");
}

// The dense route: the convolution's output gradient through the pool's backward, then the
// convolution's gradients.
void pooledBackwardDense(const ConvGeometry& g, const PoolGeometry& pool, ConvInput x, const float* weight,
                         const float* gradPooled, const int32_t* indices, float* gradInput, float* gradWeight,
                         float* gradBias) {
  std::vector<float> gradOut(static_cast<size_t>(g.n * g.k * g.oh * g.ow));
  maxPool2dBackward(pool, gradPooled, indices, gradOut.data());
  if (gradInput) conv2dInputGrad(g, gradOut.data(), weight, gradInput);
  if (gradWeight) conv2dWeightGrad(g, x, gradOut.data(), gradWeight);
  if (gradBias) conv2dBiasGrad(g, gradOut.data(), gradBias);
}

}  // namespace

void conv2dPooledBackward(const ConvGeometry& g, const PoolGeometry& pool, ConvInput x, const float* weight,
                          const float* gradPooled, const int32_t* indices, float* gradInput, float* gradWeight,
                          float* gradBias) {
  requirePoolAfterConv(g, pool, "conv2dPooledBackward");
  if (g.groups != 1) return pooledBackwardDense(g, pool, x, weight, gradPooled, indices, gradInput, gradWeight, gradBias);
  const int64_t pooledPlane = pool.oh * pool.ow;
  const int64_t taps = g.kh * g.kw, weightElems = g.k * taps * g.c, plane = g.h * g.w;
  const int64_t outPlane = g.oh * g.ow;
  for (int64_t i = 0, total = g.n * g.k * pooledPlane; i < total; ++i)
    if (indices[i] < 0 || indices[i] >= outPlane)
      throw std::invalid_argument("conv2dPooledBackward: index " + std::to_string(indices[i]) + " is outside the " +
                                  std::to_string(g.oh) + "x" + std::to_string(g.ow) + " output plane");
  if (gradInput) std::fill(gradInput, gradInput + g.n * g.c * plane, 0.0f);
  if (g.n == 0 || (!gradInput && !gradWeight && !gradBias)) {
    if (gradWeight) std::fill(gradWeight, gradWeight + weightElems, 0.0f);
    if (gradBias) std::fill(gradBias, gradBias + g.k, 0.0f);
    return;
  }
  // The weight as [k, kh, kw, c], for the input gradient's channel vectors.
  std::vector<float> weightT;
  if (gradInput) {
    weightT.resize(weightElems);
    for (int64_t k = 0; k < g.k; ++k)
      for (int64_t ci = 0; ci < g.c; ++ci)
        for (int64_t t = 0; t < taps; ++t) weightT[(k * taps + t) * g.c + ci] = weight[(k * g.c + ci) * taps + t];
  }
  // Both gradients: twice the 2·n·k·c·kh·kw·oh·ow flops of the convolution.
  const Cost cost = flopsCost(4.0 * static_cast<double>(g.n * g.k * g.c * taps) * static_cast<double>(outPlane));
  const int threads = static_cast<int>(std::min<int64_t>(threadsForCost(cost), g.n));
  // Per thread: weight gradient [k, kh, kw, c], bias gradient, and two images of scratch.
  const int64_t perThread = weightElems + g.k + 2 * plane * g.c;
  std::vector<float> scratch(static_cast<size_t>(threads * perThread), 0.0f);
  const bool avx2 = activeIsa() >= CpuIsa::Avx2;
  parallelRun(threads, cost, [&](int t, int count) {
    float* mine = scratch.data() + t * perThread;
    conv_pooled_detail::Work w{&g, x, gradInput ? weightT.data() : nullptr, gradPooled, indices, pooledPlane, gradInput,
                               gradWeight ? mine : nullptr, gradBias ? mine + weightElems : nullptr,
                               mine + weightElems + g.k, mine + weightElems + g.k + plane * g.c};
    const int64_t n0 = g.n * t / count, n1 = g.n * (t + 1) / count;
    if (avx2) conv_pooled_detail::rangeAvx2(w, n0, n1);
    else conv_pooled_detail::rangeScalar(w, n0, n1);
  });
  // Sum the threads' partials and put the weight gradient back in [k, c, kh, kw] order.
  for (int t = 1; t < threads; ++t) {
    const float* part = scratch.data() + t * perThread;
    float* total = scratch.data();
    for (int64_t i = 0; i < weightElems + g.k; ++i) total[i] += part[i];
  }
  if (gradWeight)
    for (int64_t k = 0; k < g.k; ++k)
      for (int64_t ci = 0; ci < g.c; ++ci)
        for (int64_t t = 0; t < taps; ++t) gradWeight[(k * g.c + ci) * taps + t] = scratch[(k * taps + t) * g.c + ci];
  if (gradBias) std::copy(scratch.begin() + weightElems, scratch.begin() + weightElems + g.k, gradBias);
}

void conv2dMaxPoolForward(const ConvGeometry& g, ConvInput x, const float* weight, const float* bias,
                          const PoolGeometry& pool, float* out, int32_t* indices) {
  requirePoolAfterConv(g, pool, "conv2dMaxPoolForward");
  const int64_t convImage = g.k * g.oh * g.ow, pooledImage = pool.c * pool.oh * pool.ow;
  const Cost cost = flopsCost(2.0 * static_cast<double>(g.n * g.k * (g.c / g.groups) * g.kh * g.kw) * static_cast<double>(g.oh * g.ow));
  if (g.n < 2 * threadsForCost(cost)) {
    std::vector<float> conv(static_cast<size_t>(g.n * convImage));
    conv2dForward(g, x, weight, bias, conv.data());
    maxPool2dForward(pool, PoolInput{conv.data(), convImage, g.oh * g.ow, g.ow, 1}, out, indices);
    return;
  }
  // Images in chunks whose convolution output stays within about 256 KiB (L2).
  const int64_t chunk = std::max<int64_t>(1, (int64_t{256} * 1024 / 4) / convImage);
  parallelRun(static_cast<int>(std::min<int64_t>(kMaxThreads, g.n)), cost, [&](int t, int count) {
    const int64_t n0 = g.n * t / count, n1 = g.n * (t + 1) / count;
    std::vector<float> y(static_cast<size_t>(std::min(chunk, std::max<int64_t>(n1 - n0, 1)) * convImage));
    for (int64_t c0 = n0; c0 < n1; c0 += chunk) {
      ConvGeometry part = g;
      part.n = std::min(chunk, n1 - c0);
      PoolGeometry partPool = pool;
      partPool.n = part.n;
      conv2dForward(part, ConvInput{x.p + c0 * x.sn, x.sn, x.sc, x.sh, x.sw}, weight, bias, y.data());
      maxPool2dForward(partPool, PoolInput{y.data(), convImage, g.oh * g.ow, g.ow, 1}, out + c0 * pooledImage,
                       indices + c0 * pooledImage);
    }
  });
}

}  // namespace kd
