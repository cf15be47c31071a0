#include "binding/storage.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "binding/registry.h"

namespace kd::binding {
namespace {

constexpr size_t kAlignBytes = 64;

struct HostBlock {
  char* data;        // null once freed
  size_t bytes;      // requested size (what views expose)
  size_t reserved;   // allocated size (what V8 is told about)
  napi_ref view;     // weak reference to the cached zero-copy ArrayBuffer, if one was made
};

bool gPoison = false;  // fill new blocks with 0xff (NaN for float32) so unwritten outputs show

void freeData(napi_env env, HostBlock* block) {
  if (!block->data) return;
  std::free(block->data);
  block->data = nullptr;
  int64_t ignored;
  napi_adjust_external_memory(env, -static_cast<int64_t>(block->reserved), &ignored);
}

void finalizeBlock(napi_env env, void* data, void* /*hint*/) {
  auto* block = static_cast<HostBlock*>(data);
  freeData(env, block);
  if (block->view) napi_delete_reference(env, block->view);
  delete block;
}

HostBlock* blockOf(const Napi::Value& value, const char* op) {
  if (!value.IsExternal()) throw Napi::TypeError::New(value.Env(), std::string(op) + ": expected a CPU storage handle");
  return value.As<Napi::External<HostBlock>>().Data();
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0) || requested > 1e15)
    throw Napi::RangeError::New(env, "alloc: invalid size " + std::to_string(requested) + " bytes");
  size_t bytes = static_cast<size_t>(requested);
  size_t reserved = ((bytes + kAlignBytes - 1) / kAlignBytes) * kAlignBytes;
  if (reserved == 0) reserved = kAlignBytes;
  char* data = static_cast<char*>(std::aligned_alloc(kAlignBytes, reserved));
  if (!data) throw Napi::RangeError::New(env, "alloc: out of memory allocating " + std::to_string(bytes) + " bytes");
  if (gPoison) std::memset(data, 0xff, reserved);
  auto* block = new HostBlock{data, bytes, reserved, nullptr};
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>(reserved), &ignored);
  return Napi::External<HostBlock>::New(env, block, [](Napi::Env e, HostBlock* b) { finalizeBlock(e, b, nullptr); });
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HostBlock* block = blockOf(info[0], "dispose");
  if (block->view) {
    napi_value view;
    if (napi_get_reference_value(env, block->view, &view) == napi_ok && view != nullptr)
      napi_detach_arraybuffer(env, view);
    napi_delete_reference(env, block->view);
    block->view = nullptr;
  }
  freeData(env, block);
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
  exports.Set("hostView", Napi::Function::New(env, hostView, "hostView"));
  exports.Set("readBytes", Napi::Function::New(env, readBytes, "readBytes"));
  exports.Set("writeBytes", Napi::Function::New(env, writeBytes, "writeBytes"));
  exports.Set("readScalar", Napi::Function::New(env, readScalar, "readScalar"));
  exports.Set("setPoison", Napi::Function::New(env, setPoison, "setPoison"));
}

}  // namespace kd::binding
