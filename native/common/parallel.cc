#include "common/parallel.h"

#include <immintrin.h>  // _mm_pause (SSE2, x86-64 baseline)

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace kd {
namespace {

thread_local bool tInsideRegion = false;

// A region is published as one 64-bit word, so that claiming a part is a single fetch_add that
// also says which region the part belongs to: [generation:32 | parts:16 | next part:16]. Every
// thread increments `next part` at most once past `parts` per region, so it never carries into
// `parts` (parts + threads <= 3 * kMaxThreads < 2^16).
constexpr uint64_t kPartBits = 16;
constexpr uint64_t kPartMask = (uint64_t{1} << kPartBits) - 1;
constexpr uint64_t regionWord(uint32_t generation, int parts) {
  return (uint64_t{generation} << 32) | (static_cast<uint64_t>(parts) << kPartBits);
}
constexpr uint32_t generationOf(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
constexpr int partsOf(uint64_t word) { return static_cast<int>((word >> kPartBits) & kPartMask); }
constexpr int nextPartOf(uint64_t word) { return static_cast<int>(word & kPartMask); }
static_assert(3 * kMaxThreads < (1 << kPartBits), "part counter would carry into the part count");

// Polls `ready` with _mm_pause for `pauseFor`, then between sched_yield calls until `yieldFor` has
// passed; returns whether it became true. Bounded, so that a waiter whose core another process
// wants soon hands that core over (yield) and then sleeps instead of holding it.
template <class Ready>
bool spinThenYield(std::chrono::microseconds pauseFor, std::chrono::microseconds yieldFor, Ready ready) {
  const auto start = std::chrono::steady_clock::now();
  do {
    for (int i = 0; i < 32; ++i) {
      if (ready()) return true;
      _mm_pause();
    }
  } while (std::chrono::steady_clock::now() - start < pauseFor);
  while (std::chrono::steady_clock::now() - start < yieldFor) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return ready();
}

class ThreadPool {
 public:
  ThreadPool() = default;  // the calling thread alone until resize()
  ~ThreadPool() { stopWorkers(); }

  int size() const { return size_.load(std::memory_order_relaxed); }

  // When the system refuses a thread, the workers started so far are stopped again, the pool
  // runs on the calling thread alone, and ThreadStartError says so (never a half-built pool,
  // whose waiting workers would hang the destructor).
  void resize(int threads) {
    threads = std::clamp(threads, 1, kMaxThreads);
    std::lock_guard<std::mutex> runLock(runMutex_);
    stopWorkers();
    size_.store(1, std::memory_order_relaxed);
    stop_.store(false);
    try {
      for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { workerLoop(); });
    } catch (const std::system_error& e) {
      const size_t started = workers_.size();
      stopWorkers();
      stop_.store(false);
      throw ThreadStartError("could not start " + std::to_string(threads) + " threads: the system refused thread " +
                             std::to_string(started + 2) + " (" + e.what() + "); running on 1 thread");
    }
    size_.store(threads, std::memory_order_relaxed);
  }

  // Runs task(part, parts) for every part in [0, parts), parts <= size(); the caller claims parts
  // beside the workers, and returns when all are done. The first exception a part throws is
  // rethrown here once every part has finished.
  void run(int parts, const std::function<void(int, int)>& task) {
    std::lock_guard<std::mutex> runLock(runMutex_);
    task_.store(&task, std::memory_order_relaxed);
    error_ = nullptr;
    pending_.store(parts, std::memory_order_relaxed);
    region_.store(regionWord(++generation_, parts), std::memory_order_seq_cst);
    // A worker counts itself in sleepers_ before its last look at region_, so either it sees the
    // new word or it is counted here and woken (the notify runs under mutex_ for the same reason).
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    runClaimedParts();
    auto allDone = [this] { return pending_.load() == 0; };
    // What is left runs on workers that have started it: spin briefly, then sleep.
    if (!spinThenYield(kCallerPause, kCallerYield, allDone)) {
      std::unique_lock<std::mutex> lock(mutex_);
      callerSleeping_.store(true, std::memory_order_seq_cst);
      done_.wait(lock, allDone);
      callerSleeping_.store(false, std::memory_order_relaxed);
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Claims and runs parts of the current region until none is left.
  void runClaimedParts() {
    for (;;) {
      const uint64_t word = region_.fetch_add(1, std::memory_order_acq_rel);
      const int part = nextPartOf(word), parts = partsOf(word);
      if (part >= parts) return;
      // The region cannot end before this part is done, so task_ is still its task.
      const std::function<void(int, int)>& task = *task_.load(std::memory_order_relaxed);
      tInsideRegion = true;
      try {
        task(part, parts);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      tInsideRegion = false;
      if (pending_.fetch_sub(1) == 1 && callerSleeping_.load()) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
    }
  }

  void workerLoop() {
    uint32_t seen = generationOf(region_.load(std::memory_order_acquire));
    for (;;) {
      // A training step runs dozens of short regions back to back: poll for the next one a little
      // while before sleeping, since a sleeping worker takes tens of microseconds to wake.
      auto newRegion = [&] {
        return generationOf(region_.load()) != seen || stop_.load(std::memory_order_relaxed);
      };
      if (!spinThenYield(kWorkerPause, kWorkerYield, newRegion)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, newRegion);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = generationOf(region_.load(std::memory_order_acquire));
      runClaimedParts();
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  // How long a waiting thread polls before it sleeps: pausing, then yielding (microseconds in
  // all). On an idle core sched_yield returns at once, so a worker stays ready for the next of a
  // training step's back-to-back regions; where another process wants the core it gets it.
  static constexpr std::chrono::microseconds kWorkerPause{20}, kWorkerYield{200};
  static constexpr std::chrono::microseconds kCallerPause{20}, kCallerYield{100};

  std::vector<std::thread> workers_;
  std::atomic<int> size_{1};
  std::mutex runMutex_;  // one region at a time (regions from several JS threads queue here)
  std::mutex mutex_;     // guards sleeping and waking, and error_
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> region_{regionWord(0, 0)};
  uint32_t generation_ = 0;  // written under runMutex_
  std::atomic<const std::function<void(int, int)>*> task_{nullptr};
  std::atomic<int> pending_{0};  // parts of the current region not yet finished
  std::atomic<int> sleepers_{0};
  std::atomic<bool> callerSleeping_{false};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

// Written once, when the pool starts (under call_once): why KINDLING_NUM_THREADS was not used.
std::string gThreadEnvError, gThreadStartError;

// The pool's size from KINDLING_NUM_THREADS, or the core count. A value that is not an integer
// in 1..kMaxThreads is reported (threadEnvError) and the core count used meanwhile.
int defaultThreadCount() {
  unsigned hw = std::thread::hardware_concurrency();
  const int cores = hw ? static_cast<int>(std::min<unsigned>(hw, kMaxThreads)) : 1;
  const char* env = std::getenv("KINDLING_NUM_THREADS");
  if (!env || !*env) return cores;  // unset or empty: the default
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(env, &end, 10);
  if (end == env || *end != '\0' || errno != 0 || n < 1 || n > kMaxThreads) {
    gThreadEnvError = std::string("KINDLING_NUM_THREADS='") + env + "' is not a thread count: expected an integer in 1.." +
                         std::to_string(kMaxThreads);
    return cores;
  }
  return static_cast<int>(n);
}

ThreadPool& pool() {
  static ThreadPool instance;
  static std::once_flag started;
  std::call_once(started, [] {
    try {
      instance.resize(defaultThreadCount());
    } catch (const ThreadStartError& e) {
      gThreadStartError = std::string("KINDLING_NUM_THREADS: ") + e.what();
    }
  });
  return instance;
}

// parallelFor cuts a region into this many chunks per thread, so a thread that starts late or is
// descheduled holds back only a small share of the work.
constexpr int kChunksPerThread = 2;

}  // namespace

int numThreads() { return pool().size(); }

const std::string& threadEnvError() {
  pool();
  return gThreadEnvError;
}

const std::string& threadStartError() {
  pool();
  return gThreadStartError;
}

void setNumThreads(int n) { pool().resize(n); }

int threadsForCost(Cost total) {
  const double threads = total.ns / kMinThreadCostNs;
  return threads < 2 ? 1 : static_cast<int>(std::min<double>(threads, numThreads()));
}

void parallelRun(int maxParts, Cost total, const std::function<void(int, int)>& body) {
  const int parts = std::min(maxParts, threadsForCost(total));
  if (parts <= 1 || tInsideRegion) {
    body(0, 1);
    return;
  }
  pool().run(parts, body);
}

void parallelFor(int64_t n, Cost perItem, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  const int threads = tInsideRegion ? 1 : threadsForCost(perItem * static_cast<double>(n));
  if (threads <= 1) {
    body(0, n);
    return;
  }
  const int chunks = static_cast<int>(std::min<int64_t>(n, int64_t{threads} * kChunksPerThread));
  pool().run(chunks, [&](int i, int count) {
    const int64_t begin = n * i / count, end = n * (i + 1) / count;
    if (begin < end) body(begin, end);
  });
}

}  // namespace kd
