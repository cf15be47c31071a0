// A fixed pool of worker threads for CPU kernels. Size from KINDLING_NUM_THREADS (default: the
// core count); the calling thread takes part, so a pool of N threads runs N-1 workers.
//
// How many threads a region uses is decided here, from an estimate of its work, and not at each
// call site: a region runs on one thread until each thread it would use gets kMinThreadCostNs
// of work. Parts of a region are claimed, not assigned: a worker that is slow to start (its core
// busy with another process) leaves its parts to the threads that are running, so a region on N
// threads is never much slower than on one.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace kd {

constexpr int kMaxThreads = 1024;

// The system refused to start a thread; the pool is left running on the calling thread alone.
struct ThreadStartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int numThreads();
// n in 1..kMaxThreads (clamped); throws ThreadStartError when the threads cannot be started.
void setNumThreads(int n);
// Empty, or why the pool did not start as KINDLING_NUM_THREADS asked: a value that is not an
// integer in 1..kMaxThreads (the pool then runs on the core count), or threads the system
// refused (the pool then runs on one thread).
const std::string& threadEnvError();
const std::string& threadStartError();

// An estimate of a region's work, in nanoseconds of one core. The rates are deliberately round
// and on the slow side: they only decide whether another thread pays for waking it (microseconds)
// and for its cold caches.
struct Cost {
  double ns = 0;
  Cost operator*(double times) const { return {ns * times}; }
};
constexpr double kFlopsPerNs = 64;  // a small packed GEMM: ~100-200 GFLOP/s AVX-512, ~60-120 AVX2
constexpr double kBytesPerNs = 32;  // a loop streaming data: ~100 bytes/ns from L2, ~15 from DRAM
constexpr Cost flopsCost(double flops) { return {flops / kFlopsPerNs}; }
constexpr Cost bytesCost(double bytes) { return {bytes / kBytesPerNs}; }
// Each thread a region uses gets at least this much work.
constexpr double kMinThreadCostNs = 20000;

// Threads worth using for `total` work: 1..numThreads().
int threadsForCost(Cost total);

// Runs body(begin, end) over [0, n) in contiguous chunks, one item costing about perItem. Runs
// inline when the work is small or when already inside a region.
void parallelFor(int64_t n, Cost perItem, const std::function<void(int64_t, int64_t)>& body);

// Runs body(part, parts) once for each part in [0, parts), where parts = min(maxParts,
// threadsForCost(total)), on up to that many threads. One thread may run several parts one after
// another, so a part must never wait for another. Inside a region, or on one thread, body(0, 1).
void parallelRun(int maxParts, Cost total, const std::function<void(int, int)>& body);

}  // namespace kd
