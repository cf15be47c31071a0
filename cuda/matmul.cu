// Layout mapping for the strided GEMM call (cuda::matmul, common/gemm.h) onto the tiled kernel of
// gemm.cu: each operand is mapped onto cuda::gemm's (pointer, pitch, transposed) form when one of
// its strides is 1; C with unit row stride is computed transposed (C^T = B^T A^T); any other
// layout goes through a dense temporary made by the strided copy kernel.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <memory>
#include <utility>

#include "common/dtype.h"
#include "common/elementwise.h"
#include "common/gemm.h"
#include "runtime.h"

namespace kd::cuda {
namespace {

// A rows x cols operand as gemm() reads it: row-major with pitch ld, or (trans) stored
// transposed, cols x rows with pitch ld. False when neither stride is usable.
bool asPitched(int64_t rows, int64_t cols, const StridedMatrix& x, int64_t& ld, bool& trans) {
  if (x.rowStride < 0 || x.colStride < 0 || x.batchStride < 0) return false;
  if (cols == 1 || x.colStride == 1) {
    ld = rows == 1 ? cols : x.rowStride;
    trans = false;
    if (ld >= cols) return true;
  }
  if (rows == 1 || x.rowStride == 1) {
    ld = cols == 1 ? rows : x.colStride;
    trans = true;
    if (ld >= rows) return true;
  }
  return false;
}

// A device block freed when the scope ends (stream order makes the early free safe).
struct DeviceTemp {
  void* data = nullptr;
  size_t reserved = 0;
  explicit DeviceTemp(size_t bytes) { data = deviceAlloc(bytes, &reserved); }
  ~DeviceTemp() { deviceFree(data, reserved); }
  DeviceTemp(const DeviceTemp&) = delete;
  DeviceTemp& operator=(const DeviceTemp&) = delete;
};

// Copies between a strided [batch, rows, cols] view and a dense one.
void copyMatrix(int64_t batch, int64_t rows, int64_t cols, const StridedMatrix& from, const StridedMatrix& to) {
  const int64_t shape[3] = {batch, rows, cols};
  const int64_t fromStrides[3] = {from.batchStride, from.rowStride, from.colStride};
  const int64_t toStrides[3] = {to.batchStride, to.rowStride, to.colStride};
  cast(kd::DType::Float32, kd::DType::Float32, 3, shape, Operand{reinterpret_cast<char*>(to.data), toStrides},
       Operand{reinterpret_cast<char*>(from.data), fromStrides});
}

StridedMatrix denseLayout(float* data, int64_t rows, int64_t cols) { return StridedMatrix{data, cols, 1, rows * cols}; }

void checkSize(int64_t v, const char* what) {
  if (v < 1 || v > 2147483647) throw std::invalid_argument(std::string("matmul: ") + what + " " + std::to_string(v) + " out of range");
}

}  // namespace

void matmul(int64_t m, int64_t n, int64_t k, int64_t batch, StridedMatrix a, StridedMatrix b, StridedMatrix c,
            float alpha, float beta, bool tf32) {
  if (m == 0 || n == 0 || batch == 0) return;
  checkSize(m, "m");
  checkSize(n, "n");
  checkSize(batch, "batch");
  if (k == 0) {  // C = beta C: no product to add
    const int64_t shape[3] = {batch, m, n};
    const int64_t strides[3] = {c.batchStride, c.rowStride, c.colStride};
    const Operand co{reinterpret_cast<char*>(c.data), strides};
    if (beta == 0.f) fill(kd::DType::Float32, 0.0, 3, shape, co);
    else unary(UnaryOp::MulScalar, kd::DType::Float32, beta, 0.0, 3, shape, co, co);
    return;
  }
  checkSize(k, "k");
  if (batch == 1) a.batchStride = b.batchStride = c.batchStride = 0;

  // C must be row-major (unit column stride); with a unit row stride compute C^T = B^T A^T.
  int64_t ldc;
  bool cTrans;
  bool cDirect = asPitched(m, n, c, ldc, cTrans) && (c.batchStride > 0 || batch == 1);
  if (cDirect && cTrans) {
    std::swap(a, b);
    std::swap(m, n);
    std::swap(a.rowStride, a.colStride);
    std::swap(b.rowStride, b.colStride);
    std::swap(c.rowStride, c.colStride);
  }
  std::unique_ptr<DeviceTemp> cTemp;
  StridedMatrix cOut = c;
  if (!cDirect) {  // overlapping or scattered output: compute into a dense block, copy back
    cTemp = std::make_unique<DeviceTemp>(size_t(batch * m * n) * sizeof(float));
    cOut = denseLayout(static_cast<float*>(cTemp->data), m, n);
    if (beta != 0.f) copyMatrix(batch, m, n, c, cOut);
    ldc = n;
  }

  GemmArgs g;
  g.m = int(m);
  g.n = int(n);
  g.k = int(k);
  g.math = tf32 ? MathMode::TF32 : MathMode::ExactF32;
  g.alpha = alpha;
  g.beta = beta;
  // An input with no unit stride is copied into a dense temporary first.
  auto pitchedInput = [&](int64_t rows, int64_t cols, const StridedMatrix& x, int64_t& ld, bool& trans,
                          std::unique_ptr<DeviceTemp>& temp) {
    if (asPitched(rows, cols, x, ld, trans)) return x;
    temp = std::make_unique<DeviceTemp>(size_t(batch * rows * cols) * sizeof(float));
    const StridedMatrix dense = denseLayout(static_cast<float*>(temp->data), rows, cols);
    copyMatrix(batch, rows, cols, x, dense);
    ld = cols;
    trans = false;
    return dense;
  };
  std::unique_ptr<DeviceTemp> aTemp, bTemp;
  const StridedMatrix aIn = pitchedInput(m, k, a, g.lda, g.transA, aTemp);
  const StridedMatrix bIn = pitchedInput(k, n, b, g.ldb, g.transB, bTemp);
  g.ldc = ldc;
  g.strideA = batch == 1 ? 0 : aIn.batchStride;
  g.strideB = batch == 1 ? 0 : bIn.batchStride;
  g.strideC = batch == 1 ? 0 : cOut.batchStride;
  // The kernel's grid has at most 65535 batch entries per launch.
  for (int64_t z0 = 0; z0 < batch; z0 += 65535) {
    g.batch = int(std::min<int64_t>(65535, batch - z0));
    g.a = aIn.data + z0 * g.strideA;
    g.b = bIn.data + z0 * g.strideB;
    g.c = cOut.data + z0 * g.strideC;
    gemm(g, stream());
  }
  if (cTemp) copyMatrix(batch, m, n, cOut, c);
}

}  // namespace kd::cuda
