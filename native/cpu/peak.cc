#include "cpu/peak.h"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kd {
namespace {

double threadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double (*loopFor(CpuIsa isa))(int64_t) {
  switch (isa) {
    case CpuIsa::Avx512: return peak_detail::fmaLoopAvx512;
    case CpuIsa::Avx2: return peak_detail::fmaLoopAvx2;
    default: return peak_detail::fmaLoopScalar;
  }
}

// GFLOP/s of `threads` threads (plain std::threads, not the kernel pool: every thread must run
// its loop at the same time) released together to run loop(iterations) each. Each thread's rate
// is over its own CPU time, so time it spent descheduled (a shared machine) does not count; the
// rates add up.
double runTogether(double (*loop)(int64_t), int64_t iterations, int threads) {
  std::vector<double> gflops(static_cast<size_t>(threads), 0.0);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto work = [&](int t) {
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    const double start = threadCpuSeconds();
    const double flops = loop(iterations);
    gflops[t] = flops / std::max(threadCpuSeconds() - start, 1e-9) * 1e-9;
  };
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back(work, t);
  while (ready.load() < threads - 1) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  work(0);
  for (auto& t : others) t.join();
  double total = 0;
  for (double g : gflops) total += g;
  return total;
}

}  // namespace

double measurePeakGflops(CpuIsa isa, int threads) {
  if (threads < 1) throw std::invalid_argument("measurePeakGflops: threads must be at least 1, got " + std::to_string(threads));
  if (static_cast<int>(isa) > static_cast<int>(detectedIsa()))
    throw std::invalid_argument(std::string("measurePeakGflops: this processor lacks ") + isaName(isa));
  double (*loop)(int64_t) = loopFor(isa);
  // Calibrate to about 10 ms per run (the first runs also wake the wide units up).
  const double flopsPerIteration = loop(1);
  int64_t iterations = 1 << 14;
  double gflops = runTogether(loop, iterations, 1);
  while (flopsPerIteration * static_cast<double>(iterations) / (gflops * 1e9) < 2e-3) {
    iterations *= 4;
    gflops = runTogether(loop, iterations, 1);
  }
  iterations = std::max<int64_t>(1, static_cast<int64_t>(10e-3 * gflops * 1e9 / flopsPerIteration));
  double best = 0;
  for (int run = 0; run < 5; ++run) best = std::max(best, runTogether(loop, iterations, threads));
  return best;
}

}  // namespace kd
