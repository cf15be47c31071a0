// Reductions on the GPU: sum, mean, prod, max, min, argmax, argmin over any set of dims of a
// strided input (common/reduce.h), with the CPU's semantics: sums and products accumulate in
// double; max/min/arg* take the first occurrence and NaN wins (its first occurrence); the mean
// of nothing is NaN, the max/min of nothing 0. Device pointers; enqueued on the current stream.
#pragma once
#include "common/reduce.h"

namespace kd::cuda {

void reduce(const ReduceArgs& args);

}  // namespace kd::cuda
