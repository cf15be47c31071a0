# PyTorch peer for bench/finetune.ts: one fine-tuning case of transformers' GPT2LMHeadModel on
# the CPU, in this process alone, so that the peak RSS is the case's.
#   torch_finetune.py <full|lora> <threads> '<shape json>' <steps>
# shape: {"nLayer", "nEmbd", "nHead", "vocabSize", "seq", "batch"}. The model is built from
# GPT2Config (Hugging Face's init, dropout 0.1, train mode, the default sdpa attention); lora
# wraps c_attn with peft (r 8, alpha 16, dropout 0, fan_in_fan_out for GPT-2's Conv1D). A step is
# zero_grad, logits, cross-entropy on the shifted tokens, backward, AdamW (lr 1e-4) over the
# trainable parameters: the same as kindling's. One warm-up step, then the median of <steps>.
# Prints one JSON line: {"stepSeconds", "cpuSeconds" (CPU time of a step, all threads), "peakRssMB", "trainable"}.
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

mode, threads, shape, steps = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)

config = GPT2Config(vocab_size=shape["vocabSize"], n_positions=max(1024, shape["seq"]), n_embd=shape["nEmbd"],
                    n_layer=shape["nLayer"], n_head=shape["nHead"])
model = GPT2LMHeadModel(config)
if mode == "lora":
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["c_attn"], fan_in_fan_out=True))
model.train()
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(trainable, lr=1e-4)
tokens = torch.randint(0, shape["vocabSize"], (shape["batch"], shape["seq"] + 1))
x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].reshape(-1)


def step():
    optimizer.zero_grad()
    logits = model(input_ids=x).logits
    loss = F.cross_entropy(logits.reshape(-1, shape["vocabSize"]), y)
    loss.backward()
    optimizer.step()
    return loss.item()


step()
times, cpu_times = [], []
for _ in range(steps):
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    times.append(time.perf_counter() - t0)
    cpu_times.append(time.process_time() - c0)
times.sort()
cpu_times.sort()
print(json.dumps({
    "stepSeconds": times[len(times) // 2],
    "cpuSeconds": cpu_times[len(cpu_times) // 2],
    "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "trainable": sum(p.numel() for p in trainable),
}))
