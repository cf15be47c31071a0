// Batch-norm kernels compiled for the avx2 instruction set (flags from CMakeLists.txt).
#define KD_ISA_NS isa_avx2
#define KD_BATCHNORM_VECTOR_BYTES 32
#include "cpu/batchnorm_impl.h"
