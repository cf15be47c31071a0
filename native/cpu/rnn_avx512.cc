// The AVX-512 build of the recurrent gate passes (rnn_impl.h).
#include "cpu/rnn_impl.h"

namespace kd::rnn_detail {
GateKernels gateKernelsAvx512() { return thisBuild(); }
}  // namespace kd::rnn_detail
