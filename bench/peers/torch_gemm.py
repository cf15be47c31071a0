# PyTorch CPU peer for bench/gemm.ts: torch.mm GFLOP/s for each shape on N threads, timed as
# bench/common.ts times kindling (warm-up, repeats until >= 0.3 s, best run).
#   usage: python torch_gemm.py <threads> '<json [{name, m, n, k, ta, tb}]>'
# Prints one JSON array [{name, gflops}]. ta / tb: A stored k×m / B stored n×k, used transposed.
import json
import sys
import time

import torch

threads = int(sys.argv[1])
shapes = json.loads(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)


def gflops(s):
    m, n, k = s["m"], s["n"], s["k"]
    a = torch.rand(k, m).t() if s.get("ta") else torch.rand(m, k)
    b = torch.rand(n, k).t() if s.get("tb") else torch.rand(k, n)
    c = torch.empty(m, n)
    for _ in range(2):
        torch.mm(a, b, out=c)
    best, total, runs = float("inf"), 0.0, 0
    while total < 0.3 or runs < 3:
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        dt = time.perf_counter() - t0
        best = min(best, dt)
        total += dt
        runs += 1
    return 2.0 * m * n * k / best / 1e9


with torch.no_grad():
    print(json.dumps([{"name": s["name"], "gflops": gflops(s)} for s in shapes]))
