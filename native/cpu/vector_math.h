// Tells the compiler that glibc's vector math library (libmvec, glibc >= 2.35) has SIMD variants
// of these functions, so loops calling them vectorise (e.g. expf -> _ZGVdN8v_expf on AVX2).
// glibc declares them itself only under full -ffast-math, which would also let the compiler
// assume no NaN or infinity; we keep those, so we declare the variants here.
#pragma once

extern "C" {
#define KD_SIMD_VARIANT __attribute__((simd("notinbranch"))) float
KD_SIMD_VARIANT expf(float) noexcept;
KD_SIMD_VARIANT logf(float) noexcept;
KD_SIMD_VARIANT sinf(float) noexcept;
KD_SIMD_VARIANT cosf(float) noexcept;
KD_SIMD_VARIANT tanhf(float) noexcept;
KD_SIMD_VARIANT erff(float) noexcept;
KD_SIMD_VARIANT erfcf(float) noexcept;
KD_SIMD_VARIANT log1pf(float) noexcept;
KD_SIMD_VARIANT expm1f(float) noexcept;
#undef KD_SIMD_VARIANT
}
