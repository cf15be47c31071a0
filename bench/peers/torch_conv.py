"""PyTorch CPU peer for bench/conv.ts: times conv2d forward, input gradient and weight gradient.

Usage: torch_conv.py THREADS CASES_JSON  where CASES_JSON is a list of
{"name", "n", "c", "h", "w", "k", "kh", "kw", "stride", "padding"}.
Prints one JSON list of {"name", "pass", "gflops"} (best of repeats, >= 0.3 s per figure).
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
    print(json.dumps(results))


if __name__ == "__main__":
    main()
