// GPT-2 on a CUDA device: the folder transformers wrote, moved to the GPU, gives transformers'
// logits (padding included) and trains. Skipped without a device (see test/gpu/require_cuda.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { GPT2LMHeadModel } from '../../lib/models/gpt2.js';
import { describeCuda } from '../gpu/require_cuda.js';

const fixtures = fileURLToPath(new URL('../fixtures/gpt2/', import.meta.url));
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as {
  input_ids: number[][];
  attention_mask: number[][];
  lm: Record<string, { logits: { shape: number[]; values: number[] } }>;
};

describeCuda('GPT-2 on CUDA', () => {
  let tf32: boolean;
  beforeAll(() => {
    // Exact FP32 GEMMs, so the 1e-4 bound of the CPU test holds here too.
    tf32 = kd.cuda.getAllowTF32();
    kd.cuda.setAllowTF32(false);
  });
  afterAll(() => kd.cuda.setAllowTF32(tf32));

  it("gives transformers' logits with right and left padding (1e-4)", () => {
    const lm = (kd.models.gpt2.fromPretrained(join(fixtures, 'tiny')) as GPT2LMHeadModel).to('cuda');
    const ids = kd.tensor(expected.input_ids, { dtype: 'int32', device: 'cuda' });
    const attentionMask = kd.tensor(expected.attention_mask, { dtype: 'int32', device: 'cuda' });
    const logits = kd.noGrad(() => lm.forward(ids, { attentionMask }));
    expect(logits.device).toBe('cuda');
    const got = logits.to('cpu').data() as Float32Array;
    const want = expected.lm.padding_mask!.logits.values;
    let num = 0, den = 0;
    want.forEach((w, i) => { num += (got[i]! - w) ** 2; den += w * w; });
    expect(Math.sqrt(num / den)).toBeLessThan(1e-4);
  });

  it('a training step on the GPU matches the same step on the CPU', () => {
    const step = (device: 'cpu' | 'cuda') => {
      kd.manualSeed(1);
      const lm = (kd.models.gpt2({ vocabSize: 40, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 4, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }) as GPT2LMHeadModel).to(device);
      const optimizer = new kd.optim.AdamW(lm.parameters(), { lr: 1e-2 });
      const x = kd.tensor([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], { dtype: 'int32', device });
      const y = kd.tensor([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], { dtype: 'int32', device });
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        optimizer.zeroGrad();
        const loss = kd.nn.functional.crossEntropy(lm.forward(x).reshape([12, 40]), y);
        loss.backward();
        optimizer.step();
        losses.push(loss.item() as number);
      }
      return losses;
    };
    const cpu = step('cpu'), gpu = step('cuda');
    gpu.forEach((l, i) => expect(Math.abs(l - cpu[i]!)).toBeLessThan(1e-4 * Math.abs(cpu[i]!)));
  });
});
