// Elementwise kernels compiled for the avx512 instruction set (flags from CMakeLists.txt).
#define KD_ISA_NS isa_avx512
#include "cpu/elementwise_impl.h"
