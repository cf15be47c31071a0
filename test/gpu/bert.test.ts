// kd.models.bert on CUDA: the transformers-written fixture models give transformers' outputs there
// too, and a masked-LM training step's loss and gradients follow the CPU's. Runs only with a CUDA device.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import type { BertForMaskedLM, BertModel } from '../../lib/models/bert.js';
import { expectClose } from '../helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bert');
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

describe.skipIf(!kd.cuda.isAvailable())('kd.models.bert on CUDA (needs a CUDA device)', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
    inputs: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] };
    cases: Record<string, { outputs: Record<string, { values: number[] }> }>;
  };
  // Built inside the tests: a skipped describe still runs its body.
  const onCuda = () => ({
    ids: kd.tensor(expected.inputs.input_ids, { dtype: 'int32' }).to('cuda'),
    attentionMask: kd.tensor(expected.inputs.attention_mask, { dtype: 'int32' }).to('cuda'),
    tokenTypeIds: kd.tensor(expected.inputs.token_type_ids, { dtype: 'int32' }).to('cuda'),
  });

  it('BertModel and BertForMaskedLM give transformers\' outputs with the padding mask and segment ids', () => {
    const { ids, attentionMask, tokenTypeIds } = onCuda();
    const base = (kd.models.bert.fromPretrained(join(FIXTURES, 'base')) as BertModel).to('cuda');
    const out = base.forward(ids, { attentionMask, tokenTypeIds });
    expectClose(values(out.lastHiddenState), expected.cases.base.outputs['full.last_hidden_state'].values, 1e-3, 'last_hidden_state');
    expectClose(values(out.poolerOutput!), expected.cases.base.outputs['full.pooler_output'].values, 1e-3, 'pooler_output');
    const mlm = (kd.models.bert.fromPretrained(join(FIXTURES, 'mlm')) as BertForMaskedLM).to('cuda');
    expectClose(values(mlm.forward(ids, { attentionMask, tokenTypeIds })), expected.cases.mlm.outputs['full.logits'].values, 1e-3, 'logits');
  });

  it('a masked-LM step: loss and the tied embedding gradient follow the CPU', () => {
    const { ids, attentionMask, tokenTypeIds } = onCuda();
    const labels = kd.tensor(expected.inputs.input_ids.map((row) => row.map((id, j) => (j % 3 === 1 ? id : -100))), { dtype: 'int32' });
    const run = (device: 'cpu' | 'cuda') => {
      const model = kd.models.bert.fromPretrained(join(FIXTURES, 'mlm')) as BertForMaskedLM;
      model.to(device);
      const loss = model.maskedLmLoss(model.forward(ids.to(device), { attentionMask: attentionMask.to(device), tokenTypeIds: tokenTypeIds.to(device) }), labels.to(device));
      loss.backward();
      return { loss: loss.item(), grad: values(model.bert.embeddings.wordEmbeddings.weight.grad!) };
    };
    const cpu = run('cpu'), gpu = run('cuda');
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-3 * Math.abs(cpu.loss));
    expectClose(gpu.grad, cpu.grad, 1e-3, 'word embedding grad');
  });
});
