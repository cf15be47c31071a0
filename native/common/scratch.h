// A grow-only, 64-byte-aligned float buffer for per-thread kernel scratch (GEMM packing panels,
// im2col columns): allocated on first use and on growth only, never in a kernel's hot loop.
// Also the allocation both it and the CPU storages use (binding/storage.cc): large blocks are
// aligned to 2 MiB and advised to be backed by transparent huge pages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace kd {

constexpr size_t kHugePageBytes = size_t(2) << 20;
// Blocks from this size up get huge pages: the GEMM's operands and packed panels (a 2048×256
// float matrix is 2 MiB) then cost one TLB entry per 2 MiB instead of 512.
constexpr size_t kHugePageMinBytes = kHugePageBytes;

// `bytes` (a multiple of 64) aligned to 64 bytes, or null when out of memory; release with
// std::free. From kHugePageMinBytes up the block starts on a 2 MiB boundary and its whole 2 MiB
// pages are advised MADV_HUGEPAGE, which makes the kernel back them with huge pages when
// transparent huge pages are in madvise mode (as well as in always mode). Blocks are allocated
// once and reused (the storage cache, grow-only scratch), so the advice is given once per block.
inline void* alignedBlock(size_t bytes) {
  if (bytes < kHugePageMinBytes) return std::aligned_alloc(64, bytes);
  void* p = nullptr;
  if (posix_memalign(&p, kHugePageBytes, bytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: if the kernel refuses it (no THP support) the block works with small pages.
  madvise(p, bytes / kHugePageBytes * kHugePageBytes, MADV_HUGEPAGE);
#endif
  return p;
}

class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { std::free(data_); }

  // At least `elems` floats; the contents are not kept across growth.
  float* reserve(int64_t elems) {
    const size_t want = static_cast<size_t>(elems);
    if (want > capacityElems_) {
      std::free(data_);
      size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
      // A buffer that gets huge pages is rounded up to whole ones, all of which it then uses.
      if (bytes >= kHugePageMinBytes / 2) bytes = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
      data_ = static_cast<float*>(alignedBlock(bytes));
      if (!data_) {
        capacityElems_ = 0;
        throw std::bad_alloc();
      }
      capacityElems_ = bytes / sizeof(float);
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacityElems_ = 0;
};

}  // namespace kd
