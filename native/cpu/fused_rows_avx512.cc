// The row-wise fused kernels compiled for AVX-512 (flags from CMakeLists.txt): 16-lane maps for
// the passes bound by exp and the GELU polynomial rather than by memory.
#define KD_ISA_NS isa_avx512
#include "cpu/fused_rows_impl.h"
