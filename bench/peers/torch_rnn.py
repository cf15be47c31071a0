# PyTorch CPU peer for bench/rnn.ts: training steps per second of a 2-layer nn.LSTM and the same
# nn.GRU (time-major input [seq, batch, input], Adam, mean squared error of the last step's
# output), on N threads. pip's torch runs the LSTM through oneDNN.
# Usage: torch_rnn.py THREADS INPUT HIDDEN SEQ BATCH SECONDS
# Prints one line per model: "<name> <steps_per_second>".
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
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 3 or n == 0:
            step()
            n += 1
        best = max(best, n / (time.perf_counter() - t0))
    return best


x = torch.randn(seq, batch, input_size)
target = torch.randn(batch, hidden)
print('lstm', steps_per_second(nn.LSTM(input_size, hidden, num_layers=2), x, target))
print('gru', steps_per_second(nn.GRU(input_size, hidden, num_layers=2), x, target))
