// The row-wise fused kernels compiled for the avx2 instruction set (flags from CMakeLists.txt).
#define KD_ISA_NS isa_avx2
#include "cpu/fused_rows_impl.h"
