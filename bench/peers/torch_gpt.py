# PyTorch CPU peer for bench/gpt.ts: training tokens per second of a nanoGPT-layout GPT
# (bench/peers/nanogpt.py, the layout test/fixtures/make_gpt_fixtures.py writes out) with AdamW,
# on N threads.
# argv: threads, a safetensors file kindling wrote (the model's initial weights under their
# state-dict keys, and "idx" / "targets", the batch, as float32), n_layer, n_head, seconds.
# Prints "<tokens_per_second> <loss after the timed steps> <tokens per CPU-second in that best round>"
# (the best of three rounds). With seconds = 0 it serves rounds instead: it prints "ready", then
# for each line "<seconds>" read from stdin runs one round and prints that line for it (bench/gpt.ts
# alternates these with its own rounds, so both sides see the same machine).
import json
import struct
import sys
import time

import torch

from nanogpt import GPT

threads, path, n_layer, n_head, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
torch.set_num_threads(threads)


def load_file(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32).reshape(info["shape"])
    return out


tensors = load_file(path)
idx, targets = tensors.pop("idx").long(), tensors.pop("targets").long()
vocab, c = tensors["transformer.wte.weight"].shape
model = GPT(vocab, tensors["transformer.wpe.weight"].shape[0], n_layer, n_head, c)
tensors["lm_head.weight"] = tensors["transformer.wte.weight"]  # tied: one tensor
model.load_state_dict(tensors)
opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)


def step():
    opt.zero_grad(set_to_none=True)
    loss = model(idx, targets)
    loss.backward()
    opt.step()
    return loss


def timed_round(seconds):
    """Steps for `seconds` of wall time: (tokens/s, tokens per CPU-second, loss)."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        loss = step()
        n += 1
    rate = n * idx.numel() / (time.perf_counter() - t0)
    return rate, n * idx.numel() / max(time.process_time() - c0, 1e-9), loss.item()


for _ in range(3):
    step()
if seconds > 0:
    best, best_cpu, loss = 0.0, 0.0, float("nan")
    for _ in range(3):
        rate, cpu, loss = timed_round(seconds / 3)
        if rate > best:
            best, best_cpu = rate, cpu
    print(best, loss, best_cpu)
else:
    # Rounds on request, so that the caller can interleave them with its own: each line
    # "<seconds>" on stdin runs one round and answers "<tokens/s> <loss> <tokens per CPU-second>".
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        rate, cpu, loss = timed_round(float(line))
        print(rate, loss, cpu, flush=True)
