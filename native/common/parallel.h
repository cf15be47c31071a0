// A fixed pool of worker threads for CPU kernels. Size from KINDLING_NUM_THREADS (default: the
// core count); the calling thread takes part, so a pool of N threads runs N-1 workers.
#pragma once
#include <cstdint>
#include <functional>

namespace kd {

int numThreads();
void setNumThreads(int n);

// Runs body(begin, end) over [0, n) split into at most numThreads() contiguous chunks of at least
// `grain` items. Runs inline when the work is small or when already inside a parallel region.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

// Runs body(threadIndex, threadCount) once on each of min(maxThreads, numThreads()) threads.
void parallelRun(int maxThreads, const std::function<void(int, int)>& body);

}  // namespace kd
