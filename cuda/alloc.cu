// The caching device allocator. cudaMalloc and cudaFree are slow (cudaFree synchronizes the
// device), and a training step allocates the same sizes every iteration, so freed blocks are kept
// in per-size-class free lists and handed out again. Reuse needs no event bookkeeping: the addon
// has one stream per device (runtime.h), so a kernel that reads a freed block has been enqueued
// before any kernel that is given the block next.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "check.cuh"
#include "runtime.h"

namespace kd::cuda {
namespace {

constexpr size_t kGranuleBytes = 512;  // also the alignment every block is allocated with

std::unordered_map<size_t, std::vector<void*>> gFreeBlocks;
MemoryStats gStats;

// 512-byte granules up to 1 MiB, then four classes per power of two (at most 25% slack), so
// tensors of similar sizes share blocks.
size_t sizeClass(size_t bytes) {
  if (bytes <= (size_t(1) << 20))
    return std::max(kGranuleBytes, (bytes + kGranuleBytes - 1) / kGranuleBytes * kGranuleBytes);
  const size_t top = size_t(1) << (63 - __builtin_clzll(bytes - 1));
  const size_t step = top / 4;
  return (bytes + step - 1) / step * step;
}

std::string mib(size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

void* mallocOrNull(size_t bytes) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // an allocation failure is not sticky: clear it and go on
    return nullptr;
  }
  detail::checkCuda(err, "cudaMalloc");
  return p;
}

}  // namespace

void* deviceAlloc(size_t bytes, size_t* reservedBytes) {
  stream();  // selects the device on first use
  const size_t reserved = sizeClass(bytes);
  void* block = nullptr;
  auto it = gFreeBlocks.find(reserved);
  if (it != gFreeBlocks.end() && !it->second.empty()) {
    block = it->second.back();
    it->second.pop_back();
  } else {
    block = mallocOrNull(reserved);
    if (!block) {
      emptyCache();
      block = mallocOrNull(reserved);
    }
    if (!block) {
      size_t freeBytes = 0, totalBytes = 0;
      if (cudaMemGetInfo(&freeBytes, &totalBytes) != cudaSuccess) cudaGetLastError();
      throw std::runtime_error("cudaMalloc: out of memory allocating " + std::to_string(bytes) + " bytes on cuda:" +
                               std::to_string(currentDevice()) + " (kindling holds " + mib(gStats.allocatedBytes) +
                               " in tensors, " + mib(gStats.reservedBytes) + " reserved; the device has " +
                               mib(freeBytes) + " free of " + mib(totalBytes) + ")");
    }
    gStats.reservedBytes += reserved;
  }
  gStats.allocatedBytes += reserved;
  gStats.peakAllocatedBytes = std::max(gStats.peakAllocatedBytes, gStats.allocatedBytes);
  ++gStats.allocations;
  *reservedBytes = reserved;
  return block;
}

void deviceFree(void* block, size_t reservedBytes) {
  if (!block) return;
  gFreeBlocks[reservedBytes].push_back(block);
  gStats.allocatedBytes -= reservedBytes;
  --gStats.allocations;
}

MemoryStats memoryStats() { return gStats; }

void resetPeakMemory() { gStats.peakAllocatedBytes = gStats.allocatedBytes; }

void emptyCache() {
  for (auto& [reserved, blocks] : gFreeBlocks) {
    for (void* p : blocks) {
      detail::checkCuda(cudaFree(p), "cudaFree");  // synchronizes: no kernel still uses p
      gStats.reservedBytes -= reserved;
    }
    blocks.clear();
  }
}

}  // namespace kd::cuda
