#include "cpu/peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kd {
namespace {

using Clock = std::chrono::steady_clock;

double (*loopFor(CpuIsa isa))(int64_t) {
  switch (isa) {
    case CpuIsa::Avx512: return peak_detail::fmaLoopAvx512;
    case CpuIsa::Avx2: return peak_detail::fmaLoopAvx2;
    default: return peak_detail::fmaLoopScalar;
  }
}

// Wall seconds for `threads` threads (plain std::threads, not the kernel pool: every thread must
// run its loop at the same time) released together to run loop(iterations) each.
double timeTogether(double (*loop)(int64_t), int64_t iterations, int threads) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto work = [&] {
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    loop(iterations);
  };
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back(work);
  while (ready.load() < threads - 1) std::this_thread::yield();
  const auto start = Clock::now();
  go.store(true, std::memory_order_release);
  loop(iterations);
  for (auto& t : others) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

double measurePeakGflops(CpuIsa isa, int threads) {
  if (threads < 1) throw std::invalid_argument("measurePeakGflops: threads must be at least 1, got " + std::to_string(threads));
  if (static_cast<int>(isa) > static_cast<int>(detectedIsa()))
    throw std::invalid_argument(std::string("measurePeakGflops: this processor lacks ") + isaName(isa));
  double (*loop)(int64_t) = loopFor(isa);
  // Calibrate to about 10 ms per run on one thread (after a first run that wakes the wide units).
  const double flopsPerIteration = loop(1);
  int64_t iterations = 1 << 14;
  double seconds = timeTogether(loop, iterations, 1);
  while (seconds < 2e-3) {
    iterations *= 4;
    seconds = timeTogether(loop, iterations, 1);
  }
  iterations = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(iterations) * 10e-3 / seconds));
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const double s = timeTogether(loop, iterations, threads);
    best = std::max(best, flopsPerIteration * static_cast<double>(iterations) * threads / s * 1e-9);
  }
  return best;
}

}  // namespace kd
