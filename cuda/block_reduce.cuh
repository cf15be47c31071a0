// Block-wide sums for one-block-per-row (or per-channel) kernels (batchnorm.cu, fused_rows.cu).
#pragma once

namespace kd::cuda::detail {

// Every thread of a kWarps-warp block gets the block's sums of a and b (warp shuffles, then one
// shared-memory pass). Ends with a barrier, so it may be called again at once.
template <int kWarps>
__device__ void blockSums(double& a, double& b) {
  __shared__ double partial[2][kWarps];
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    a += __shfl_xor_sync(0xffffffffu, a, d);
    b += __shfl_xor_sync(0xffffffffu, b, d);
  }
  if (threadIdx.x % 32 == 0) {
    partial[0][threadIdx.x / 32] = a;
    partial[1][threadIdx.x / 32] = b;
  }
  __syncthreads();
  a = b = 0;
  for (int w = 0; w < kWarps; ++w) {
    a += partial[0][w];
    b += partial[1][w];
  }
  __syncthreads();
}

}  // namespace kd::cuda::detail
