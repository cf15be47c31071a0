// Entry points for fused scaled-dot-product attention (float32), on the CPU and CUDA tables alike.
// Every operand is a 4-d view over [batch, heads or kvHeads, len, headDim] given as (buffer,
// offset[, strides]); its whole span is checked against its storage in 128-bit arithmetic before a
// kernel runs, and the geometry is checked by attentionGeometryProblem (a RangeError naming the
// field, which the TypeScript layer turns into a KindlingError).
//
//   attentionForward(geom10, scale, dropoutP, q, qOff, qStrides, k, kOff, kStrides, v, vOff, vStrides,
//                    mask|null, maskOff, maskStrides, out, outOff, outStrides, lse, lseOff)
//   attentionBackward(geom10, scale, dropoutP, q, qOff, qStrides, k, kOff, kStrides, v, vOff, vStrides,
//                     mask|null, maskOff, maskStrides, out, outOff, outStrides, gradOut, gOff, gStrides,
//                     lse, lseOff, gradQ, gqOff, gqStrides, gradK, gkOff, gkStrides, gradV, gvOff, gvStrides)
//     geom10 = [batch, heads, kvHeads, qLen, kvLen, headDim, causal (0|1), maskKind (0 none,
//               1 additive float32, 2 bool uint8), seed, offset]
//   q, gradOut, out, gradQ: [batch, heads, qLen, headDim]; k, v, gradK, gradV: [batch, kvHeads,
//   kvLen, headDim]; mask: [batch, heads, qLen, kvLen] (stride 0 on broadcast dims); lse: [batch,
//   heads, qLen]. lse is contiguous; out and the gradients are written through their strides (the
//   op lays them out as their consumers read them, elements kept apart).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "binding/args.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/attention.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto attentionForward = kd::attentionForward;
  static constexpr auto attentionBackward = kd::attentionBackward;
};

struct CudaKernels : CudaTarget {
  static constexpr auto attentionForward = cuda::attentionForward;
  static constexpr auto attentionBackward = cuda::attentionBackward;
};

constexpr int64_t kMaxSize = 2147483647;  // 2^31 - 1 per dimension
constexpr int64_t kMaxStride = int64_t{1} << 40;
constexpr int64_t kMaxOffset = (int64_t{1} << 53) - 1;

std::string fmtDims(const int64_t* v, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

Napi::Error rangeError(const Napi::Env& env, const char* op, const std::string& what) {
  return Napi::RangeError::New(env, std::string(op) + ": " + what);
}

AttentionGeometry readAttentionGeometry(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  const Dims d = readDims(info[0], op);
  if (d.n != 10) throw rangeError(env, op, "expected 10 geometry values");
  for (int i = 0; i < 6; ++i)
    if (d.v[i] < 0 || d.v[i] > kMaxSize) throw rangeError(env, op, "geometry value " + std::to_string(d.v[i]) + " out of range");
  if (d.v[6] != 0 && d.v[6] != 1) throw rangeError(env, op, "causal must be 0 or 1");
  if (d.v[7] < 0 || d.v[7] > 2) throw rangeError(env, op, "unknown mask kind " + std::to_string(d.v[7]));
  if (d.v[8] < 0 || d.v[9] < 0) throw rangeError(env, op, "seed and offset must be >= 0");
  AttentionGeometry g{};
  g.batch = d.v[0];
  g.heads = d.v[1];
  g.kvHeads = d.v[2];
  g.qLen = d.v[3];
  g.kvLen = d.v[4];
  g.headDim = d.v[5];
  g.causal = d.v[6] == 1;
  g.maskKind = static_cast<AttentionMaskKind>(d.v[7]);
  g.seed = static_cast<uint64_t>(d.v[8]);
  g.offset = static_cast<uint64_t>(d.v[9]);
  g.scale = static_cast<float>(readDouble(info[1], op));
  g.dropoutP = static_cast<float>(readDouble(info[2], op));
  if (const char* problem = attentionGeometryProblem(g)) throw rangeError(env, op, problem);
  return g;
}

// A view of `shape` (rank 3 or 4) whose elements have `elemBytes` bytes: (buffer, offset[,
// strides]) from info[at], contiguous when `strided` is false, checked to lie inside its storage.
struct View {
  char* base;
  int64_t strides[4];
};

template <class Target>
View readView(const Napi::CallbackInfo& info, size_t at, int rank, const int64_t* shape, size_t elemBytes, bool strided,
              const char* op, const char* name) {
  Napi::Env env = info.Env();
  const HostView view = Target::buffer(info[at], op);
  const int64_t offset = readInt(info[at + 1], op);
  if (offset < 0 || offset > kMaxOffset)
    throw rangeError(env, op, std::string(name) + " offset " + std::to_string(offset) + " out of range");
  View o{};
  if (strided) {
    const Dims s = readDims(info[at + 2], op);
    if (s.n != rank) throw rangeError(env, op, std::string(name) + " needs " + std::to_string(rank) + " strides");
    for (int i = 0; i < rank; ++i) {
      if (s.v[i] < -kMaxStride || s.v[i] > kMaxStride) throw rangeError(env, op, std::string(name) + " stride out of range");
      o.strides[i] = s.v[i];
    }
  } else {
    int64_t acc = 1;
    for (int i = rank - 1; i >= 0; --i) {
      o.strides[i] = acc;
      acc *= shape[i] == 0 ? 1 : shape[i];
      if (acc > kMaxStride) throw rangeError(env, op, std::string(name) + " is too large");
    }
  }
  __int128 lo = offset, hi = offset;
  bool empty = false;
  for (int i = 0; i < rank; ++i) {
    if (shape[i] == 0) empty = true;
    const __int128 reach = static_cast<__int128>(shape[i] - 1) * o.strides[i];
    if (reach < 0) lo += reach; else hi += reach;
  }
  if (!empty && (lo < 0 || (hi + 1) * static_cast<__int128>(elemBytes) > static_cast<__int128>(view.bytes)))
    throw rangeError(env, op, std::string(name) + " " + fmtDims(shape, rank) + " at offset " + std::to_string(offset) +
                                  ", strides " + fmtDims(o.strides, rank) + " reaches outside its storage of " +
                                  std::to_string(view.bytes) + " bytes");
  o.base = view.data + offset * static_cast<int64_t>(elemBytes);
  return o;
}

AttentionInput input(const View& v) {
  return {reinterpret_cast<const float*>(v.base), {v.strides[0], v.strides[1], v.strides[2], v.strides[3]}};
}

float* floats(const View& v) { return reinterpret_cast<float*>(v.base); }

AttentionOutput output(const View& v) {
  return {reinterpret_cast<float*>(v.base), {v.strides[0], v.strides[1], v.strides[2], v.strides[3]}};
}

// The operand shapes a geometry implies.
struct AttentionShapes {
  int64_t q[4], kv[4], mask[4], lse[3];
  explicit AttentionShapes(const AttentionGeometry& g)
      : q{g.batch, g.heads, g.qLen, g.headDim},
        kv{g.batch, g.kvHeads, g.kvLen, g.headDim},
        mask{g.batch, g.heads, g.qLen, g.kvLen},
        lse{g.batch, g.heads, g.qLen} {}
};

template <class Target>
AttentionMask readMask(const Napi::CallbackInfo& info, size_t at, const AttentionGeometry& g, const AttentionShapes& s,
                       const char* op) {
  const bool given = !(info[at].IsNull() || info[at].IsUndefined());
  if (g.maskKind == AttentionMaskKind::None) {
    if (given) throw rangeError(info.Env(), op, "a mask was given with mask kind none");
    return {nullptr, {0, 0, 0, 0}};
  }
  if (!given) throw rangeError(info.Env(), op, "the mask kind needs a mask");
  const size_t bytes = g.maskKind == AttentionMaskKind::Bool ? 1 : 4;
  const View m = readView<Target>(info, at, 4, s.mask, bytes, true, op, "mask");
  return {m.base, {m.strides[0], m.strides[1], m.strides[2], m.strides[3]}};
}

// Runs a kernel; its std::invalid_argument (a bad argument, found before anything is written)
// reaches JavaScript as a RangeError.
template <class F>
void checked(const Napi::Env& env, F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

template <class Target>
Napi::Value attentionForward(const Napi::CallbackInfo& info) {
  const char* op = "attentionForward";
  const AttentionGeometry g = readAttentionGeometry(info, op);
  const AttentionShapes s(g);
  const View q = readView<Target>(info, 3, 4, s.q, 4, true, op, "query");
  const View k = readView<Target>(info, 6, 4, s.kv, 4, true, op, "key");
  const View v = readView<Target>(info, 9, 4, s.kv, 4, true, op, "value");
  const AttentionMask mask = readMask<Target>(info, 12, g, s, op);
  const View out = readView<Target>(info, 15, 4, s.q, 4, true, op, "output");
  const View lse = readView<Target>(info, 18, 3, s.lse, 4, false, op, "logsumexp");
  checked(info.Env(), [&] { Target::attentionForward(g, input(q), input(k), input(v), mask, output(out), floats(lse)); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  const char* op = "attentionBackward";
  const AttentionGeometry g = readAttentionGeometry(info, op);
  const AttentionShapes s(g);
  const View q = readView<Target>(info, 3, 4, s.q, 4, true, op, "query");
  const View k = readView<Target>(info, 6, 4, s.kv, 4, true, op, "key");
  const View v = readView<Target>(info, 9, 4, s.kv, 4, true, op, "value");
  const AttentionMask mask = readMask<Target>(info, 12, g, s, op);
  const View out = readView<Target>(info, 15, 4, s.q, 4, true, op, "output");
  const View gradOut = readView<Target>(info, 18, 4, s.q, 4, true, op, "gradOutput");
  const View lse = readView<Target>(info, 21, 3, s.lse, 4, false, op, "logsumexp");
  const View gradQ = readView<Target>(info, 23, 4, s.q, 4, true, op, "gradQuery");
  const View gradK = readView<Target>(info, 26, 4, s.kv, 4, true, op, "gradKey");
  const View gradV = readView<Target>(info, 29, 4, s.kv, 4, true, op, "gradValue");
  checked(info.Env(), [&] {
    Target::attentionBackward(g, input(q), input(k), input(v), mask, input(out), input(gradOut), floats(lse),
                              output(gradQ), output(gradK), output(gradV));
  });
  return info.Env().Undefined();
}

void registerAttention(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"attentionForward", attentionForward<Target>},
            {"attentionBackward", attentionBackward<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerAttention);

}  // namespace kd::binding
