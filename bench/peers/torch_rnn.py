# PyTorch CPU peer for bench/rnn.ts: training steps per second of a 2-layer nn.LSTM and the same
# nn.GRU (time-major input [seq, batch, input], Adam, mean squared error of the last step's
# output), on N threads. pip's torch runs the LSTM through oneDNN.
# Usage: torch_rnn.py THREADS INPUT HIDDEN SEQ BATCH SECONDS
# Prints one line per model: "<name> <steps_per_second> <steps_per_cpu_second>" (the best third's
# steps over the process CPU time it took: on a shared machine, threads that wait for a core
# lower the first number and not the second).
import sys
import time

import torch
from torch import nn

threads, input_size, hidden, seq, batch = (int(a) for a in sys.argv[1:6])
seconds = float(sys.argv[6])
torch.set_num_threads(threads)
torch.manual_seed(0)


def steps_per_second(model, x, target):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        out, _ = model(x)
        loss = ((out[-1] - target) ** 2).mean()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    best, best_cpu = 0.0, 0.0
    for _ in range(3):
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < seconds / 3 or n == 0:
            step()
            n += 1
        rate = n / (time.perf_counter() - t0)
        if rate > best:
            best, best_cpu = rate, n / max(time.process_time() - c0, 1e-9)
    return best, best_cpu


x = torch.randn(seq, batch, input_size)
target = torch.randn(batch, hidden)
print('lstm', *steps_per_second(nn.LSTM(input_size, hidden, num_layers=2), x, target))
print('gru', *steps_per_second(nn.GRU(input_size, hidden, num_layers=2), x, target))
