#include "binding/storage.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "binding/registry.h"

namespace kd::binding {
namespace {

constexpr size_t kAlignBytes = 64;

// Owned by the ArrayBuffer's finalizer; `data` is null once dispose() freed the block.
struct HostBlock {
  std::atomic<char*> data;
  size_t bytes;
};

bool gPoison = false;  // fill new blocks with 0xff (NaN for float32) so unwritten outputs show

void releaseBlock(napi_env env, HostBlock* block) {
  char* data = block->data.exchange(nullptr);
  if (data) {
    std::free(data);
    int64_t ignored;
    napi_adjust_external_memory(env, -static_cast<int64_t>(block->bytes), &ignored);
  }
}

void finalizeBlock(napi_env env, void* /*data*/, void* hint) {
  auto* block = static_cast<HostBlock*>(hint);
  releaseBlock(env, block);
  delete block;
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0) || requested > 1e15)
    throw Napi::RangeError::New(env, "alloc: invalid size " + std::to_string(requested) + " bytes");
  size_t bytes = static_cast<size_t>(requested);
  size_t rounded = ((bytes + kAlignBytes - 1) / kAlignBytes) * kAlignBytes;
  if (rounded == 0) rounded = kAlignBytes;
  char* data = static_cast<char*>(std::aligned_alloc(kAlignBytes, rounded));
  if (!data) throw Napi::RangeError::New(env, "alloc: out of memory allocating " + std::to_string(bytes) + " bytes");
  if (gPoison) std::memset(data, 0xff, rounded);
  auto* block = new HostBlock{{data}, rounded};
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(env, data, bytes, finalizeBlock, block, &buffer);
  if (status != napi_ok) {
    std::free(data);
    delete block;
    throw Napi::Error::New(env, "alloc: could not create an external ArrayBuffer");
  }
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>(rounded), &ignored);
  // Keep the block reachable from the buffer for dispose(): store it as a wrapped pointer.
  napi_wrap(env, buffer, block, nullptr, nullptr, nullptr);
  return Napi::Value(env, buffer);
}

HostBlock* blockOf(const Napi::Value& value) {
  void* ptr = nullptr;
  if (!value.IsArrayBuffer() || napi_unwrap(value.Env(), value, &ptr) != napi_ok) return nullptr;
  return static_cast<HostBlock*>(ptr);
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = blockOf(info[0]);
  if (!block) throw Napi::TypeError::New(env, "dispose: not a kindling storage");
  if (block->data.load()) {
    napi_detach_arraybuffer(env, info[0]);
    releaseBlock(env, block);
  }
  return env.Undefined();
}

Napi::Value setPoison(const Napi::CallbackInfo& info) {
  gPoison = info[0].ToBoolean();
  return info.Env().Undefined();
}

}  // namespace

HostView hostBuffer(const Napi::Value& value, const char* op) {
  HostBlock* block = blockOf(value);
  if (!block) throw Napi::TypeError::New(value.Env(), std::string(op) + ": expected a CPU storage");
  char* data = block->data.load();
  if (!data) throw Napi::Error::New(value.Env(), std::string(op) + ": tensor storage was disposed");
  return {data, block->bytes};
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
  exports.Set("setPoison", Napi::Function::New(env, setPoison, "setPoison"));
}

}  // namespace kd::binding
