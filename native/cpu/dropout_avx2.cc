// The dropout block loop compiled for the avx2 instruction set (flags from CMakeLists.txt).
#define KD_ISA_NS isa_avx2
#include "cpu/dropout_impl.h"
