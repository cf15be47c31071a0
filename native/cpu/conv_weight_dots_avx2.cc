// The dot-product weight gradient compiled for the avx2 instruction set (flags from CMakeLists.txt).
#define KD_ISA_NS isa_avx2
#include "cpu/conv_weight_dots_impl.h"
