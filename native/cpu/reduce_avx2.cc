// The reduce kernel's float sums compiled for the avx2 instruction set (flags from CMakeLists.txt).
#define KD_ISA_NS isa_avx2
#include "cpu/reduce_sums_impl.h"
