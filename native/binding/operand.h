// Reads one strided operand (buffer, offset, strides) from consecutive arguments and checks that
// it stays inside its storage. Kernels then get a pointer to its first element.
#pragma once
#include <string>

#include "binding/args.h"
#include "binding/storage.h"
#include "common/operand.h"

namespace kd::binding {

struct StridedArg {
  Dims strides;
  Operand operand;
};

// info[at] = buffer, info[at+1] = offset (elements), info[at+2] = strides (elements). `lookup`
// resolves the handle: hostBuffer for CPU storages, deviceBuffer (cuda_storage.h) for CUDA ones.
inline StridedArg readStrided(const Napi::CallbackInfo& info, size_t at, const Dims& shape, DType dtype, const char* op,
                              BufferLookup lookup = hostBuffer) {
  StridedArg arg;
  HostView view = lookup(info[at], op);
  int64_t offset = readInt(info[at + 1], op);
  arg.strides = readDims(info[at + 2], op);
  requireSameLength(info.Env(), shape, arg.strides, op);
  checkSpan(view, offset, shape.n, shape.v, arg.strides.v, dtypeBytes(dtype), op);
  arg.operand = Operand{elementPtr(view, offset, dtypeBytes(dtype)), arg.strides.v};
  return arg;
}

}  // namespace kd::binding
