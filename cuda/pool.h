// 2-D pooling on the GPU, float32 NCHW, PyTorch's semantics (as native/cpu/pool.h). Plain C++:
// device pointers, the stream a cudaStream_t as void*. Errors: std::invalid_argument naming the
// bad argument, std::runtime_error naming the failed CUDA call.
#pragma once

#include <cstdint>

namespace kd::cuda {

struct Pool2dShape {
  int batch = 1, channels = 1, inH = 1, inW = 1;
  int kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padH = 0, padW = 0;
  int dilationH = 1, dilationW = 1;  // max pool only
  bool countIncludePad = true;       // avg pool only (PyTorch default)
  // Output size when given (> 0; ceil mode changes it), else the floor formula.
  int outHeight = 0, outWidth = 0;
  // x's strides in elements (n, c, h, w); all zero: contiguous. Gradients are always contiguous.
  int64_t xStrides[4] = {0, 0, 0, 0};
  int outH() const { return outHeight > 0 ? outHeight : (inH + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1; }
  int outW() const { return outWidth > 0 ? outWidth : (inW + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1; }
};

// indices [batch, C, outH, outW]: argmax as h*inW + w within its input plane (PyTorch's layout);
// ties keep the first maximum, a NaN wins (the last one).
void maxPool2dForward(const Pool2dShape& s, const float* x, float* y, int32_t* indices, void* stream);
// dx (overwritten); indices outside the plane are skipped.
void maxPool2dBackward(const Pool2dShape& s, const float* dy, const int32_t* indices, float* dx, void* stream);
// Dilation must be 1. The divisor is the window clipped to the padded input (countIncludePad) or
// to the input itself.
void avgPool2dForward(const Pool2dShape& s, const float* x, float* y, void* stream);
void avgPool2dBackward(const Pool2dShape& s, const float* dy, float* dx, void* stream);

// Output cell (oy, ox) averages rows [floor(oy*h/oh), ceil((oy+1)*h/oh)) and columns alike.
// Uses batch, channels, inH, inW, outHeight, outWidth and xStrides of s.
void adaptiveAvgPool2dForward(const Pool2dShape& s, const float* x, float* y, void* stream);
void adaptiveAvgPool2dBackward(const Pool2dShape& s, const float* dy, float* dx, void* stream);

}  // namespace kd::cuda
