// Standalone check and timing of the fused attention kernels (native/cpu/attention.h), without
// Node. For each ISA the processor offers and 1 and 2 threads, compares attentionForward and
// attentionBackward with the float64 reference on seeded random inputs: every mask kind, odd and
// unequal lengths, GQA, head sizes 16..256, strided q/k/v views and dropout. Also checks the
// reference's own gradients against central finite differences. Outputs are poisoned with NaN
// first, so an unwritten element fails.
//
//   cmake --build build --target kindling_attention_check
//   build/kindling_attention_check            # checks; exits non-zero on a failure
//   build/kindling_attention_check --bench [seconds [threads [seq]]]   # GFLOP/s at batch 8, heads 12, headDim 64
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <string>
#include <vector>

#include "common/isa.h"
#include "common/parallel.h"
#include "common/attention.h"

namespace {

using kd::AttentionGeometry;
using kd::AttentionInput;
using kd::AttentionMask;
using kd::AttentionMaskKind;

struct Rng {
  uint64_t state;
  double uniform() {  // [0, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * (1.0 / 9007199254740992.0);
  }
  float symmetric() { return static_cast<float>(uniform() * 2.0 - 1.0); }
};

// How a q/k/v operand is laid out in memory.
enum class Layout {
  Contiguous,  // [b, h, len, D]
  Permuted,    // [b, len, h, D + 3]: what splitting heads out of a [b, len, h·D] projection gives, padded
  Transposed,  // [b, h, D, len]: the last two dims swapped (column stride != 1)
};

enum class MaskShape {
  Full,        // [b, h, L, S]
  Square,      // [L, S] broadcast over b and h
  KeyPadding,  // bool [b, S] as strides [S, 0, 0, 1]: keys at or past a per-batch length are masked
};

struct Case {
  std::string name;
  int64_t batch, heads, kvHeads, qLen, kvLen, headDim;
  bool causal = false;
  AttentionMaskKind maskKind = AttentionMaskKind::None;
  MaskShape maskShape = MaskShape::Full;
  bool maskedRows = false;  // force some rows fully masked
  float dropoutP = 0.0f;
  Layout layout = Layout::Contiguous;
};

// A float operand stored in some layout, plus its contiguous float64 copy for the reference.
struct Operand {
  std::vector<float> storage;
  AttentionInput view;
  std::vector<double> dense;  // [b, h, len, D]
};

Operand makeOperand(Rng& rng, int64_t b, int64_t h, int64_t len, int64_t d, Layout layout) {
  Operand op;
  int64_t st[4];
  int64_t size;
  switch (layout) {
    case Layout::Contiguous:
      st[0] = h * len * d; st[1] = len * d; st[2] = d; st[3] = 1; size = b * h * len * d;
      break;
    case Layout::Permuted:
      st[3] = 1; st[1] = d + 3; st[2] = h * (d + 3); st[0] = len * h * (d + 3); size = b * st[0];
      break;
    default:
      st[2] = 1; st[3] = len; st[1] = d * len; st[0] = h * d * len; size = b * h * d * len;
      break;
  }
  op.storage.assign(size + 1, std::numeric_limits<float>::quiet_NaN());  // padding is NaN: must not be read
  op.dense.resize(b * h * len * d);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t i = 0; i < len; ++i)
        for (int64_t c = 0; c < d; ++c) {
          const float x = rng.symmetric();
          op.storage[bi * st[0] + hi * st[1] + i * st[2] + c * st[3]] = x;
          op.dense[((bi * h + hi) * len + i) * d + c] = x;
        }
  op.view.data = op.storage.data();
  std::memcpy(op.view.strides, st, sizeof st);
  return op;
}

struct MaskData {
  std::vector<float> additive;
  std::vector<uint8_t> keep;
  AttentionMask view{nullptr, {0, 0, 0, 0}};
};

MaskData makeMask(Rng& rng, const Case& cs) {
  MaskData m;
  const int64_t B = cs.batch, H = cs.heads, L = cs.qLen, S = cs.kvLen;
  if (cs.maskKind == AttentionMaskKind::None) return m;
  int64_t n;
  if (cs.maskShape == MaskShape::Full) {
    n = B * H * L * S;
    m.view.strides[0] = H * L * S; m.view.strides[1] = L * S; m.view.strides[2] = S; m.view.strides[3] = 1;
  } else if (cs.maskShape == MaskShape::Square) {
    n = L * S;
    m.view.strides[0] = 0; m.view.strides[1] = 0; m.view.strides[2] = S; m.view.strides[3] = 1;
  } else {
    n = B * S;
    m.view.strides[0] = S; m.view.strides[1] = 0; m.view.strides[2] = 0; m.view.strides[3] = 1;
  }
  if (cs.maskKind == AttentionMaskKind::Additive) {
    m.additive.resize(n);
    for (float& x : m.additive) x = rng.uniform() < 0.15 ? -std::numeric_limits<float>::infinity() : 2.0f * rng.symmetric();
    if (cs.maskedRows && cs.maskShape != MaskShape::KeyPadding)  // every other query row fully -inf
      for (int64_t at = 0; at < n; ++at)
        if ((at / S) % 2 == 1) m.additive[at] = -std::numeric_limits<float>::infinity();
    m.view.data = m.additive.data();
  } else {
    m.keep.resize(n);
    if (cs.maskShape == MaskShape::KeyPadding) {
      for (int64_t bi = 0; bi < B; ++bi) {
        // Valid lengths from S down; with maskedRows the last batch has no valid key at all.
        const int64_t valid = cs.maskedRows && bi == B - 1 ? 0 : std::max<int64_t>(1, S - bi * (S / 3 + 1));
        for (int64_t j = 0; j < S; ++j) m.keep[bi * S + j] = j < valid;
      }
    } else {
      for (auto& x : m.keep) x = rng.uniform() < 0.7;
      if (cs.maskedRows)
        for (int64_t at = 0; at < n; ++at)
          if ((at / S) % 3 == 1) m.keep[at] = 0;
    }
    m.view.data = m.keep.data();
  }
  return m;
}

// ||x - ref|| / ||ref|| over finite reference entries (the root mean square of x - ref where the
// reference is exactly zero, e.g. dQ with a single visible key); an infinite reference entry must
// be matched exactly; a NaN anywhere fails (returns +inf).
double relError(const float* x, const double* ref, int64_t n) {
  double diff = 0.0, norm = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i]) || std::isnan(ref[i])) return INFINITY;
    if (std::isinf(ref[i])) {
      if (static_cast<double>(x[i]) != ref[i]) return INFINITY;
      continue;
    }
    const double d = x[i] - ref[i];
    diff += d * d;
    norm += ref[i] * ref[i];
  }
  if (norm == 0.0) return n > 0 ? std::sqrt(diff / n) : 0.0;
  return std::sqrt(diff / norm);
}

struct Reference {
  std::vector<double> out, lse, gradOut, gq, gk, gv;
};

int failures = 0;
int checks = 0;
double worstForward = 0.0, worstBackward = 0.0;  // over all passing comparisons, for the summary

void report(const Case& cs, const char* isa, int threads, const char* what, double err, double tol) {
  ++checks;
  if (err < tol) {
    double& worst = tol < 1e-4 ? worstForward : worstBackward;
    worst = std::max(worst, err);
  } else {
    ++failures;
    std::printf("FAIL %-38s %-7s %d thr  %-9s rel err %.3g (tolerance %.0e)\n", cs.name.c_str(), isa, threads, what,
                err, tol);
  }
}

void runCase(const Case& cs, uint64_t seed) {
  Rng rng{seed};
  AttentionGeometry g{};
  g.batch = cs.batch; g.heads = cs.heads; g.kvHeads = cs.kvHeads;
  g.qLen = cs.qLen; g.kvLen = cs.kvLen; g.headDim = cs.headDim;
  g.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(cs.headDim)));
  g.causal = cs.causal;
  g.dropoutP = cs.dropoutP;
  g.seed = seed * 7 + 1;
  g.offset = seed % 5;
  g.maskKind = cs.maskKind;

  Operand q = makeOperand(rng, cs.batch, cs.heads, cs.qLen, cs.headDim, cs.layout);
  Operand k = makeOperand(rng, cs.batch, cs.kvHeads, cs.kvLen, cs.headDim, cs.layout);
  Operand v = makeOperand(rng, cs.batch, cs.kvHeads, cs.kvLen, cs.headDim, cs.layout);
  MaskData mask = makeMask(rng, cs);
  const int64_t nOut = cs.batch * cs.heads * cs.qLen * cs.headDim, nRows = cs.batch * cs.heads * cs.qLen;
  const int64_t nKv = cs.batch * cs.kvHeads * cs.kvLen * cs.headDim;

  Reference ref{std::vector<double>(nOut), std::vector<double>(nRows), std::vector<double>(nOut),
                std::vector<double>(nOut), std::vector<double>(nKv), std::vector<double>(nKv)};
  std::vector<float> gradOut(nOut);
  for (int64_t i = 0; i < nOut; ++i) ref.gradOut[i] = gradOut[i] = rng.symmetric();
  kd::attentionRef(g, q.dense.data(), k.dense.data(), v.dense.data(), mask.view, ref.out.data(), ref.lse.data());
  kd::attentionBackwardRef(g, q.dense.data(), k.dense.data(), v.dense.data(), mask.view, ref.gradOut.data(),
                           ref.gq.data(), ref.gk.data(), ref.gv.data());

  const AttentionInput gradOutView{gradOut.data(),
                                   {cs.heads * cs.qLen * cs.headDim, cs.qLen * cs.headDim, cs.headDim, 1}};
  const kd::CpuIsa isas[] = {kd::CpuIsa::Scalar, kd::CpuIsa::Avx2, kd::CpuIsa::Avx512};
  const kd::CpuIsa initial = kd::activeIsa();
  for (kd::CpuIsa isa : isas) {
    if (!kd::setActiveIsa(isa)) continue;
    for (int threads : {1, 2}) {
      kd::setNumThreads(threads);
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> out(nOut, nan), lse(nRows, nan), gq(nOut, nan), gk(nKv, nan), gv(nKv, nan);
      const int64_t qStrides[4] = {cs.heads * cs.qLen * cs.headDim, cs.qLen * cs.headDim, cs.headDim, 1};
      const int64_t kvStrides[4] = {g.kvHeads * cs.kvLen * cs.headDim, cs.kvLen * cs.headDim, cs.headDim, 1};
      const auto dense = [](std::vector<float>& x, const int64_t* st) {
        return kd::AttentionOutput{x.data(), {st[0], st[1], st[2], st[3]}};
      };
      kd::attentionForward(g, q.view, k.view, v.view, mask.view, dense(out, qStrides), lse.data());
      report(cs, kd::isaName(isa), threads, "out", relError(out.data(), ref.out.data(), nOut), 1e-5);
      report(cs, kd::isaName(isa), threads, "lse", relError(lse.data(), ref.lse.data(), nRows), 1e-5);
      const AttentionInput outView{out.data(), {cs.heads * cs.qLen * cs.headDim, cs.qLen * cs.headDim, cs.headDim, 1}};
      kd::attentionBackward(g, q.view, k.view, v.view, mask.view, outView, gradOutView, lse.data(),
                            dense(gq, qStrides), dense(gk, kvStrides), dense(gv, kvStrides));
      report(cs, kd::isaName(isa), threads, "gradQ", relError(gq.data(), ref.gq.data(), nOut), 1e-4);
      report(cs, kd::isaName(isa), threads, "gradK", relError(gk.data(), ref.gk.data(), nKv), 1e-4);
      report(cs, kd::isaName(isa), threads, "gradV", relError(gv.data(), ref.gv.data(), nKv), 1e-4);
    }
  }
  kd::setActiveIsa(initial);
}

std::vector<Case> cases() {
  std::vector<Case> all;
  auto add = [&](Case c) { all.push_back(c); };
  using K = AttentionMaskKind;
  for (int64_t len : {1, 7, 33, 100, 257}) {
    add({"self L=S=" + std::to_string(len), 2, 2, 2, len, len, 64});
    Case c{"causal L=S=" + std::to_string(len), 2, 2, 2, len, len, 64};
    c.causal = true;
    add(c);
  }
  const int64_t crossLens[][2] = {{7, 33}, {33, 7}, {100, 257}, {257, 100}, {1, 100}, {65, 1}, {130, 70}};
  for (const auto& ls : crossLens)
    for (bool causal : {false, true}) {
      Case c{"cross " + std::to_string(ls[0]) + "x" + std::to_string(ls[1]) + (causal ? " causal" : ""), 2, 3, 3,
             ls[0], ls[1], 64};
      c.causal = causal;
      add(c);
    }
  for (int64_t d : {16, 40, 64, 80, 128, 256, 1, 5}) {
    Case c{"headDim " + std::to_string(d), 1, 2, 2, 33, 100, d};
    add(c);
    c.name += " causal 100x100";
    c.qLen = 100;
    c.causal = true;
    add(c);
  }
  {
    Case c{"GQA 8/2 33x33", 2, 8, 2, 33, 33, 64};
    add(c);
    c = {"GQA 8/2 7x100 causal", 1, 8, 2, 7, 100, 40};
    c.causal = true;
    add(c);
    c = {"GQA 8/2 100x70 bool", 1, 8, 2, 100, 70, 64};
    c.maskKind = K::Bool;
    add(c);
    c = {"MQA 4/1 65x65 causal", 2, 4, 1, 65, 65, 32};
    c.causal = true;
    add(c);
  }
  for (K kind : {K::Additive, K::Bool}) {
    const std::string kn = kind == K::Additive ? "additive" : "bool";
    for (MaskShape shape : {MaskShape::Full, MaskShape::Square})
      for (bool causal : {false, true}) {
        Case c{kn + (shape == MaskShape::Full ? " [b,h,L,S]" : " [L,S]") + (causal ? " +causal" : "") + " 70x100", 2, 2,
               2, 70, 100, 64};
        c.maskKind = kind;
        c.maskShape = shape;
        c.causal = causal;
        add(c);
      }
    Case c{kn + " fully masked rows 33x257", 2, 2, 2, 33, 257, 48};
    c.maskKind = kind;
    c.maskedRows = true;
    add(c);
  }
  {
    Case c{"key padding bool 100x100", 3, 2, 2, 100, 100, 64};
    c.maskKind = K::Bool;
    c.maskShape = MaskShape::KeyPadding;
    add(c);
    c.name = "key padding, one empty batch 7x33";
    c.qLen = 7; c.kvLen = 33;
    c.maskedRows = true;
    add(c);
    c = {"key padding + causal 65x65", 3, 2, 2, 65, 65, 64};
    c.maskKind = K::Bool;
    c.maskShape = MaskShape::KeyPadding;
    c.causal = true;
    add(c);
    c = {"key padding additive 33x70", 3, 2, 2, 33, 70, 64};
    c.maskKind = K::Additive;
    c.maskShape = MaskShape::KeyPadding;
    add(c);
  }
  for (Layout layout : {Layout::Permuted, Layout::Transposed}) {
    const std::string ln = layout == Layout::Permuted ? "permuted" : "transposed";
    Case c{ln + " q/k/v 100x33", 2, 3, 3, 100, 33, 40};
    c.layout = layout;
    add(c);
    c = {ln + " GQA causal bool 70x70", 2, 4, 2, 70, 70, 64};
    c.layout = layout;
    c.causal = true;
    c.maskKind = K::Bool;
    add(c);
  }
  for (float p : {0.1f, 0.5f}) {
    const std::string pn = p == 0.1f ? "0.1" : "0.5";
    Case c{"dropout " + pn + " 100x100", 2, 2, 2, 100, 100, 64};
    c.dropoutP = p;
    add(c);
    c = {"dropout " + pn + " causal GQA 6/3 70x130", 1, 6, 3, 70, 130, 80};
    c.dropoutP = p;
    c.causal = true;
    add(c);
    c = {"dropout " + pn + " additive masked rows 33x65", 2, 2, 2, 33, 65, 32};
    c.dropoutP = p;
    c.maskKind = K::Additive;
    c.maskedRows = true;
    c.layout = Layout::Permuted;
    add(c);
  }
  add({"no keys 5x0 (zeros, as PyTorch)", 1, 2, 2, 5, 0, 16});
  add({"no queries 0x5", 1, 2, 2, 0, 5, 16});
  {
    Case c{"long 257x257 headDim 128 causal", 1, 2, 2, 257, 257, 128};
    c.causal = true;
    add(c);
  }
  return all;
}

// The reference's gradients against central differences of loss = sum(out ∘ gradOut), in
// float64 on a small case with GQA, a mask, causal and dropout.
bool checkReferenceGradients() {
  bool ok = true;
  for (int variant = 0; variant < 3; ++variant) {
    AttentionGeometry g{};
    g.batch = 2; g.heads = 4; g.kvHeads = 2; g.qLen = 5; g.kvLen = 6; g.headDim = 3;
    g.scale = 0.7f;
    g.causal = variant == 1;
    g.dropoutP = variant == 2 ? 0.3f : 0.0f;
    g.seed = 11; g.offset = 3;
    g.maskKind = variant == 0 ? AttentionMaskKind::Additive : AttentionMaskKind::Bool;
    Rng rng{100u + static_cast<uint64_t>(variant)};
    const int64_t nq = g.batch * g.heads * g.qLen * g.headDim, nkv = g.batch * g.kvHeads * g.kvLen * g.headDim;
    std::vector<double> q(nq), k(nkv), v(nkv), gradOut(nq), out(nq), gq(nq), gk(nkv), gv(nkv);
    for (double& x : q) x = rng.symmetric();
    for (double& x : k) x = rng.symmetric();
    for (double& x : v) x = rng.symmetric();
    for (double& x : gradOut) x = rng.symmetric();
    std::vector<float> additive(g.qLen * g.kvLen);
    std::vector<uint8_t> keep(g.qLen * g.kvLen);
    for (float& x : additive) x = rng.symmetric();
    for (auto& x : keep) x = rng.uniform() < 0.75;
    keep[0] = 1;
    AttentionMask mask{variant == 0 ? static_cast<const void*>(additive.data()) : keep.data(), {0, 0, g.kvLen, 1}};
    kd::attentionBackwardRef(g, q.data(), k.data(), v.data(), mask, gradOut.data(), gq.data(), gk.data(), gv.data());
    auto loss = [&]() {
      kd::attentionRef(g, q.data(), k.data(), v.data(), mask, out.data(), nullptr);
      double s = 0.0;
      for (int64_t i = 0; i < nq; ++i) s += out[i] * gradOut[i];
      return s;
    };
    struct Target {
      const char* name;
      std::vector<double>* x;
      const std::vector<double>* grad;
    } targets[] = {{"q", &q, &gq}, {"k", &k, &gk}, {"v", &v, &gv}};
    for (const Target& t : targets) {
      double diff = 0.0, norm = 0.0;
      for (size_t i = 0; i < t.x->size(); ++i) {
        const double x0 = (*t.x)[i], eps = 1e-6;
        (*t.x)[i] = x0 + eps;
        const double up = loss();
        (*t.x)[i] = x0 - eps;
        const double down = loss();
        (*t.x)[i] = x0;
        const double fd = (up - down) / (2 * eps), d = fd - (*t.grad)[i];
        diff += d * d;
        norm += fd * fd;
      }
      const double err = std::sqrt(diff / norm);
      ++checks;
      if (!(err < 1e-7)) {
        ok = false;
        ++failures;
        std::printf("FAIL reference gradient d%s (variant %d): rel err %.3g vs finite differences\n", t.name, variant,
                    err);
      }
    }
  }
  return ok;
}

void expect(bool ok, const char* what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::printf("FAIL %s\n", what);
  }
}

// The dropout generator: the kept fraction is 1 - p, masks differ across seeds and offsets and
// are not the same for neighbouring rows or columns.
void checkDropoutGenerator() {
  const int64_t rows = 512, cols = 1024;
  for (float p : {0.1f, 0.5f, 0.9f}) {
    int64_t dropped = 0, sameAsNextRow = 0, sameAsNextCol = 0, sameOtherSeed = 0, sameOtherOffset = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t key = kd::attentionDropoutRowKey(7, 0, r + 1), next = kd::attentionDropoutRowKey(7, 0, r + 2);
      // The next offset's row r must not repeat this offset's row r + 1.
      const uint64_t otherSeed = kd::attentionDropoutRowKey(8, 0, r + 1), otherOffset = kd::attentionDropoutRowKey(7, 1, r);
      for (int64_t c = 0; c < cols; ++c) {
        const bool drop = kd::attentionDropoutUniform(key, c) < p;
        dropped += drop;
        sameAsNextRow += drop == (kd::attentionDropoutUniform(next, c) < p);
        sameAsNextCol += drop == (kd::attentionDropoutUniform(key, c + 1) < p);
        sameOtherSeed += drop == (kd::attentionDropoutUniform(otherSeed, c) < p);
        sameOtherOffset += drop == (kd::attentionDropoutUniform(otherOffset, c) < p);
      }
    }
    const double n = static_cast<double>(rows * cols), agree = p * p + (1 - p) * (1 - p);  // independent masks
    const double sd = std::sqrt(p * (1 - p) / n), sdAgree = std::sqrt(agree * (1 - agree) / n);
    expect(std::fabs(dropped / n - p) < 6 * sd, "dropout: dropped fraction is p");
    expect(std::fabs(sameAsNextRow / n - agree) < 6 * sdAgree, "dropout: neighbouring rows independent");
    expect(std::fabs(sameAsNextCol / n - agree) < 6 * sdAgree, "dropout: neighbouring columns independent");
    expect(std::fabs(sameOtherSeed / n - agree) < 6 * sdAgree, "dropout: another seed gives an independent mask");
    expect(std::fabs(sameOtherOffset / n - agree) < 6 * sdAgree, "dropout: another offset gives an independent mask");
  }
}

void checkGeometryProblems() {
  const AttentionGeometry ok{2, 8, 2, 5, 7, 64, 0.125f, false, 0.1f, 1, 0, AttentionMaskKind::None};
  expect(kd::attentionGeometryProblem(ok) == nullptr, "geometry: a valid one passes");
  AttentionGeometry g = ok;
  g.kvHeads = 3;
  expect(kd::attentionGeometryProblem(g) != nullptr, "geometry: heads 8, kvHeads 3 rejected");
  g = ok;
  g.headDim = 257;
  expect(kd::attentionGeometryProblem(g) != nullptr, "geometry: headDim 257 rejected");
  g = ok;
  g.dropoutP = 1.0f;
  expect(kd::attentionGeometryProblem(g) != nullptr, "geometry: dropoutP 1 rejected");
  g = ok;
  g.dropoutP = std::numeric_limits<float>::quiet_NaN();
  expect(kd::attentionGeometryProblem(g) != nullptr, "geometry: dropoutP NaN rejected");
  g = ok;
  g.qLen = -1;
  expect(kd::attentionGeometryProblem(g) != nullptr, "geometry: negative length rejected");
}

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of the whole process: work per CPU-second is less sensitive than wall time to other
// programs sharing the machine.
double cpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Forward and forward+backward GFLOP/s at batch 8, heads 12, headDim 64. FLOPs as PyTorch's
// counters: 4·b·h·L·S·D forward, 2.5× that backward, halved when causal.
void bench(double minSeconds, int onlyThreads, int onlySeq) {
  std::printf("fused attention, ISA %s; batch 8, heads 12, headDim 64; GFLOP/s (best of runs over %.1f s)\n",
              kd::isaName(kd::activeIsa()), minSeconds);
  std::printf("%-6s %-7s %-7s %10s %10s %14s %14s\n", "seq", "causal", "threads", "forward", "fwd+bwd",
              "fwd (cpu-s)", "fwd+bwd (cpu-s)");
  const int64_t B = 8, H = 12, D = 64;
  for (int64_t L : {256, 1024})
    if (!onlySeq || L == onlySeq)
    for (bool causal : {false, true})
      for (int threads : {1, 2}) {
        if (onlyThreads && threads != onlyThreads) continue;
        kd::setNumThreads(threads);
        Rng rng{42};
        AttentionGeometry g{B, H, H, L, L, D, static_cast<float>(1.0 / std::sqrt(64.0)), causal, 0.0f, 0, 0,
                            AttentionMaskKind::None};
        const int64_t n = B * H * L * D;
        std::vector<float> q(n), k(n), v(n), out(n), gradOut(n), gq(n), gk(n), gv(n), lse(B * H * L);
        for (float& x : q) x = rng.symmetric();
        for (float& x : k) x = rng.symmetric();
        for (float& x : v) x = rng.symmetric();
        for (float& x : gradOut) x = rng.symmetric();
        const AttentionInput qi{q.data(), {H * L * D, L * D, D, 1}}, ki{k.data(), {H * L * D, L * D, D, 1}},
            vi{v.data(), {H * L * D, L * D, D, 1}}, oi{out.data(), {H * L * D, L * D, D, 1}},
            gi{gradOut.data(), {H * L * D, L * D, D, 1}};
        const AttentionMask none{nullptr, {0, 0, 0, 0}};
        const double flops = 4.0 * B * H * L * L * D * (causal ? 0.5 : 1.0);
        double bestF = 1e30, bestFB = 1e30, cpuF = 1e30, cpuFB = 1e30;
        const double start = seconds();
        for (int rep = 0; rep < 2 || seconds() - start < minSeconds; ++rep) {
          const double t0 = seconds(), c0 = cpuSeconds();
          kd::attentionForward(g, qi, ki, vi, none, kd::AttentionOutput{out.data(), {H * L * D, L * D, D, 1}}, lse.data());
          const double t1 = seconds(), c1 = cpuSeconds();
          const int64_t st[4] = {H * L * D, L * D, D, 1};
          kd::attentionBackward(g, qi, ki, vi, none, oi, gi, lse.data(), kd::AttentionOutput{gq.data(), {st[0], st[1], st[2], st[3]}},
                                kd::AttentionOutput{gk.data(), {st[0], st[1], st[2], st[3]}},
                                kd::AttentionOutput{gv.data(), {st[0], st[1], st[2], st[3]}});
          const double t2 = seconds(), c2 = cpuSeconds();
          bestF = std::min(bestF, t1 - t0);
          bestFB = std::min(bestFB, t2 - t0);
          cpuF = std::min(cpuF, c1 - c0);
          cpuFB = std::min(cpuFB, c2 - c0);
        }
        // Per CPU-second times the thread count: what the threads would reach with their cores to
        // themselves (the pool's spin-waiting counts as work, so it errs low).
        std::printf("%-6lld %-7s %-7d %10.1f %10.1f %14.1f %14.1f\n", static_cast<long long>(L), causal ? "yes" : "no",
                    threads, flops / bestF * 1e-9, 3.5 * flops / bestFB * 1e-9, threads * flops / cpuF * 1e-9,
                    threads * 3.5 * flops / cpuFB * 1e-9);
        std::fflush(stdout);
      }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
    bench(argc > 2 ? std::atof(argv[2]) : 1.0, argc > 3 ? std::atoi(argv[3]) : 0, argc > 4 ? std::atoi(argv[4]) : 0);
    return 0;
  }
  checkReferenceGradients();
  checkDropoutGenerator();
  checkGeometryProblems();
  const std::vector<Case> all = cases();
  uint64_t seed = 1;
  for (const Case& cs : all) runCase(cs, seed++);
  std::printf("%d cases, %d comparisons (ISAs up to %s, 1 and 2 threads): %d failed; worst passing rel err "
              "forward %.2g, backward %.2g\n",
              static_cast<int>(all.size()), checks, kd::isaName(kd::detectedIsa()), failures, worstForward,
              worstBackward);
  return failures == 0 ? 0 : 1;
}
