// The AVX2 + FMA build of the recurrent gate passes (rnn_impl.h).
#include "cpu/rnn_impl.h"

namespace kd::rnn_detail {
GateKernels gateKernelsAvx2() { return thisBuild(); }
}  // namespace kd::rnn_detail
