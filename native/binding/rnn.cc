// Entry points for the fused recurrent layers (native/common/rnn.h), on the CPU and CUDA tables
// alike. Every tensor operand is contiguous float32, given as (buffer, offset) and checked to lie
// inside its storage before a kernel runs; null stands for an absent optional operand.
//
//   rnnForward(geom7, batchSizes|null, x, xOff, h0, h0Off, c0|null, c0Off, wIh, off, wHh, off,
//              bIh|null, off, bHh|null, off, wHr|null, off, out, off, hN, off, cN|null, off, ws, off)
//   rnnBackward(geom7, batchSizes|null, x, xOff, ws, wsOff, wIh, off, wHh, off, wHr|null, off,
//               gradOut, off, gradHN|null, off, gradCN|null, off, gradX|null, off, gradH0|null, off,
//               gradC0|null, off, gradWIh|null, off, gradWHh|null, off, gradBIh|null, off,
//               gradBHh|null, off, gradWHr|null, off)
//     geom7 = [mode (0 lstm, 1 gru, 2 rnn tanh, 3 rnn relu), steps, batch, input, hidden, proj,
//              reverse (0|1)]; batchSizes: an Int32Array of `steps` entries (host memory).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "binding/args.h"
#include "binding/registry.h"
#include "binding/targets.h"
#include "common/rnn.h"

namespace kd::binding {
namespace {

struct CpuKernels : CpuTarget {
  static constexpr auto rnnForward = kd::rnnForward;
  static constexpr auto rnnBackward = kd::rnnBackward;
};

struct CudaKernels : CudaTarget {
  static constexpr auto rnnForward = cuda::rnnForward;
  static constexpr auto rnnBackward = cuda::rnnBackward;
};

constexpr int64_t kMaxSize = int64_t{1} << 31;
constexpr int64_t kMaxOffset = (int64_t{1} << 53) - 1;

Napi::Error rangeError(const Napi::Env& env, const char* op, const std::string& what) {
  return Napi::RangeError::New(env, std::string(op) + ": " + what);
}

// The geometry, with batchSizes pointing into `sizes` (kept alive by the caller's frame).
RnnGeometry readGeometry(const Napi::CallbackInfo& info, const char* op, Napi::Int32Array* sizes) {
  Napi::Env env = info.Env();
  const Dims d = readDims(info[0], op);
  if (d.n != 7) throw rangeError(env, op, "expected 7 geometry values");
  if (d.v[0] < 0 || d.v[0] > 3) throw rangeError(env, op, "unknown mode " + std::to_string(d.v[0]));
  for (int i = 1; i < 6; ++i)
    if (d.v[i] < 0 || d.v[i] > kMaxSize) throw rangeError(env, op, "geometry value " + std::to_string(d.v[i]) + " out of range");
  if (d.v[4] == 0) throw rangeError(env, op, "hidden size must be positive");
  if (d.v[6] != 0 && d.v[6] != 1) throw rangeError(env, op, "reverse must be 0 or 1");
  RnnGeometry g{};
  g.mode = static_cast<RnnMode>(d.v[0]);
  g.steps = d.v[1], g.batch = d.v[2], g.input = d.v[3], g.hidden = d.v[4], g.proj = d.v[5];
  g.reverse = d.v[6] == 1;
  if (g.proj > 0 && g.mode != RnnMode::Lstm) throw rangeError(env, op, "a projection needs the LSTM mode");
  if (!(info[1].IsNull() || info[1].IsUndefined())) {
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, std::string(op) + ": batchSizes must be an Int32Array");
    *sizes = info[1].As<Napi::Int32Array>();
    if (static_cast<int64_t>(sizes->ElementLength()) != g.steps) throw rangeError(env, op, "batchSizes needs one entry per step");
    const int32_t* bs = sizes->Data();
    for (int64_t t = 0; t < g.steps; ++t)
      if (bs[t] < 0 || bs[t] > g.batch || (t > 0 && bs[t] > bs[t - 1]))
        throw rangeError(env, op, "batchSizes must be non-increasing and within [0, batch]");
    g.batchSizes = bs;
  }
  return g;
}

// A contiguous float32 operand of `elems` elements at info[at], info[at + 1]; null when absent and
// `optional`.
template <class Target>
float* readFloats(const Napi::CallbackInfo& info, size_t at, int64_t elems, bool optional, const char* op,
                  const char* name) {
  Napi::Env env = info.Env();
  if (info[at].IsNull() || info[at].IsUndefined()) {
    if (optional) return nullptr;
    throw rangeError(env, op, std::string(name) + " is required");
  }
  const HostView view = Target::buffer(info[at], op);
  const int64_t offset = readInt(info[at + 1], op);
  if (offset < 0 || offset > kMaxOffset) throw rangeError(env, op, std::string(name) + " offset out of range");
  if (static_cast<__int128>(offset + elems) * 4 > static_cast<__int128>(view.bytes))
    throw rangeError(env, op, std::string(name) + " of " + std::to_string(elems) + " floats at offset " +
                                  std::to_string(offset) + " reaches outside its storage of " +
                                  std::to_string(view.bytes) + " bytes");
  return reinterpret_cast<float*>(view.data) + offset;
}

// The operand sizes a geometry implies.
struct RnnSizes {
  int64_t x, h, c, wIh, wHh, b, wHr, out, ws;
  explicit RnnSizes(const RnnGeometry& g) {
    const int64_t G = rnnGates(g), Ho = rnnOutSize(g);
    x = g.steps * g.batch * g.input;
    h = g.batch * Ho;
    c = g.batch * g.hidden;
    wIh = G * g.input;
    wHh = G * Ho;
    b = G;
    wHr = g.proj * g.hidden;
    out = g.steps * g.batch * Ho;
    ws = rnnWorkspaceElems(g);
  }
};

template <class F>
void checked(const Napi::Env& env, F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

template <class Target>
Napi::Value rnnForward(const Napi::CallbackInfo& info) {
  const char* op = "rnnForward";
  Napi::Int32Array sizes;
  const RnnGeometry g = readGeometry(info, op, &sizes);
  const RnnSizes s(g);
  const bool lstm = g.mode == RnnMode::Lstm;
  const float* x = readFloats<Target>(info, 2, s.x, false, op, "input");
  const float* h0 = readFloats<Target>(info, 4, s.h, false, op, "h0");
  const float* c0 = readFloats<Target>(info, 6, s.c, !lstm, op, "c0");
  RnnWeights w{};
  w.wIh = readFloats<Target>(info, 8, s.wIh, false, op, "weight_ih");
  w.wHh = readFloats<Target>(info, 10, s.wHh, false, op, "weight_hh");
  w.bIh = readFloats<Target>(info, 12, s.b, true, op, "bias_ih");
  w.bHh = readFloats<Target>(info, 14, s.b, true, op, "bias_hh");
  w.wHr = readFloats<Target>(info, 16, s.wHr, g.proj == 0, op, "weight_hr");
  if ((w.bIh == nullptr) != (w.bHh == nullptr)) throw rangeError(info.Env(), op, "give both biases or neither");
  float* out = readFloats<Target>(info, 18, s.out, false, op, "output");
  float* hN = readFloats<Target>(info, 20, s.h, false, op, "hN");
  float* cN = readFloats<Target>(info, 22, s.c, !lstm, op, "cN");
  float* ws = readFloats<Target>(info, 24, s.ws, false, op, "workspace");
  if (!lstm) c0 = nullptr, cN = nullptr;
  if (g.proj == 0) w.wHr = nullptr;
  checked(info.Env(), [&] { Target::rnnForward(g, w, x, h0, c0, out, hN, cN, ws); });
  return info.Env().Undefined();
}

template <class Target>
Napi::Value rnnBackward(const Napi::CallbackInfo& info) {
  const char* op = "rnnBackward";
  Napi::Int32Array sizes;
  const RnnGeometry g = readGeometry(info, op, &sizes);
  const RnnSizes s(g);
  const bool lstm = g.mode == RnnMode::Lstm;
  const float* x = readFloats<Target>(info, 2, s.x, false, op, "input");
  const float* ws = readFloats<Target>(info, 4, s.ws, false, op, "workspace");
  RnnWeights w{};
  w.wIh = readFloats<Target>(info, 6, s.wIh, false, op, "weight_ih");
  w.wHh = readFloats<Target>(info, 8, s.wHh, false, op, "weight_hh");
  w.wHr = readFloats<Target>(info, 10, s.wHr, g.proj == 0, op, "weight_hr");
  if (g.proj == 0) w.wHr = nullptr;
  const float* gradOut = readFloats<Target>(info, 12, s.out, false, op, "gradOutput");
  const float* gradHN = readFloats<Target>(info, 14, s.h, true, op, "gradHN");
  const float* gradCN = lstm ? readFloats<Target>(info, 16, s.c, true, op, "gradCN") : nullptr;
  RnnGrads d{};
  d.x = readFloats<Target>(info, 18, s.x, true, op, "gradInput");
  d.h0 = readFloats<Target>(info, 20, s.h, true, op, "gradH0");
  d.c0 = lstm ? readFloats<Target>(info, 22, s.c, true, op, "gradC0") : nullptr;
  d.wIh = readFloats<Target>(info, 24, s.wIh, true, op, "gradWeightIh");
  d.wHh = readFloats<Target>(info, 26, s.wHh, true, op, "gradWeightHh");
  d.bIh = readFloats<Target>(info, 28, s.b, true, op, "gradBiasIh");
  d.bHh = readFloats<Target>(info, 30, s.b, true, op, "gradBiasHh");
  d.wHr = g.proj > 0 ? readFloats<Target>(info, 32, s.wHr, true, op, "gradWeightHr") : nullptr;
  checked(info.Env(), [&] { Target::rnnBackward(g, w, x, ws, gradOut, gradHN, gradCN, d); });
  return info.Env().Undefined();
}

void registerRnn(Napi::Env env, Napi::Object exports) {
  registerFamily<CpuKernels, CudaKernels>(env, exports, [](auto target) -> EntryPoints {
    using Target = decltype(target);
    return {{"rnnForward", rnnForward<Target>},
            {"rnnBackward", rnnBackward<Target>}};
  });
}

}  // namespace

KD_REGISTER(registerRnn);

}  // namespace kd::binding
