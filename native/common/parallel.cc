#include "common/parallel.h"

#include <immintrin.h>  // _mm_pause (SSE2, x86-64 baseline)

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace kd {
namespace {

thread_local bool tInsideRegion = false;

class ThreadPool {
 public:
  explicit ThreadPool(int threads) { resize(threads); }
  ~ThreadPool() { stopWorkers(); }

  int size() const { return size_; }

  void resize(int threads) {
    if (threads < 1) threads = 1;
    stopWorkers();
    generation_.store(0);  // new workers start from seen = 0; a stale generation would run a dead task
    size_ = threads;
    stop_ = false;
    stopRequested_.store(false);
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
  }

  // Runs task(i, count) for i in [0, count) with count <= size(); the caller runs index 0.
  void run(int count, const std::function<void(int, int)>& task) {
    std::lock_guard<std::mutex> runLock(runMutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      taskCount_ = count;
      pending_.store(count - 1);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    tInsideRegion = true;
    task(0, count);
    tInsideRegion = false;
    // Workers finish quickly for kernel-sized tasks: spin briefly, then sleep.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin > 2000) {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [this] { return pending_.load() == 0; });
        break;
      }
      std::this_thread::yield();
    }
  }

 private:
  void workerLoop(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int, int)>* task;
      int count;
      // A training step runs dozens of short parallel regions back to back: poll for the next one
      // for a little while before sleeping, since a futex wake-up costs tens of microseconds.
      const auto spinUntil = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      while (generation_.load(std::memory_order_acquire) == seen && !stopRequested_.load(std::memory_order_relaxed) &&
             std::chrono::steady_clock::now() < spinUntil) {
        for (int i = 0; i < 16; ++i) _mm_pause();
      }
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
        if (stop_) return;
        seen = generation_.load();
        task = task_;
        count = taskCount_;
      }
      if (index < count) {
        tInsideRegion = true;
        (*task)(index, count);
        tInsideRegion = false;
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::lock_guard<std::mutex> lock(mutex_);
          done_.notify_all();
        }
      }
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      stopRequested_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_, runMutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int, int)>* task_ = nullptr;
  int taskCount_ = 0;
  std::atomic<int> pending_{0};
  static constexpr std::chrono::microseconds kSpinBeforeSleep{200};
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
  std::atomic<bool> stopRequested_{false};  // stop_ for the lock-free spin
  int size_ = 1;
};

int defaultThreadCount() {
  if (const char* env = std::getenv("KINDLING_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

ThreadPool& pool() {
  static ThreadPool instance(defaultThreadCount());
  return instance;
}

}  // namespace

int numThreads() { return pool().size(); }

void setNumThreads(int n) { pool().resize(n); }

void parallelRun(int maxThreads, const std::function<void(int, int)>& body) {
  int count = std::min(maxThreads, numThreads());
  if (count <= 1 || tInsideRegion) {
    body(0, 1);
    return;
  }
  pool().run(count, body);
}

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t maxChunks = (n + grain - 1) / grain;
  int chunks = static_cast<int>(std::min<int64_t>(maxChunks, numThreads()));
  if (chunks <= 1 || tInsideRegion) {
    body(0, n);
    return;
  }
  parallelRun(chunks, [&](int i, int count) {
    int64_t begin = n * i / count, end = n * (i + 1) / count;
    if (begin < end) body(begin, end);
  });
}

}  // namespace kd
