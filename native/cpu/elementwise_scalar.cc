// Elementwise kernels compiled for the scalar instruction set (flags from CMakeLists.txt).
#define KD_ISA_NS isa_scalar
#include "cpu/elementwise_impl.h"
