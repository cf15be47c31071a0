// Entry points for gather / indexSelect (one gather kernel) and scatterAdd / indexAdd (one
// scatter-add kernel). Every operand's span is checked against its storage here; index values
// are checked by the kernels. On the CPU a bad index comes back as [position, value] for lib/ to
// report; success returns null. CUDA calls always return null: the kernels record a bad index on
// the device and the next read throws it, naming the op (cuda/index.cu).
#include <string>

#include "binding/operand.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/index.h"

namespace kd::binding {
namespace {

// The CPU kernels report a bad index at once, so lib/ names the op; the CUDA ones report it later
// (at the next read) and are given the op's name and dim for that.
struct CpuKernels : CpuTarget {
  static BadIndex firstBadIndex(const char*, int, int ndim, const int64_t* shape, Operand index, int64_t bound) {
    return kd::firstBadIndex(ndim, shape, index, bound);
  }
  static BadIndex gather(const char*, DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                         Operand out, Operand index, Operand x) {
    return gatherKernel(dtype, ndim, shape, dim, dimSize, out, index, x);
  }
  static BadIndex scatterAdd(const char*, DType dtype, int ndim, const int64_t* shape, int dim, int64_t dimSize,
                             Operand out, Operand index, Operand src) {
    return scatterAddKernel(dtype, ndim, shape, dim, dimSize, out, index, src);
  }
};

struct CudaKernels : CudaTarget {
  static constexpr auto firstBadIndex = cuda::firstBadIndex;
  static constexpr auto gather = cuda::gather;
  static constexpr auto scatterAdd = cuda::scatterAdd;
};

Napi::Value report(const Napi::Env& env, const BadIndex& bad) {
  if (bad.position < 0) return env.Null();
  Napi::Array arr = Napi::Array::New(env, 2);
  arr.Set(0u, Napi::Number::New(env, static_cast<double>(bad.position)));
  arr.Set(1u, Napi::Number::New(env, static_cast<double>(bad.value)));
  return arr;
}

int readDim(const Napi::Value& value, int ndim, const char* op) {
  int64_t dim = readInt(value, op);
  if (ndim < 1 || dim < 0 || dim >= ndim) throw Napi::RangeError::New(value.Env(), std::string(op) + ": dim out of range");
  return static_cast<int>(dim);
}

// The walked shape may not exceed the indexed operand's shape off `dim`.
void requireWithin(const Napi::Env& env, const Dims& walked, const Dims& indexed, int dim, const char* op) {
  if (walked.n != indexed.n) throw Napi::RangeError::New(env, std::string(op) + ": operands differ in rank");
  for (int d = 0; d < walked.n; ++d)
    if (d != dim && walked.v[d] > indexed.v[d]) throw Napi::RangeError::New(env, std::string(op) + ": index larger than the indexed tensor");
}

// A 1-d index (buffer, offset, stride, length) at info[at..at+3], checked against its storage.
struct VectorIndex {
  int64_t length;
  int64_t stride;
  char* data;
};

VectorIndex readVectorIndex(const Napi::CallbackInfo& info, size_t at, const char* op, BufferLookup lookup) {
  HostView view = lookup(info[at], op);
  int64_t offset = readInt(info[at + 1], op);
  VectorIndex vi{readInt(info[at + 3], op), readInt(info[at + 2], op), nullptr};
  checkSpan(view, offset, 1, &vi.length, &vi.stride, sizeof(int32_t), op);
  vi.data = elementPtr(view, offset, sizeof(int32_t));
  return vi;
}

DType readValueType(const Napi::CallbackInfo& info, bool allowBool, const char* op) {
  DType dtype = readDType(info[0], op);
  if (!allowBool && dtype == DType::Bool) throw Napi::TypeError::New(info.Env(), std::string(op) + ": bool is not supported");
  return dtype;
}

// gather(dtype, dim, indexShape, out, outOffset, outStrides, index, indexOffset, indexStrides,
//        xShape, x, xOffset, xStrides)
template <class Target>
Napi::Value gather(const Napi::CallbackInfo& info) {
  const char* name = "gather";
  DType dtype = readValueType(info, true, name);
  Dims shape = readDims(info[2], name);
  int dim = readDim(info[1], shape.n, name);
  StridedArg out = readStrided(info, 3, shape, dtype, name, Target::buffer);
  StridedArg index = readStrided(info, 6, shape, DType::Int32, name, Target::buffer);
  Dims xShape = readDims(info[9], name);
  requireWithin(info.Env(), shape, xShape, dim, name);
  StridedArg x = readStrided(info, 10, xShape, dtype, name, Target::buffer);
  return report(info.Env(), Target::gather(name, dtype, shape.n, shape.v, dim, xShape.v[dim], out.operand, index.operand, x.operand));
}

// indexSelect(dtype, dim, xShape, x, xOffset, xStrides, index, indexOffset, indexStride,
//             indexLength, out, outOffset, outStrides); out's shape is x's with dim -> length.
template <class Target>
Napi::Value indexSelect(const Napi::CallbackInfo& info) {
  const char* name = "indexSelect";
  DType dtype = readValueType(info, true, name);
  Dims xShape = readDims(info[2], name);
  int dim = readDim(info[1], xShape.n, name);
  StridedArg x = readStrided(info, 3, xShape, dtype, name, Target::buffer);
  VectorIndex vi = readVectorIndex(info, 6, name, Target::buffer);
  Dims outShape = xShape;
  outShape.v[dim] = vi.length;
  StridedArg out = readStrided(info, 10, outShape, dtype, name, Target::buffer);
  BadIndex bad = Target::firstBadIndex(name, dim, 1, &vi.length, Operand{vi.data, &vi.stride}, xShape.v[dim]);
  if (bad.position >= 0) return report(info.Env(), bad);
  int64_t broadcast[kMaxDims] = {0};
  broadcast[dim] = vi.stride;
  return report(info.Env(), Target::gather(name, dtype, outShape.n, outShape.v, dim, xShape.v[dim], out.operand,
                                         Operand{vi.data, broadcast}, x.operand));
}

// scatterAdd(dtype, dim, outShape, out, outOffset, outStrides, indexShape, index, indexOffset,
//            indexStrides, src, srcOffset, srcStrides): out (holding x) += src scattered.
template <class Target>
Napi::Value scatterAdd(const Napi::CallbackInfo& info) {
  const char* name = "scatterAdd";
  DType dtype = readValueType(info, false, name);
  Dims outShape = readDims(info[2], name);
  int dim = readDim(info[1], outShape.n, name);
  StridedArg out = readStrided(info, 3, outShape, dtype, name, Target::buffer);
  Dims shape = readDims(info[6], name);
  requireWithin(info.Env(), shape, outShape, dim, name);
  StridedArg index = readStrided(info, 7, shape, DType::Int32, name, Target::buffer);
  StridedArg src = readStrided(info, 10, shape, dtype, name, Target::buffer);  // only the index-shaped corner is read
  return report(info.Env(), Target::scatterAdd(name, dtype, shape.n, shape.v, dim, outShape.v[dim], out.operand,
                                             index.operand, src.operand));
}

// indexAdd(dtype, dim, outShape, out, outOffset, outStrides, index, indexOffset, indexStride,
//          indexLength, src, srcOffset, srcStrides); src's shape is out's with dim -> length.
template <class Target>
Napi::Value indexAdd(const Napi::CallbackInfo& info) {
  const char* name = "indexAdd";
  DType dtype = readValueType(info, false, name);
  Dims outShape = readDims(info[2], name);
  int dim = readDim(info[1], outShape.n, name);
  StridedArg out = readStrided(info, 3, outShape, dtype, name, Target::buffer);
  VectorIndex vi = readVectorIndex(info, 6, name, Target::buffer);
  Dims srcShape = outShape;
  srcShape.v[dim] = vi.length;
  StridedArg src = readStrided(info, 10, srcShape, dtype, name, Target::buffer);
  BadIndex bad = Target::firstBadIndex(name, dim, 1, &vi.length, Operand{vi.data, &vi.stride}, outShape.v[dim]);
  if (bad.position >= 0) return report(info.Env(), bad);
  int64_t broadcast[kMaxDims] = {0};
  broadcast[dim] = vi.stride;
  return report(info.Env(), Target::scatterAdd(name, dtype, srcShape.n, srcShape.v, dim, outShape.v[dim], out.operand,
                                             Operand{vi.data, broadcast}, src.operand));
}

void registerIndex(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"gather", gather<Target>},
            {"indexSelect", indexSelect<Target>},
            {"scatterAdd", scatterAdd<Target>},
            {"indexAdd", indexAdd<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerIndex);

}  // namespace kd::binding
