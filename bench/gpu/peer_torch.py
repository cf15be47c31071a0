"""PyTorch peer for test/cuda/check_kernels.cu and bench/gpu.ts: times the same GEMM and conv cases
through cuBLAS / cuDNN (TF32 allowed for the float32 rows, as kindling's default) and prints JSON
lines {"case", "ms", "tflops"}; with --train it also prints training steps per second on the GPU
for the MLP and the Keras MNIST CNN (batch 64) as {"case", "steps_per_s"} and training tokens per
second of the two GPTs bench/gpu.ts trains (nanoGPT's layout, AdamW, float32) as
{"case", "tokens_per_s"}; attention rows time F.scaled_dot_product_attention (flash where it applies).
Run on a CUDA machine: python3 bench/gpu/peer_torch.py [--train]"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from nanogpt import GPT  # noqa: E402  (the same model as the CPU peer's)

torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
torch.backends.cudnn.benchmark = True


def time_ms(fn):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    reps = max(3, min(200, int(40.0 / max(start.elapsed_time(end), 1e-3))))
    trials = []
    for _ in range(5):
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        trials.append(start.elapsed_time(end) / reps)
    return sorted(trials)[2]


def emit(name, flops, ms):
    print(json.dumps({"case": name, "ms": round(ms, 4), "tflops": round(flops / ms / 1e9, 2)}), flush=True)


def bench_gemm(tag, dtype, m, n, k, tb):
    a = torch.empty(m, k, device="cuda", dtype=dtype).uniform_(-1, 1)
    b = torch.empty((n, k) if tb else (k, n), device="cuda", dtype=dtype).uniform_(-1, 1)
    out = torch.empty(m, n, device="cuda", dtype=dtype)
    bt = b.t() if tb else b
    ms = time_ms(lambda: torch.matmul(a, bt, out=out))
    emit(f"gemm_{tag}_{m}x{n}x{k}{'_nt' if tb else ''}", 2.0 * m * n * k, ms)


def bench_conv(tag, n, c, hw, oc, pad):
    x = torch.empty(n, c, hw, hw, device="cuda").uniform_(-1, 1)
    w = torch.empty(oc, c, 3, 3, device="cuda").uniform_(-1, 1)
    y = torch.nn.functional.conv2d(x, w, padding=pad)
    dy = torch.empty_like(y).uniform_(-1, 1)
    flops = 2.0 * y.numel() * c * 9
    args = dict(bias_sizes=None, stride=[1, 1], padding=[pad, pad], dilation=[1, 1], transposed=False,
                output_padding=[0, 0], groups=1)
    bwd = torch.ops.aten.convolution_backward
    emit(f"conv_fwd_{tag}", flops, time_ms(lambda: torch.nn.functional.conv2d(x, w, padding=pad)))
    emit(f"conv_dgrad_{tag}", flops, time_ms(lambda: bwd(dy, x, w, output_mask=[True, False, False], **args)))
    emit(f"conv_wgrad_{tag}", flops, time_ms(lambda: bwd(dy, x, w, output_mask=[False, True, False], **args)))


def bench_train():
    from torch import nn

    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                        nn.Linear(64, 10)).cuda()
    cnn = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10)).cuda()
    x = torch.rand(64, 1, 28, 28, device="cuda")
    y = torch.randint(0, 10, (64,), device="cuda")
    loss_fn = nn.CrossEntropyLoss()
    for name, model, opt in (
        ("train_mlp_b64_sgd", mlp, torch.optim.SGD(mlp.parameters(), lr=0.01, momentum=0.9)),
        ("train_cnn_b64_adam", cnn, torch.optim.Adam(cnn.parameters())),
    ):
        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        for _ in range(10):
            step()
        torch.cuda.synchronize()
        best = 0.0
        for _ in range(3):
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 0.5:
                step()
                n += 1
            torch.cuda.synchronize()
            best = max(best, n / (time.perf_counter() - t0))
        print(json.dumps({"case": name, "steps_per_s": round(best, 1)}), flush=True)


def bench_attention():
    F = torch.nn.functional
    b = 4
    for seq, heads, hd in ((1024, 12, 64), (4096, 12, 64), (1024, 8, 128), (4096, 8, 128)):
        q, k, v = (torch.randn(b, heads, seq, hd, device="cuda", requires_grad=True) for _ in range(3))
        g = torch.randn(b, heads, seq, hd, device="cuda")
        for causal in (False, True):
            base = 4.0 * b * heads * seq * seq * hd * (0.5 if causal else 1.0)
            tag = f"b{b}h{heads}_s{seq}_d{hd}{'_causal' if causal else ''}"

            def fwd():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=causal)

            def fwdbwd():
                F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(g)
                q.grad = k.grad = v.grad = None

            emit(f"attn_fwd_{tag}", base, time_ms(fwd))
            emit(f"attn_fwdbwd_{tag}", 3.5 * base, time_ms(fwdbwd))


def bench_gpt():
    for name, (vocab, block, layers, heads, c), batch in (
        ("train_gpt_4x256_T128_b16_adamw", (256, 128, 4, 4, 256), 16),
        ("train_gpt_12x768_T1024_b4_adamw", (50304, 1024, 12, 12, 768), 4),
    ):
        torch.manual_seed(0)
        model = GPT(vocab, block, layers, heads, c).cuda()
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
        idx = torch.randint(0, vocab, (batch, block), device="cuda")
        targets = torch.randint(0, vocab, (batch, block), device="cuda")

        def step():
            opt.zero_grad()
            model(idx, targets).backward()
            opt.step()

        ms = time_ms(step)
        print(json.dumps({"case": name, "tokens_per_s": round(batch * block / ms * 1e3, 1)}), flush=True)
        del model, opt


def main():
    print(f"device: {torch.cuda.get_device_name()} torch {torch.__version__} cudnn {torch.backends.cudnn.version()}")
    for tag, dtype in (("tf32", torch.float32), ("bf16", torch.bfloat16)):
        for s in (1024, 4096, 8192):
            bench_gemm(tag, dtype, s, s, s, False)
        for m, n, k in ((8192, 2304, 768), (8192, 768, 768), (8192, 3072, 768), (8192, 768, 3072)):
            bench_gemm(tag, dtype, m, n, k, True)
    bench_conv("mnist1_64x1x28x28_32", 64, 1, 28, 32, 0)
    bench_conv("mnist2_64x32x13x13_64", 64, 32, 13, 64, 0)
    bench_conv("mnist3_64x64x5x5_64", 64, 64, 5, 64, 0)
    bench_conv("resnet_64x64x56x56_64", 64, 64, 56, 64, 1)
    bench_attention()
    if "--train" in sys.argv:
        bench_train()
        bench_gpt()


if __name__ == "__main__":
    main()
