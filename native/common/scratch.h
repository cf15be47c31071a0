// A grow-only, 64-byte-aligned float buffer for per-thread kernel scratch (GEMM packing panels,
// im2col columns): allocated on first use and on growth only, never in a kernel's hot loop.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace kd {

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
      const size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) {
        capacityElems_ = 0;
        throw std::bad_alloc();
      }
      capacityElems_ = want;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacityElems_ = 0;
};

}  // namespace kd
