// Device selection, the one stream per device, and host <-> device copies through a pinned
// staging buffer. All state belongs to the thread that drives the addon (Node's main thread).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.cuh"
#include "runtime.h"

namespace kd::cuda {
namespace {

using detail::checkCuda;

bool gAllowTf32 = true;
int gDevice = -1;                  // -1: not chosen yet (device 0 on first use)
std::vector<cudaStream_t> gStreams;  // per device, created on first use

// Pinned staging buffer for transfers. `done` is recorded after the last copy that reads or
// writes it, and waited on before the buffer is touched again by the host.
struct Staging {
  char* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
  bool pending = false;
};
Staging gStaging;
constexpr size_t kStagingMinBytes = size_t(1) << 20;
constexpr size_t kStagingMaxBytes = size_t(64) << 20;  // larger transfers go through in chunks

void ensureDevice() {
  if (gDevice >= 0) return;
  if (deviceCount() == 0) throw std::runtime_error("cudaGetDeviceCount: no CUDA device is available");
  checkCuda(cudaSetDevice(0), "cudaSetDevice");
  gDevice = 0;
}

cudaStream_t currentStream() {
  ensureDevice();
  if (gStreams.size() <= size_t(gDevice)) gStreams.resize(gDevice + 1, nullptr);
  if (!gStreams[gDevice])
    checkCuda(cudaStreamCreateWithFlags(&gStreams[gDevice], cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  return gStreams[gDevice];
}

void waitStaging() {
  if (!gStaging.pending) return;
  gStaging.pending = false;
  checkCuda(cudaEventSynchronize(gStaging.done), "cudaEventSynchronize");
}

// A staging buffer of at least `bytes` (<= kStagingMaxBytes) that no transfer is using.
char* stagingBuffer(size_t bytes) {
  waitStaging();
  if (gStaging.bytes < bytes) {
    if (gStaging.host) checkCuda(cudaFreeHost(gStaging.host), "cudaFreeHost");
    gStaging.host = nullptr;
    gStaging.bytes = 0;
    size_t size = kStagingMinBytes;
    while (size < bytes) size *= 2;
    checkCuda(cudaHostAlloc(reinterpret_cast<void**>(&gStaging.host), size, cudaHostAllocDefault), "cudaHostAlloc");
    gStaging.bytes = size;
  }
  if (!gStaging.done) checkCuda(cudaEventCreateWithFlags(&gStaging.done, cudaEventDisableTiming), "cudaEventCreate");
  return gStaging.host;
}

}  // namespace

bool builtWithCuda() { return true; }

int deviceCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string unavailableReason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("cudaGetDeviceCount: ") + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  }
  return n > 0 ? "" : "cudaGetDeviceCount: the driver reports 0 devices";
}

std::string deviceName(int device) {
  cudaDeviceProp prop;
  cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(err));
  return prop.name;
}

int currentDevice() {
  ensureDevice();
  return gDevice;
}

void setDevice(int device) {
  const int n = deviceCount();
  if (device < 0 || device >= n)
    throw std::invalid_argument("setDevice: device " + std::to_string(device) + " does not exist (" +
                                std::to_string(n) + " CUDA devices)");
  if (device == gDevice) return;
  if (gDevice >= 0 && memoryStats().allocations > 0)
    throw std::invalid_argument("setDevice: tensors are still allocated on cuda:" + std::to_string(gDevice));
  if (gDevice >= 0) {
    emptyCache();  // cached blocks belong to the old device
    waitStaging();
    if (gStaging.done) checkCuda(cudaEventDestroy(gStaging.done), "cudaEventDestroy");
    gStaging.done = nullptr;  // events are per device; the pinned buffer is not
  }
  checkCuda(cudaSetDevice(device), "cudaSetDevice");
  gDevice = device;
}

void* stream() { return currentStream(); }

void synchronize() {
  checkCuda(cudaStreamSynchronize(currentStream()), "cudaStreamSynchronize");
  checkDeferredFaults();
}

void setAllowTf32(bool allow) { gAllowTf32 = allow; }
bool allowTf32() { return gAllowTf32; }

void memGetInfo(size_t* freeBytes, size_t* totalBytes) {
  currentStream();  // selects the device (and creates its context) first
  checkCuda(cudaMemGetInfo(freeBytes, totalBytes), "cudaMemGetInfo");
}

void copyToDevice(void* dst, const void* src, size_t bytes) {
  cudaStream_t s = currentStream();
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(bytes - done, kStagingMaxBytes);
    char* staging = stagingBuffer(n);
    std::memcpy(staging, static_cast<const char*>(src) + done, n);
    checkCuda(cudaMemcpyAsync(static_cast<char*>(dst) + done, staging, n, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync");
    checkCuda(cudaEventRecord(gStaging.done, s), "cudaEventRecord");
    gStaging.pending = true;
    done += n;
  }
}

void copyToHost(void* dst, const void* src, size_t bytes) {
  cudaStream_t s = currentStream();
  if (bytes == 0) return;
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(bytes - done, kStagingMaxBytes);
    char* staging = stagingBuffer(n);
    checkCuda(cudaMemcpyAsync(staging, static_cast<const char*>(src) + done, n, cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync");
    checkCuda(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    std::memcpy(static_cast<char*>(dst) + done, staging, n);
    done += n;
  }
  checkDeferredFaults();
}

void copyDeviceToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  checkCuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, currentStream()), "cudaMemcpyAsync");
}

void fillBytes(void* dst, int value, size_t bytes) {
  if (bytes == 0) return;
  checkCuda(cudaMemsetAsync(dst, value, bytes, currentStream()), "cudaMemsetAsync");
}

}  // namespace kd::cuda
