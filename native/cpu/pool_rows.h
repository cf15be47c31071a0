// Vectorised rows of the 2×2, stride-2, unpadded max pool (cpu/pool_avx2.cc), used by cpu/pool.cc
// when the ISA allows. A row's last, partial group of eight uses masked loads and stores, so
// nothing past the row is read or written.
#pragma once
#include <cstdint>

namespace kd::pool_rows {

// Output row: window ox covers row0/row1 columns 2ox, 2ox+1; `base` is the plane index of
// row0[0] (y·w), so indices come out as y·w + x like the scalar kernel's.
void maxPool2x2RowAvx2(const float* row0, const float* row1, int64_t ow, int32_t base, int32_t w, float* out,
                          int32_t* indices);

// Writes the gradient of every tap of the row's windows (zero where the tap was not the maximum)
// into row0/row1 columns [0, 2·ow). Returns false, having written only part of the row, when an
// index lies outside its own window.
bool maxPool2x2BackwardRowAvx2(const float* gradOut, const int32_t* indices, int64_t ow, int32_t base, int32_t w,
                                  float* row0, float* row1);

}  // namespace kd::pool_rows
