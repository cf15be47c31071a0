"""PyTorch CPU peer for bench/conv.ts: times conv2d forward, input gradient and weight gradient.

Usage: torch_conv.py THREADS CASES_JSON  where CASES_JSON is a list of
{"name", "n", "c", "h", "w", "k", "kh", "kw", "stride", "padding"}.
Prints one JSON list of {"name", "pass", "gflops"} (best of repeats, >= 0.3 s per figure).
The first two cases (the MNIST layers a 2x2 max pool follows) are also timed as conv2d +
max_pool2d forward ("+ pool forward", credited with the conv's flops) and the pool's backward
followed by all three conv gradients from a pooled gradient that is half zeros ("+ pool
backward", credited with twice the conv's flops), as bench/conv.ts times the fused node.
"""
import json
import sys
import time

import torch


def best_seconds(fn, min_seconds=0.3, min_runs=3, warmup=2):
    for _ in range(warmup):
        fn()
    samples, total = [], 0.0
    while total < min_seconds or len(samples) < min_runs:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        samples.append(dt)
        total += dt
    return min(samples)


def main():
    threads = int(sys.argv[1])
    cases = json.loads(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    results = []
    with torch.no_grad():
        for c in cases:
            x = torch.randn(c["n"], c["c"], c["h"], c["w"])
            w = torch.randn(c["k"], c["c"], c["kh"], c["kw"])
            b = torch.randn(c["k"])
            stride, padding = [c["stride"]] * 2, [c["padding"]] * 2
            y = torch.nn.functional.conv2d(x, w, b, stride, padding)
            g = torch.randn_like(y)
            oh, ow = y.shape[2], y.shape[3]
            flops = 2.0 * c["n"] * c["k"] * oh * ow * c["c"] * c["kh"] * c["kw"]

            def backward(mask):
                return lambda: torch.ops.aten.convolution_backward(
                    g, x, w, [c["k"]], stride, padding, [1, 1], False, [0, 0], 1, mask)

            passes = {
                "forward": lambda: torch.nn.functional.conv2d(x, w, b, stride, padding),
                "input grad": backward([True, False, False]),
                "weight grad": backward([False, True, False]),
            }
            for name, fn in passes.items():
                results.append({"name": c["name"], "pass": name, "gflops": flops / best_seconds(fn) / 1e9})
            if c in cases[:2]:
                pooled, idx = torch.nn.functional.max_pool2d(y, 2, 2, return_indices=True)
                gp = torch.randn_like(pooled)
                gp.view(-1)[::2] = 0

                def pooled_forward():
                    return torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(x, w, b, stride, padding), 2, 2)

                def pooled_backward():
                    gy = torch.ops.aten.max_pool2d_with_indices_backward(gp, y, [2, 2], [2, 2], [0, 0], [1, 1], False, idx)
                    return torch.ops.aten.convolution_backward(
                        gy, x, w, [c["k"]], stride, padding, [1, 1], False, [0, 0], 1, [True, True, True])

                results.append({"name": c["name"], "pass": "+ pool forward", "gflops": flops / best_seconds(pooled_forward) / 1e9})
                results.append({"name": c["name"], "pass": "+ pool backward",
                                "gflops": 2 * flops / best_seconds(pooled_backward) / 1e9})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
