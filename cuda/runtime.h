// The CUDA runtime as the binding sees it: plain C++ with no CUDA types, so the addon compiles
// the same with or without nvcc. stand_in.cc answers every call when built without CUDA.
//
// One device is current at a time (device 0 unless setDevice chose another before the first
// allocation) and it has exactly one stream: every kernel and copy of the addon is enqueued on
// it, so work runs in program order and a freed block may be handed to the next kernel at once.
// Errors: std::runtime_error whose message names the failed CUDA call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace kd::cuda {

bool builtWithCuda();
// Number of usable devices; 0 when there is no driver or no device. Never throws.
int deviceCount();
// Why deviceCount() answers 0: the failed call and CUDA's own error text ("cudaGetDeviceCount:
// cudaErrorInsufficientDriver: CUDA driver version is insufficient ..."), or "" when a device is
// there. Never throws.
std::string unavailableReason();
// Device name, or throws std::runtime_error naming the failed CUDA call.
std::string deviceName(int device);

int currentDevice();
// Throws while device memory is held on the current device (tensors cannot follow a switch).
void setDevice(int device);
// The current device's stream as a cudaStream_t (created on first use).
void* stream();
// Waits for every kernel and copy enqueued so far.
void synchronize();
// The driver's view of the current device's memory (cudaMemGetInfo): free and total bytes.
void memGetInfo(size_t* freeBytes, size_t* totalBytes);

// Whether float32 matrix products (matmul and convolution) may use TF32 tensor cores
// (kd.cuda.setAllowTF32; default true). When false they run exact FP32 FMA kernels.
void setAllowTf32(bool allow);
bool allowTf32();

// ---- caching allocator (alloc.cu) ---------------------------------------------------------------
// Blocks come in size classes and are kept in per-class free lists when released; a request is
// served from the list of its class before cudaMalloc is asked. On out-of-memory the cached blocks
// are returned to the driver and the request retried once; then std::runtime_error
// ("cudaMalloc: out of memory ...") — the process stays usable.
struct MemoryStats {
  size_t allocatedBytes = 0;      // in live blocks (their reserved sizes)
  size_t reservedBytes = 0;       // taken from the driver: live plus cached
  size_t peakAllocatedBytes = 0;  // since start or resetPeakMemory()
  size_t allocations = 0;         // live blocks
};
// Never returns null (a 0-byte request gets the smallest block). *reservedBytes: the block's size.
void* deviceAlloc(size_t bytes, size_t* reservedBytes);
void deviceFree(void* block, size_t reservedBytes);
MemoryStats memoryStats();
void resetPeakMemory();
// Returns every cached (free) block to the driver.
void emptyCache();

// ---- copies and fills on the stream --------------------------------------------------------------
// Host -> device through a pinned staging buffer: returns once `src` has been copied into the
// staging buffer (the caller may reuse it), the transfer itself runs asynchronously.
void copyToDevice(void* dst, const void* src, size_t bytes);
// Device -> host; waits for the stream (everything enqueued before it is finished).
void copyToHost(void* dst, const void* src, size_t bytes);
void copyDeviceToDevice(void* dst, const void* src, size_t bytes);
void fillBytes(void* dst, int value, size_t bytes);

// ---- deferred kernel checks (index.cu) -----------------------------------------------------------
// Reads back the index checks of the gather / scatter-add calls enqueued since the last check
// (waits for the stream) and throws std::out_of_range for the first call that met a bad index.
// synchronize() and copyToHost() call it, so a bad index surfaces at the next read of any result.
void checkDeferredFaults();

}  // namespace kd::cuda
