// conv2dPooledBackward's image loop compiled for AVX2+FMA (see conv_pooled_impl.h).
#include "cpu/conv_pooled_impl.h"

namespace kd::conv_pooled_detail {

void rangeAvx2(const Work& w, int64_t n0, int64_t n1) { pooledRange(w, n0, n1); }

}  // namespace kd::conv_pooled_detail
