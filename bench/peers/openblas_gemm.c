/* OpenBLAS's cblas_sgemm, timed the way bench/common.ts times kindling: warm-up, then repeats
 * until at least 0.3 s, best run reported. Built and run by bench/gemm.ts when libopenblas is
 * installed; threads come from OPENBLAS_NUM_THREADS in the environment.
 *   usage: openblas_gemm m n k [ta tb]   prints one line: GFLOP/s of C = op(A)·op(B), row-major;
 *   ta / tb = 1 stores A as k×m / B as n×k and multiplies by its transpose (default 0 0). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    fprintf(stderr, "usage: %s m n k [ta tb]\n", argv[0]);
    return 2;
  }
  const int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]);
  const int ta = argc == 6 && atoi(argv[4]), tb = argc == 6 && atoi(argv[5]);
  const enum CBLAS_TRANSPOSE opA = ta ? CblasTrans : CblasNoTrans, opB = tb ? CblasTrans : CblasNoTrans;
  const int lda = ta ? m : k, ldb = tb ? k : n;
  float* a = malloc(sizeof(float) * (size_t)m * k);
  float* b = malloc(sizeof(float) * (size_t)k * n);
  float* c = malloc(sizeof(float) * (size_t)m * n);
  if (!a || !b || !c) return 1;
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;

  for (int i = 0; i < 2; i++)
    cblas_sgemm(CblasRowMajor, opA, opB, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
  double best = 1e30, total = 0;
  int runs = 0;
  while (total < 0.3 || runs < 3) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, opA, opB, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    double dt = now() - t0;
    if (dt < best) best = dt;
    total += dt;
    runs++;
  }
  printf("%.3f\n", 2.0 * m * n * k / best * 1e-9);
  free(a);
  free(b);
  free(c);
  return 0;
}
