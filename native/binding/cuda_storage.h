// CUDA storage as JavaScript sees it: like CPU storage (storage.h) a numeric handle naming a slot
// of a table, but of a separate table whose handles are negative numbers, so a CUDA handle given
// to a CPU entry point (or the reverse) is rejected instead of naming someone else's block.
// Blocks come from the caching allocator (cuda/runtime.h); memory is tracked in its statistics,
// not reported to V8 (napi_adjust_external_memory is about host memory).
#pragma once
#include <napi.h>

#include "binding/storage.h"

namespace kd::binding {

// The live device block behind a CUDA storage handle (data is a device pointer); throws a JS
// Error naming `op` if the handle is stale or not a CUDA storage.
HostView deviceBuffer(const Napi::Value& value, const char* op);

// Whether float32 GEMMs and convolutions may use TF32 tensor cores (cuda::allowTf32, set by
// kd.cuda.setAllowTF32; default true).
bool allowTf32();

}  // namespace kd::binding
