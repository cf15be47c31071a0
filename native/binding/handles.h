// Storage handles as JavaScript holds them: plain numbers naming (slot, generation) in a slot
// table. CPU handles are slot + generation * kSlotSpan (>= 0); CUDA handles the same value
// negated minus one (< 0), so a handle given to the other device's table never decodes there.
#pragma once
#include <napi.h>

#include <cstdint>

namespace kd::binding {

constexpr double kSlotSpan = 16777216.0;  // 2^24 slots per table
constexpr uint32_t kGenerations = 1u << 28;  // generations wrap here (handles stay below 2^52)

enum class HandleSpace { Host, Device };

inline double encodeHandle(HandleSpace space, uint32_t slot, uint32_t generation) {
  const double h = static_cast<double>(generation) * kSlotSpan + slot;
  return space == HandleSpace::Host ? h : -h - 1.0;
}

// False when the number is not a well-formed handle of this space.
inline bool decodeHandle(HandleSpace space, double h, size_t* slot, uint32_t* generation) {
  if (space == HandleSpace::Device) h = -h - 1.0;
  if (!(h >= 0) || h >= 9007199254740992.0 || h != static_cast<double>(static_cast<int64_t>(h))) return false;
  const int64_t handle = static_cast<int64_t>(h);
  *slot = static_cast<size_t>(handle % static_cast<int64_t>(kSlotSpan));
  *generation = static_cast<uint32_t>(handle / static_cast<int64_t>(kSlotSpan));
  return true;
}

inline bool decodeHandle(HandleSpace space, const Napi::Value& value, size_t* slot, uint32_t* generation) {
  return value.IsNumber() && decodeHandle(space, value.As<Napi::Number>().DoubleValue(), slot, generation);
}

}  // namespace kd::binding
