// CUDA storages (cuda_storage.h) and the runtime entry points of kd.cuda: device selection,
// synchronize, memory statistics, the caching allocator's cache, the TF32 switch.
#include "binding/cuda_storage.h"

#include <cstdint>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/handles.h"
#include "binding/registry.h"
#include "runtime.h"

namespace kd::binding {
namespace {

struct DeviceBlock {
  void* data = nullptr;     // null while the slot is free
  size_t bytes = 0;         // requested size (what bounds checks use)
  size_t reserved = 0;      // the allocator's block size
  uint32_t generation = 0;  // bumped on every free, so a stale handle never matches a reused slot
};

std::vector<DeviceBlock> gSlots;
std::vector<uint32_t> gFreeSlots;

DeviceBlock* lookup(const Napi::Value& value) {
  size_t slot;
  uint32_t generation;
  if (!decodeHandle(HandleSpace::Device, value, &slot, &generation) || slot >= gSlots.size()) return nullptr;
  DeviceBlock* block = &gSlots[slot];
  if (block->generation != generation || !block->data) return nullptr;
  return block;
}

DeviceBlock* blockOf(const Napi::Value& value, const char* op) {
  DeviceBlock* block = lookup(value);
  if (!block)
    throw Napi::Error::New(value.Env(), std::string(op) + ": not a live CUDA storage (disposed, or not a kindling CUDA handle)");
  return block;
}

void checkRange(const Napi::Env& env, const DeviceBlock* block, double offset, double length, const char* op) {
  if (!(offset >= 0) || !(length >= 0) || offset + length > static_cast<double>(block->bytes))
    throw Napi::RangeError::New(env, std::string(op) + ": byte range outside the storage");
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double requested = readDouble(info[0], "alloc");
  if (!(requested >= 0) || requested > 1e15)
    throw Napi::RangeError::New(env, "alloc: invalid size " + std::to_string(requested) + " bytes");
  const size_t bytes = static_cast<size_t>(requested);
  if (gFreeSlots.empty() && gSlots.size() >= static_cast<size_t>(kSlotSpan))
    throw Napi::RangeError::New(env, "alloc: too many live CUDA storages");
  size_t reserved = 0;
  void* data = cuda::deviceAlloc(bytes, &reserved);  // throws on out-of-memory, after one retry
  if (poisonNewBlocks()) cuda::fillBytes(data, 0xff, reserved);
  uint32_t slot;
  if (!gFreeSlots.empty()) {
    slot = gFreeSlots.back();
    gFreeSlots.pop_back();
  } else {
    slot = static_cast<uint32_t>(gSlots.size());
    gSlots.emplace_back();
  }
  DeviceBlock& block = gSlots[slot];
  block.data = data;
  block.bytes = bytes;
  block.reserved = reserved;
  return Napi::Number::New(env, encodeHandle(HandleSpace::Device, slot, block.generation));
}

// Frees a storage; a stale or repeated handle is ignored (dispose is idempotent).
Napi::Value dispose(const Napi::CallbackInfo& info) {
  DeviceBlock* block = lookup(info[0]);
  if (!block) return info.Env().Undefined();
  cuda::deviceFree(block->data, block->reserved);
  block->data = nullptr;
  block->generation = (block->generation + 1) % kGenerations;
  gFreeSlots.push_back(static_cast<uint32_t>(block - gSlots.data()));
  return info.Env().Undefined();
}

// readBytes(handle, byteOffset, length) -> a new ArrayBuffer holding a copy (waits for the stream).
Napi::Value readBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBlock* block = blockOf(info[0], "readBytes");
  const double offset = readDouble(info[1], "readBytes"), length = readDouble(info[2], "readBytes");
  checkRange(env, block, offset, length, "readBytes");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, static_cast<size_t>(length));
  cuda::copyToHost(out.Data(), static_cast<char*>(block->data) + static_cast<size_t>(offset), static_cast<size_t>(length));
  return out;
}

// writeBytes(handle, byteOffset, typedArray): staged through pinned memory, then asynchronous.
Napi::Value writeBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBlock* block = blockOf(info[0], "writeBytes");
  const double offset = readDouble(info[1], "writeBytes");
  if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "writeBytes: expected a typed array");
  Napi::TypedArray src = info[2].As<Napi::TypedArray>();
  const size_t length = src.ByteLength();
  checkRange(env, block, offset, static_cast<double>(length), "writeBytes");
  const char* from = static_cast<const char*>(src.ArrayBuffer().Data()) + src.ByteOffset();
  cuda::copyToDevice(static_cast<char*>(block->data) + static_cast<size_t>(offset), from, length);
  return env.Undefined();
}

// readScalar(handle, elementOffset, dtype) -> one element as a number.
Napi::Value readScalar(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBlock* block = blockOf(info[0], "readScalar");
  const double index = readDouble(info[1], "readScalar");
  const DType dtype = readDType(info[2], "readScalar");
  const size_t size = dtypeBytes(dtype);
  checkRange(env, block, index * size, size, "readScalar");
  unsigned char bytes[4] = {0, 0, 0, 0};
  cuda::copyToHost(bytes, static_cast<char*>(block->data) + static_cast<size_t>(index) * size, size);
  double value;
  if (dtype == DType::Float32) value = *reinterpret_cast<const float*>(bytes);
  else if (dtype == DType::Int32) value = *reinterpret_cast<const int32_t*>(bytes);
  else value = bytes[0] != 0;
  return Napi::Number::New(env, value);
}

// CUDA storages have no memory JavaScript can view: null (the CPU's hostView returns an
// ArrayBuffer), so Tensor.data() copies back through readBytes.
Napi::Value hostView(const Napi::CallbackInfo& info) {
  blockOf(info[0], "hostView");
  return info.Env().Null();
}

Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  const cuda::MemoryStats s = cuda::memoryStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("allocated", static_cast<double>(s.allocatedBytes));
  out.Set("reserved", static_cast<double>(s.reservedBytes));
  out.Set("peakAllocated", static_cast<double>(s.peakAllocatedBytes));
  out.Set("allocations", static_cast<double>(s.allocations));
  return out;
}

// memGetInfo() -> [freeBytes, totalBytes] of the current device, as the driver sees them.
Napi::Value memGetInfo(const Napi::CallbackInfo& info) {
  size_t freeBytes = 0, totalBytes = 0;
  cuda::memGetInfo(&freeBytes, &totalBytes);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, static_cast<double>(freeBytes));
  out.Set(1u, static_cast<double>(totalBytes));
  return out;
}

Napi::Value resetPeakMemory(const Napi::CallbackInfo& info) {
  cuda::resetPeakMemory();
  return info.Env().Undefined();
}

Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  cuda::emptyCache();
  return info.Env().Undefined();
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
  cuda::synchronize();
  return info.Env().Undefined();
}

Napi::Value currentDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cuda::currentDevice()); }

Napi::Value setDevice(const Napi::CallbackInfo& info) {
  cuda::setDevice(static_cast<int>(readInt(info[0], "setDevice")));
  return info.Env().Undefined();
}

Napi::Value setAllowTf32(const Napi::CallbackInfo& info) {
  cuda::setAllowTf32(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value getAllowTf32(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), cuda::allowTf32()); }

}  // namespace

HostView deviceBuffer(const Napi::Value& value, const char* op) {
  DeviceBlock* block = blockOf(value, op);
  return {static_cast<char*>(block->data), block->bytes};
}

bool allowTf32() { return cuda::allowTf32(); }

void registerCudaStorage(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = cudaTable(env, exports);
  cuda.Set("alloc", Napi::Function::New(env, alloc, "alloc"));
  cuda.Set("dispose", Napi::Function::New(env, dispose, "dispose"));
  cuda.Set("readBytes", Napi::Function::New(env, readBytes, "readBytes"));
  cuda.Set("writeBytes", Napi::Function::New(env, writeBytes, "writeBytes"));
  cuda.Set("readScalar", Napi::Function::New(env, readScalar, "readScalar"));
  cuda.Set("hostView", Napi::Function::New(env, hostView, "hostView"));
  cuda.Set("memoryStats", Napi::Function::New(env, memoryStats, "memoryStats"));
  cuda.Set("memGetInfo", Napi::Function::New(env, memGetInfo, "memGetInfo"));
  cuda.Set("resetPeakMemory", Napi::Function::New(env, resetPeakMemory, "resetPeakMemory"));
  cuda.Set("emptyCache", Napi::Function::New(env, emptyCache, "emptyCache"));
  cuda.Set("synchronize", Napi::Function::New(env, synchronize, "synchronize"));
  cuda.Set("currentDevice", Napi::Function::New(env, currentDevice, "currentDevice"));
  cuda.Set("setDevice", Napi::Function::New(env, setDevice, "setDevice"));
  cuda.Set("setAllowTf32", Napi::Function::New(env, setAllowTf32, "setAllowTf32"));
  cuda.Set("getAllowTf32", Napi::Function::New(env, getAllowTf32, "getAllowTf32"));
}

KD_REGISTER(registerCudaStorage);

}  // namespace kd::binding
