// CPU storage as JavaScript sees it: a numeric handle naming a 64-byte-aligned native block in
// a slot table. dispose() frees the block at once; stale handles are recognised by a generation
// count and rejected. Zero-copy typed-array views (hostView) are made only on request, cached
// per block, and detached on dispose so a stale view reads as empty instead of freed memory.
#pragma once
#include <napi.h>

#include <cstdint>

#include "common/dtype.h"

namespace kd::binding {

struct HostView {
  char* data;
  size_t bytes;
};

// The live block behind a storage handle; throws a JS Error naming `op` if it was disposed.
HostView hostBuffer(const Napi::Value& value, const char* op);

// Resolves a storage handle of one device (hostBuffer, or deviceBuffer for CUDA storages, whose
// HostView holds a device pointer the host never dereferences).
using BufferLookup = HostView (*)(const Napi::Value& value, const char* op);

// Whether new blocks are filled with 0xff (NaN for float32) so unwritten outputs show (tests).
bool poisonNewBlocks();

// Throws unless every element addressed by (offset, shape, strides) lies inside the buffer.
// Strides and offset are in elements of `elemBytes` bytes.
void checkSpan(const HostView& view, int64_t offset, int ndim, const int64_t* shape,
               const int64_t* strides, size_t elemBytes, const char* op);

// A typed pointer to element `offset` of a checked operand.
template <class T = char>
T* elementPtr(const HostView& view, int64_t offset, size_t elemBytes) {
  return reinterpret_cast<T*>(view.data + offset * static_cast<int64_t>(elemBytes));
}

}  // namespace kd::binding
