"""PyTorch CPU peer for the fused attention benchmark: times F.scaled_dot_product_attention
forward and forward+backward at batch 8, heads 12, headDim 64, as test/native/attention_check.cc
(--bench) times kindling's kernel.

Usage: torch_attention.py THREADS [SEQ ...]   (default seqs: 256 1024)
Prints one JSON list of {"seq", "causal", "pass", "gflops", "cpuGflops"}: best of repeats
(>= 0.5 s per figure) in wall time, and the same work per CPU-second of the process (less
sensitive to other load on a shared machine). FLOPs as PyTorch's counters: 4*b*h*L*S*D
forward, 2.5x that backward, halved when causal.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def best_seconds(fn, min_seconds=0.5, min_runs=3, warmup=1):
    for _ in range(warmup):
        fn()
    wall, cpu, total = [], [], 0.0
    while total < min_seconds or len(wall) < min_runs:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        wall.append(dt)
        cpu.append(dc)
        total += dt
    return min(wall), min(cpu)


def main():
    threads = int(sys.argv[1])
    seqs = [int(s) for s in sys.argv[2:]] or [256, 1024]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    b, h, d = 8, 12, 64
    results = []
    for seq in seqs:
        for causal in (False, True):
            q, k, v = (torch.randn(b, h, seq, d, requires_grad=True) for _ in range(3))
            g = torch.randn(b, h, seq, d)
            flops = 4.0 * b * h * seq * seq * d * (0.5 if causal else 1.0)

            def forward():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=causal)

            def forward_backward():
                out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                torch.autograd.backward(out, g)
                q.grad = k.grad = v.grad = None

            for name, fn, work in (("forward", forward, flops), ("forward+backward", forward_backward, 3.5 * flops)):
                wall, cpu = best_seconds(fn)
                results.append({"seq": seq, "causal": causal, "pass": name, "gflops": work / wall * 1e-9,
                                "cpuGflops": work / cpu * 1e-9 * threads if cpu > 0 else None})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
