"""PyTorch peer for test/cuda/check_kernels.cu: times the same GEMM and conv cases through cuBLAS /
cuDNN (TF32 allowed for the float32 rows, as kindling's default) and prints the same JSON lines
{"case", "ms", "tflops"}. Run on a CUDA machine: python3 bench/gpu/peer_torch.py"""
import json

import torch

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


if __name__ == "__main__":
    main()
