# PyTorch CPU peer for bench/train.ts: training steps per second for the MLP 784-128-64-10
# (batch 64, SGD momentum 0.9), the Keras MNIST CNN (batch 64, Adam) and the same CNN with a
# BatchNorm2d after each convolution (batch 64, Adam), on N threads.
# Prints one line per model: "<name> <steps_per_second>".
import sys
import time

import torch
from torch import nn

threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)


def mlp():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))


def cnn_bn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))


def steps_per_second(model, opt, x, y, min_seconds=1.5):
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_seconds / 3:
            step()
            n += 1
        best = max(best, n / (time.perf_counter() - t0))
    return best


y = torch.randint(0, 10, (64,))
m = mlp()
print('mlp', steps_per_second(m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9), torch.rand(64, 784), y))
c = cnn()
print('cnn', steps_per_second(c, torch.optim.Adam(c.parameters(), lr=1e-3), torch.rand(64, 1, 28, 28), y))
cb = cnn_bn()
print('cnn_bn', steps_per_second(cb, torch.optim.Adam(cb.parameters(), lr=1e-3), torch.rand(64, 1, 28, 28), y))
