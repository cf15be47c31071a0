# PyTorch CPU peer for bench/norm.ts: calls per second of BatchNorm2d (training: forward and
# backward; eval: forward) and ReLU (forward and backward) on one tensor, on N threads; then
# forward + backward of the row-op cases (layer_norm, rms_norm, gelu, gelu tanh, gelu(x + bias),
# cross_entropy) on their [rows, cols].
# argv: threads, shape as JSON, optionally the row cases as JSON [{name, kind, shape}].
# Prints one line per case: "<name> <calls_per_second>".
import json
import sys
import time

import torch
import torch.nn.functional as F
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


def row_case(kind, shape):
    rows, cols = shape
    x = torch.randn(rows, cols, requires_grad=True)
    g = torch.randn(rows, cols)
    w = torch.randn(cols, requires_grad=True)
    b = torch.randn(cols, requires_grad=True)
    target = torch.randint(0, cols, (rows,))
    forward = {
        "layernorm": lambda: F.layer_norm(x, (cols,), w, b),
        "rmsnorm": lambda: F.rms_norm(x, (cols,), w),
        "gelu": lambda: F.gelu(x),
        "gelutanh": lambda: F.gelu(x, approximate="tanh"),
        "biasgelu": lambda: F.gelu(x + b),
        "ce": lambda: F.cross_entropy(x, target),
    }[kind]

    def run():
        y = forward()
        if kind == "ce":
            y.backward()
        else:
            y.backward(g)
        x.grad = w.grad = b.grad = None

    return run


if len(sys.argv) > 3:
    for case in json.loads(sys.argv[3]):
        small = case["shape"][0] * case["shape"][1] < 100_000
        print(case["name"], rate(row_case(case["kind"], case["shape"]), 0.05 if small else 0.5))
