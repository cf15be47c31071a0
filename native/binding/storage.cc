#include "binding/storage.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "binding/handles.h"
#include "binding/registry.h"
#include "common/scratch.h"

namespace kd::binding {
namespace {

constexpr size_t kAlignBytes = 64;

struct HostBlock {
  char* data = nullptr;      // null while the slot is free
  size_t bytes = 0;          // requested size (what views expose)
  size_t reserved = 0;       // allocated size (what V8 is told about once the block is exposed)
  bool exposed = false;      // reported to V8: its owner may be left to the garbage collector
  napi_ref view = nullptr;   // weak reference to the cached zero-copy ArrayBuffer, if one was made
  uint32_t generation = 0;   // bumped on every free, so a stale handle never matches a reused slot
};

// Handles are plain numbers naming a slot and its generation (binding/handles.h), so kernels
// decode them without touching a JS object. Each Node environment (the main thread, each worker)
// has its own table, cache and counters, reached through the addon's instance data: one
// environment's blocks are never seen, reused or freed by another, and nothing here is shared
// between threads.
struct HostTable {
  std::vector<HostBlock> slots;
  std::vector<uint32_t> freeSlots;
  // Freed blocks kept per size class and handed out again (see takeBlock).
  std::unordered_map<size_t, std::vector<char*>> freeBlocks;
  size_t cachedBytes = 0;
  size_t liveBlocks = 0, liveBytes = 0;  // requested bytes of the blocks in use
  size_t peakLiveBytes = 0;               // the most liveBytes has been (the cache's cap, see returnBlock)
  // View references of blocks the garbage collector freed: deleting a reference is not allowed
  // during a collection, so they are deleted by the next allocation.
  std::vector<napi_ref> staleViews;
};

bool gPoison = false;  // fill new blocks with 0xff (NaN for float32) so unwritten outputs show

HostTable& tableOf(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return *static_cast<HostTable*>(data);
}

void releaseView(napi_env env, HostBlock* block) {
  if (!block->view) return;
  napi_value view;
  if (napi_get_reference_value(env, block->view, &view) == napi_ok && view != nullptr) napi_detach_arraybuffer(env, view);
  napi_delete_reference(env, block->view);
  block->view = nullptr;
}

// The block a handle names, or null when the handle is malformed, stale or already freed.
HostBlock* lookup(HostTable& table, double handle) {
  size_t slot;
  uint32_t generation;
  if (!decodeHandle(HandleSpace::Host, handle, &slot, &generation) || slot >= table.slots.size()) return nullptr;
  HostBlock* block = &table.slots[slot];
  if (block->generation != generation || !block->data) return nullptr;
  return block;
}

HostBlock* lookup(const Napi::Value& value) {
  if (!value.IsNumber()) return nullptr;
  return lookup(tableOf(value.Env()), value.As<Napi::Number>().DoubleValue());
}

HostBlock* blockOf(const Napi::Value& value, const char* op) {
  HostBlock* block = lookup(value);
  if (!block) throw Napi::Error::New(value.Env(), std::string(op) + ": not a live CPU storage (disposed, or not a kindling handle)");
  return block;
}

// Freed blocks are kept in per-size-class lists and handed out again: a fresh multi-megabyte
// block costs page faults on first touch (several times the cost of the kernel that fills it).
// The cache holds at most the larger of kCacheCapBytes and the most bytes ever live at once, so a
// loop whose step frees more than the fixed cap (a 12-layer GPT-2 step frees its 200 MB logits
// past 1 GiB) does not fault a block in again every step; the process stays under its own peak.
// Beyond the cap blocks go back to the system.
constexpr size_t kCacheCapBytes = size_t(1) << 30;

// The reserved size for a request: 64-byte granules up to 64 KiB, then four classes per power
// of two (at most 25% slack), so blocks of similar tensors are interchangeable.
size_t sizeClass(size_t bytes) {
  if (bytes <= 65536) return std::max<size_t>(kAlignBytes, ((bytes + kAlignBytes - 1) / kAlignBytes) * kAlignBytes);
  size_t top = size_t(1) << (63 - __builtin_clzll(bytes - 1));  // largest power of two below bytes
  size_t step = top / 4;
  return ((bytes + step - 1) / step) * step;
}

// V8 is told about the blocks in use that only the garbage collector may free (reserved bytes),
// not about cached ones: its collector starts a collection when this figure has grown by tens of
// megabytes since the last one, which is what frees the storages a loop forgot (freeCollected).
// A block is exposed (counted) when lib/ sees that no tidy scope holds its tensor any more
// (exposeToCollector): a block made and freed inside one training step's scope never counts, so
// the step's temporaries, however large, do not start collections that could free nothing.
void reportToV8(napi_env env, int64_t change) {
  int64_t ignored;
  napi_adjust_external_memory(env, change, &ignored);
}

char* takeBlock(napi_env env, HostTable& table, size_t reserved) {
  char* data = nullptr;
  auto it = table.freeBlocks.find(reserved);
  if (it != table.freeBlocks.end() && !it->second.empty()) {
    data = it->second.back();
    it->second.pop_back();
    table.cachedBytes -= reserved;
  } else {
    // Blocks of 2 MiB and more start on a huge page and are advised to use huge pages (see
    // alignedBlock): a cached block keeps them, so the GEMMs over a training step's big
    // activations and gradients take far fewer TLB misses at no cost per step.
    data = static_cast<char*>(alignedBlock(reserved));
  }
  return data;
}

// Safe during garbage collection: it touches no JS value.
void returnBlock(HostTable& table, char* data, size_t reserved) {
  if (table.cachedBytes + reserved <= std::max(kCacheCapBytes, table.peakLiveBytes)) {
    table.freeBlocks[reserved].push_back(data);
    table.cachedBytes += reserved;
    return;
  }
  std::free(data);
}

// Frees a live block (its view already detached or handed to staleViews).
// Lowering V8's external-memory count never starts a collection, so this is safe during one.
void freeBlock(napi_env env, HostTable& table, HostBlock* block) {
  if (block->exposed) reportToV8(env, -static_cast<int64_t>(block->reserved));
  block->exposed = false;
  returnBlock(table, block->data, block->reserved);
  table.liveBlocks--;
  table.liveBytes -= block->bytes;
  block->data = nullptr;
  block->generation = (block->generation + 1) % kGenerations;
  table.freeSlots.push_back(static_cast<uint32_t>(block - table.slots.data()));
}

void deleteStaleViews(napi_env env, HostTable& table) {
  for (napi_ref ref : table.staleViews) napi_delete_reference(env, ref);
  table.staleViews.clear();
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostTable& table = tableOf(env);
  if (!table.staleViews.empty()) deleteStaleViews(env, table);
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0) || requested > 1e15)
    throw Napi::RangeError::New(env, "alloc: invalid size " + std::to_string(requested) + " bytes");
  size_t bytes = static_cast<size_t>(requested);
  size_t reserved = sizeClass(bytes);
  char* data = takeBlock(env, table, reserved);
  if (!data) throw Napi::RangeError::New(env, "alloc: out of memory allocating " + std::to_string(bytes) + " bytes");
  if (gPoison) std::memset(data, 0xff, reserved);
  uint32_t slot;
  if (!table.freeSlots.empty()) {
    slot = table.freeSlots.back();
    table.freeSlots.pop_back();
  } else {
    if (table.slots.size() >= static_cast<size_t>(kSlotSpan)) {
      returnBlock(table, data, reserved);
      throw Napi::RangeError::New(env, "alloc: too many live storages");
    }
    slot = static_cast<uint32_t>(table.slots.size());
    table.slots.emplace_back();
  }
  HostBlock& block = table.slots[slot];
  block.data = data;
  block.bytes = bytes;
  block.reserved = reserved;
  table.liveBlocks++;
  table.liveBytes += bytes;
  table.peakLiveBytes = std::max(table.peakLiveBytes, table.liveBytes);
  const double handle = encodeHandle(HandleSpace::Host, slot, block.generation);
  return Napi::Number::New(env, handle);
}

// Runs inside the garbage collector (the addon declares the experimental Node-API version, under
// which Node calls finalizers directly from the collection instead of when the event loop next
// turns): frees the block its owner named, unless it was disposed already. A synchronous loop
// that never yields to the event loop thus gets its forgotten storages back at every collection.
void freeCollected(napi_env env, void* data, void* /*hint*/) {
  HostTable& table = tableOf(env);
  HostBlock* block = lookup(table, static_cast<double>(reinterpret_cast<uintptr_t>(data)));
  if (!block) return;
  if (block->view) {
    table.staleViews.push_back(block->view);
    block->view = nullptr;
  }
  freeBlock(env, table, block);
}

// freeWhenCollected(owner, handle): frees the storage when `owner` (lib/backend/storage.ts's
// Storage object) is garbage-collected, if it was not disposed before.
Napi::Value freeWhenCollected(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "freeWhenCollected: expected an owner object");
  blockOf(info[1], "freeWhenCollected");
  const auto handle = static_cast<uintptr_t>(info[1].As<Napi::Number>().DoubleValue());
  if (napi_add_finalizer(env, info[0], reinterpret_cast<void*>(handle), freeCollected, nullptr, nullptr) != napi_ok)
    throw Napi::Error::New(env, "freeWhenCollected: could not attach a finalizer");
  return env.Undefined();
}

// exposeToCollector(handle): counts the block in V8's external memory from now until it is freed
// (once; a stale handle is ignored). lib/backend/storage.ts calls it when a tensor over the block
// is held by no tidy scope, so that only the garbage collector may free it.
Napi::Value exposeToCollector(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = lookup(info[0]);
  if (block && !block->exposed) {
    block->exposed = true;
    reportToV8(env, static_cast<int64_t>(block->reserved));
  }
  return env.Undefined();
}

// Returns every cached free block to the system.
Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  HostTable& table = tableOf(info.Env());
  for (auto& [reserved, blocks] : table.freeBlocks) {
    for (char* data : blocks) std::free(data);
    blocks.clear();
  }
  table.cachedBytes = 0;
  return info.Env().Undefined();
}

// Frees a storage; a stale or repeated handle is ignored (dispose is idempotent).
Napi::Value dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = lookup(info[0]);
  if (!block) return env.Undefined();
  releaseView(env, block);
  freeBlock(env, tableOf(env), block);
  return env.Undefined();
}

// { blocks, bytes, cachedBytes }: the blocks in use and their requested bytes, and what the
// cache holds for reuse, in this environment.
Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostTable& table = tableOf(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("blocks", Napi::Number::New(env, static_cast<double>(table.liveBlocks)));
  out.Set("bytes", Napi::Number::New(env, static_cast<double>(table.liveBytes)));
  out.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(table.cachedBytes)));
  return out;
}

// A zero-copy ArrayBuffer over the whole block (cached: one per block). It does not keep the
// block alive: lib/tensor.ts ties the buffer to its Storage so that the block outlives it.
Napi::Value hostView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = blockOf(info[0], "hostView");
  if (block->view) {
    napi_value cached;
    if (napi_get_reference_value(env, block->view, &cached) == napi_ok && cached != nullptr) return Napi::Value(env, cached);
    napi_delete_reference(env, block->view);
    block->view = nullptr;
  }
  napi_value buffer;
  napi_ref ref;
  if (napi_create_external_arraybuffer(env, block->data, block->bytes, nullptr, nullptr, &buffer) != napi_ok ||
      napi_create_reference(env, buffer, 0, &ref) != napi_ok)
    throw Napi::Error::New(env, "hostView: could not create an ArrayBuffer view");
  // Creating the buffer may have run a collection; the block is live (its tensor is in use),
  // but its slot entry is looked up again rather than trusted across the allocation.
  blockOf(info[0], "hostView")->view = ref;
  return Napi::Value(env, buffer);
}

void checkRange(const Napi::Env& env, const HostBlock* block, double offset, double length, const char* op) {
  if (!(offset >= 0) || !(length >= 0) || offset + length > static_cast<double>(block->bytes))
    throw Napi::RangeError::New(env, std::string(op) + ": byte range outside the storage");
}

// readBytes(handle, byteOffset, length) -> a new ArrayBuffer holding a copy.
Napi::Value readBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double offset = info[1].As<Napi::Number>().DoubleValue(), length = info[2].As<Napi::Number>().DoubleValue();
  checkRange(env, blockOf(info[0], "readBytes"), offset, length, "readBytes");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, static_cast<size_t>(length));
  // Looked up after the allocation, which may have run a collection.
  HostBlock* block = blockOf(info[0], "readBytes");
  if (length > 0) std::memcpy(out.Data(), block->data + static_cast<size_t>(offset), static_cast<size_t>(length));
  return out;
}

// writeBytes(handle, byteOffset, typedArray) copies the typed array's bytes in.
Napi::Value writeBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double offset = info[1].As<Napi::Number>().DoubleValue();
  if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "writeBytes: expected a typed array");
  Napi::TypedArray src = info[2].As<Napi::TypedArray>();
  size_t length = src.ByteLength();
  const char* from = static_cast<const char*>(src.ArrayBuffer().Data()) + src.ByteOffset();
  HostBlock* block = blockOf(info[0], "writeBytes");
  checkRange(env, block, offset, static_cast<double>(length), "writeBytes");
  if (length > 0) std::memmove(block->data + static_cast<size_t>(offset), from, length);
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

// When an environment ends (a worker exits), its blocks go back to the system. The table object
// itself is left allocated and empty: a finalizer Node runs during teardown after this one then
// finds no slot and does nothing.
void releaseTable(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* table = static_cast<HostTable*>(data);
  for (HostBlock& block : table->slots) std::free(block.data);
  for (auto& [reserved, blocks] : table->freeBlocks)
    for (char* p : blocks) std::free(p);
  table->slots.clear();
  table->slots.shrink_to_fit();
  table->freeSlots.clear();
  table->freeBlocks.clear();
  table->staleViews.clear();
}

}  // namespace

bool poisonNewBlocks() { return gPoison; }

HostView hostBuffer(const Napi::Value& value, const char* op) {
  HostBlock* block = blockOf(value, op);
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
  if (napi_set_instance_data(env, new HostTable(), releaseTable, nullptr) != napi_ok)
    throw Napi::Error::New(env, "kindling: could not set up the storage table");
  exports.Set("alloc", Napi::Function::New(env, alloc, "alloc"));
  exports.Set("dispose", Napi::Function::New(env, dispose, "dispose"));
  exports.Set("freeWhenCollected", Napi::Function::New(env, freeWhenCollected, "freeWhenCollected"));
  exports.Set("exposeToCollector", Napi::Function::New(env, exposeToCollector, "exposeToCollector"));
  exports.Set("memoryStats", Napi::Function::New(env, memoryStats, "memoryStats"));
  exports.Set("emptyCache", Napi::Function::New(env, emptyCache, "emptyCache"));
  exports.Set("hostView", Napi::Function::New(env, hostView, "hostView"));
  exports.Set("readBytes", Napi::Function::New(env, readBytes, "readBytes"));
  exports.Set("writeBytes", Napi::Function::New(env, writeBytes, "writeBytes"));
  exports.Set("readScalar", Napi::Function::New(env, readScalar, "readScalar"));
  exports.Set("setPoison", Napi::Function::New(env, setPoison, "setPoison"));
}

KD_REGISTER(registerStorage);

}  // namespace kd::binding
