// Element types the kernels understand; codes match lib/dtype.ts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kd {

enum class DType : int { Float32 = 0, Int32 = 1, Bool = 2 };

inline size_t dtypeBytes(DType t) { return t == DType::Bool ? 1 : 4; }

// Most dimensions a kernel accepts; lib/ checks this first and reports a ShapeError.
constexpr int kMaxDims = 16;

}  // namespace kd
