# PyTorch CPU peer for bench/norm.ts: calls per second of BatchNorm2d (training: forward and
# backward; eval: forward) and ReLU (forward and backward) on one tensor, on N threads.
# argv: threads, shape as JSON. Prints one line per case: "<name> <calls_per_second>".
import json
import sys
import time

import torch
from torch import nn

threads = int(sys.argv[1])
shape = json.loads(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)

x = torch.randn(*shape, requires_grad=True)
g = torch.randn(*shape)
bn = nn.BatchNorm2d(shape[1])


def rate(fn, min_seconds=0.5):
    for _ in range(3):
        fn()
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_seconds / 3:
            fn()
            n += 1
        best = max(best, n / (time.perf_counter() - t0))
    return best


def drop_grads():
    x.grad = None
    bn.weight.grad = None
    bn.bias.grad = None


def bn_train():
    bn.train()
    bn(x).backward(g)
    drop_grads()


def relu_train():
    torch.relu(x).backward(g)
    drop_grads()


def bn_eval():
    bn.eval()
    with torch.no_grad():
        bn(x)


print('bn_train', rate(bn_train))
print('relu_train', rate(relu_train))
print('bn_eval', rate(bn_eval))
