// Dropout as one elementwise pass whose mask is a pure function of (seed, element index), on both
// devices:  out[i] = x[i] · (dropoutUniform(seed, i) >= p ? scale : 0),  scale = 1 / (1 - p) rounded
// to float once (a product, as PyTorch's x · mask · scale: a dropped inf or NaN gives NaN). The
// backward is the same call on the gradient with the same seed, so the mask is never stored.
// x and out are contiguous float32 runs of n elements (out may be x).
//   CPU  native/cpu/dropout.cc: threaded over blocks of elements; the loop (dropout_impl.h) built
//        per ISA, the hash vectorised.
//   CUDA cuda/dropout.cu: one thread per element; device pointers, cuda::stream().
// The hash is attention dropout's counter-based generator (common/attention.h), compiled for the
// host and, in cuda/dropout.cu, for the device, so both devices drop the same elements given the
// seed: element i is column i mod kDropoutBlock of row i / kDropoutBlock, offset 0.
#pragma once
#include <cstdint>

#include "common/attention.h"

namespace kd {

// Elements share a 64-bit key per block of kDropoutBlock; within a block a 32-bit hash of the
// key and the element's position gives 24 random bits (cheap enough to vectorise).
constexpr int64_t kDropoutBlock = 1 << 16;

KD_ATTENTION_HD inline uint64_t dropoutBlockKey(uint64_t seed, uint64_t block) { return attentionDropoutRowKey(seed, 0, block); }

// A uniform in [0, 1) with 24 random bits for position j of the block with this key.
KD_ATTENTION_HD inline float dropoutUniform(uint64_t blockKey, uint32_t j) { return attentionDropoutUniform(blockKey, j); }

// The factor on kept elements: 1 / (1 - p) in double, rounded to float (0 when p is 1).
KD_ATTENTION_HD inline float dropoutScale(double p) { return p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f; }

// p in [0, 1]; with p = 1 every element is dropped.
void dropoutApply(int64_t n, double p, uint64_t seed, const float* x, float* out);

// The float64 reference: the same mask, x · (1 / (1 - p)) in double.
void dropoutApplyRef(int64_t n, double p, uint64_t seed, const double* x, double* out);

namespace cuda {
void dropoutApply(int64_t n, double p, uint64_t seed, const float* x, float* out);
}  // namespace cuda

}  // namespace kd
