#include "binding/storage.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "binding/handles.h"
#include "binding/registry.h"

namespace kd::binding {
namespace {

constexpr size_t kAlignBytes = 64;

struct HostBlock {
  char* data = nullptr;      // null while the slot is free
  size_t bytes = 0;          // requested size (what views expose)
  size_t reserved = 0;       // allocated size (what V8 is told about)
  napi_ref view = nullptr;   // weak reference to the cached zero-copy ArrayBuffer, if one was made
  uint32_t generation = 0;   // bumped on every free, so a stale handle never matches a reused slot
};

// Handles are plain numbers naming a slot and its generation (binding/handles.h). An N-API
// object per allocation would carry a finalizer, and Node runs those only when the event loop turns, which a synchronous
// training loop never lets happen; plain numbers cost nothing to drop. JavaScript frees what it
// forgot through a FinalizationRegistry (lib/backend/storage.ts).
std::vector<HostBlock> gSlots;
std::vector<uint32_t> gFreeSlots;

bool gPoison = false;  // fill new blocks with 0xff (NaN for float32) so unwritten outputs show

void releaseView(napi_env env, HostBlock* block) {
  if (!block->view) return;
  napi_value view;
  if (napi_get_reference_value(env, block->view, &view) == napi_ok && view != nullptr) napi_detach_arraybuffer(env, view);
  napi_delete_reference(env, block->view);
  block->view = nullptr;
}

// The block a handle names, or null when the handle is malformed, stale or already freed.
HostBlock* lookup(const Napi::Value& value) {
  size_t slot;
  uint32_t generation;
  if (!decodeHandle(HandleSpace::Host, value, &slot, &generation) || slot >= gSlots.size()) return nullptr;
  HostBlock* block = &gSlots[slot];
  if (block->generation != generation || !block->data) return nullptr;
  return block;
}

HostBlock* blockOf(const Napi::Value& value, const char* op) {
  HostBlock* block = lookup(value);
  if (!block) throw Napi::Error::New(value.Env(), std::string(op) + ": not a live CPU storage (disposed, or not a kindling handle)");
  return block;
}

// Freed blocks are kept in per-size-class lists and handed out again: a fresh multi-megabyte
// block costs page faults on first touch (several times the cost of the kernel that fills it)
// and, reported to V8, extra garbage collections. V8 is told only about memory taken from or
// returned to the system. The cache is capped; beyond it blocks go back to the system.
constexpr size_t kCacheCapBytes = size_t(1) << 30;
std::unordered_map<size_t, std::vector<char*>> gFreeBlocks;
size_t gCachedBytes = 0;

// The reserved size for a request: 64-byte granules up to 64 KiB, then four classes per power
// of two (at most 25% slack), so blocks of similar tensors are interchangeable.
size_t sizeClass(size_t bytes) {
  if (bytes <= 65536) return std::max<size_t>(kAlignBytes, ((bytes + kAlignBytes - 1) / kAlignBytes) * kAlignBytes);
  size_t top = size_t(1) << (63 - __builtin_clzll(bytes - 1));  // largest power of two below bytes
  size_t step = top / 4;
  return ((bytes + step - 1) / step) * step;
}

char* takeBlock(napi_env env, size_t reserved) {
  auto it = gFreeBlocks.find(reserved);
  if (it != gFreeBlocks.end() && !it->second.empty()) {
    char* data = it->second.back();
    it->second.pop_back();
    gCachedBytes -= reserved;
    return data;
  }
  char* data = static_cast<char*>(std::aligned_alloc(kAlignBytes, reserved));
  if (data) {
    int64_t ignored;
    napi_adjust_external_memory(env, static_cast<int64_t>(reserved), &ignored);
  }
  return data;
}

void returnBlock(napi_env env, char* data, size_t reserved) {
  if (gCachedBytes + reserved <= kCacheCapBytes) {
    gFreeBlocks[reserved].push_back(data);
    gCachedBytes += reserved;
    return;
  }
  std::free(data);
  int64_t ignored;
  napi_adjust_external_memory(env, -static_cast<int64_t>(reserved), &ignored);
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0) || requested > 1e15)
    throw Napi::RangeError::New(env, "alloc: invalid size " + std::to_string(requested) + " bytes");
  size_t bytes = static_cast<size_t>(requested);
  size_t reserved = sizeClass(bytes);
  char* data = takeBlock(env, reserved);
  if (!data) throw Napi::RangeError::New(env, "alloc: out of memory allocating " + std::to_string(bytes) + " bytes");
  if (gPoison) std::memset(data, 0xff, reserved);
  uint32_t slot;
  if (!gFreeSlots.empty()) {
    slot = gFreeSlots.back();
    gFreeSlots.pop_back();
  } else {
    if (gSlots.size() >= static_cast<size_t>(kSlotSpan)) {
      returnBlock(env, data, reserved);
      throw Napi::RangeError::New(env, "alloc: too many live storages");
    }
    slot = static_cast<uint32_t>(gSlots.size());
    gSlots.emplace_back();
  }
  HostBlock& block = gSlots[slot];
  block.data = data;
  block.bytes = bytes;
  block.reserved = reserved;
  return Napi::Number::New(env, encodeHandle(HandleSpace::Host, slot, block.generation));
}

// Returns every cached free block to the system.
Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  int64_t released = 0, ignored;
  for (auto& [reserved, blocks] : gFreeBlocks) {
    for (char* data : blocks) std::free(data);
    released += static_cast<int64_t>(reserved * blocks.size());
    blocks.clear();
  }
  gCachedBytes = 0;
  napi_adjust_external_memory(info.Env(), -released, &ignored);
  return info.Env().Undefined();
}

// Frees a storage; a stale or repeated handle is ignored (dispose is idempotent).
Napi::Value dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = lookup(info[0]);
  if (!block) return env.Undefined();
  releaseView(env, block);
  returnBlock(env, block->data, block->reserved);
  block->data = nullptr;
  block->generation = (block->generation + 1) % kGenerations;
  gFreeSlots.push_back(static_cast<uint32_t>(block - gSlots.data()));
  return env.Undefined();
}

// A zero-copy ArrayBuffer over the whole block (cached: one per block).
Napi::Value hostView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = blockOf(info[0], "hostView");
  if (!block->data) throw Napi::Error::New(env, "hostView: tensor storage was disposed");
  if (block->view) {
    napi_value cached;
    if (napi_get_reference_value(env, block->view, &cached) == napi_ok && cached != nullptr) return Napi::Value(env, cached);
    napi_delete_reference(env, block->view);
    block->view = nullptr;
  }
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, block->data, block->bytes, nullptr, nullptr, &buffer) != napi_ok)
    throw Napi::Error::New(env, "hostView: could not create an ArrayBuffer view");
  napi_create_reference(env, buffer, 0, &block->view);
  return Napi::Value(env, buffer);
}

void checkRange(const Napi::Env& env, const HostBlock* block, double offset, double length, const char* op) {
  if (!block->data) throw Napi::Error::New(env, std::string(op) + ": tensor storage was disposed");
  if (!(offset >= 0) || !(length >= 0) || offset + length > static_cast<double>(block->bytes))
    throw Napi::RangeError::New(env, std::string(op) + ": byte range outside the storage");
}

// readBytes(handle, byteOffset, length) -> a new ArrayBuffer holding a copy.
Napi::Value readBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = blockOf(info[0], "readBytes");
  double offset = info[1].As<Napi::Number>().DoubleValue(), length = info[2].As<Napi::Number>().DoubleValue();
  checkRange(env, block, offset, length, "readBytes");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, static_cast<size_t>(length));
  if (length > 0) std::memcpy(out.Data(), block->data + static_cast<size_t>(offset), static_cast<size_t>(length));
  return out;
}

// writeBytes(handle, byteOffset, typedArray) copies the typed array's bytes in.
Napi::Value writeBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = blockOf(info[0], "writeBytes");
  double offset = info[1].As<Napi::Number>().DoubleValue();
  if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "writeBytes: expected a typed array");
  Napi::TypedArray src = info[2].As<Napi::TypedArray>();
  size_t length = src.ByteLength();
  checkRange(env, block, offset, static_cast<double>(length), "writeBytes");
  if (length > 0) {
    const char* from = static_cast<const char*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    std::memmove(block->data + static_cast<size_t>(offset), from, length);
  }
  return env.Undefined();
}

// readScalar(handle, elementOffset, dtype) -> one element as a number.
Napi::Value readScalar(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = blockOf(info[0], "readScalar");
  double index = info[1].As<Napi::Number>().DoubleValue();
  int code = info[2].As<Napi::Number>().Int32Value();
  size_t size = dtypeBytes(static_cast<DType>(code));
  checkRange(env, block, index * size, size, "readScalar");
  const char* p = block->data + static_cast<size_t>(index) * size;
  double value;
  if (code == static_cast<int>(DType::Float32)) value = *reinterpret_cast<const float*>(p);
  else if (code == static_cast<int>(DType::Int32)) value = *reinterpret_cast<const int32_t*>(p);
  else value = *reinterpret_cast<const uint8_t*>(p) != 0;
  return Napi::Number::New(env, value);
}

Napi::Value setPoison(const Napi::CallbackInfo& info) {
  gPoison = info[0].ToBoolean();
  return info.Env().Undefined();
}

}  // namespace

bool poisonNewBlocks() { return gPoison; }

HostView hostBuffer(const Napi::Value& value, const char* op) {
  HostBlock* block = blockOf(value, op);
  if (!block->data) throw Napi::Error::New(value.Env(), std::string(op) + ": tensor storage was disposed");
  return {block->data, block->bytes};
}

void checkSpan(const HostView& view, int64_t offset, int ndim, const int64_t* shape,
               const int64_t* strides, size_t elemBytes, const char* op) {
  int64_t lo = offset, hi = offset;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] < 0) throw std::range_error(std::string(op) + ": negative dimension");
    if (shape[d] == 0) return;  // nothing is addressed
    int64_t reach = (shape[d] - 1) * strides[d];
    if (reach < 0) lo += reach; else hi += reach;
  }
  if (lo < 0 || static_cast<uint64_t>(hi + 1) * elemBytes > view.bytes)
    throw std::range_error(std::string(op) + ": view reaches outside its storage");
}

void registerStorage(Napi::Env env, Napi::Object exports) {
  exports.Set("alloc", Napi::Function::New(env, alloc, "alloc"));
  exports.Set("dispose", Napi::Function::New(env, dispose, "dispose"));
  exports.Set("emptyCache", Napi::Function::New(env, emptyCache, "emptyCache"));
  exports.Set("hostView", Napi::Function::New(env, hostView, "hostView"));
  exports.Set("readBytes", Napi::Function::New(env, readBytes, "readBytes"));
  exports.Set("writeBytes", Napi::Function::New(env, writeBytes, "writeBytes"));
  exports.Set("readScalar", Napi::Function::New(env, readScalar, "readScalar"));
  exports.Set("setPoison", Napi::Function::New(env, setPoison, "setPoison"));
}

KD_REGISTER(registerStorage);

}  // namespace kd::binding
