// The recurrent layers on CUDA (cuda/rnn.cu) against the CPU (native/cpu/rnn.cc): LSTM with and
// without projection, GRU, RNN tanh/relu; 2 layers, bidirectional, packed batches of unequal
// lengths; outputs, final states and every gradient. Runs only with a CUDA device.
import { expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed } from '../helpers.js';
import { describeCuda } from './require_cuda.js';

const seed = freshSeed();
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).contiguous().data() as ArrayLike<number>);
const { packPaddedSequence, padPackedSequence, PackedSequence } = kd.nn.utils.rnn;

type Make = () => InstanceType<typeof kd.nn.LSTM> | InstanceType<typeof kd.nn.GRU> | InstanceType<typeof kd.nn.RNN>;

function compare(name: string, make: Make, packed: boolean): void {
  kd.manualSeed(seed);
  const cpuModel = make();
  const gpuModel = make();
  gpuModel.loadStateDict(cpuModel.stateDict());
  gpuModel.to('cuda');
  const x = kd.randn([7, 4, cpuModel.inputSize]);
  const lengths = [7, 3, 5, 1];
  const run = (m: ReturnType<Make>, device: 'cpu' | 'cuda') => {
    const xs = x.to(device).detach().requiresGrad_();
    const input = packed ? packPaddedSequence(xs, lengths, { enforceSorted: false }) : xs;
    const result = m.forward(input);
    const outRaw = result[0];
    const out = outRaw instanceof PackedSequence ? padPackedSequence(outRaw)[0] : (outRaw as Tensor);
    const states = Array.isArray(result[1]) ? result[1] : [result[1]];
    let loss = out.mul(out).sum();
    for (const s of states) loss = loss.add(s.mul(s).sum());
    loss.backward();
    return [values(out), ...states.map(values), values(xs.grad!), ...[...m.parameters()].map((p) => values(p.grad!))];
  };
  const cpu = run(cpuModel, 'cpu'), gpu = run(gpuModel, 'cuda');
  expect(gpu.length).toBe(cpu.length);
  cpu.forEach((ref, i) => expectClose(gpu[i], ref, 5e-3, `${name}${packed ? ' packed' : ''} seed ${seed}: tensor ${i}`));
}

describeCuda(`RNN / LSTM / GRU on CUDA vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  const makers: [string, Make][] = [
    ['LSTM 2 layers bidirectional', () => new kd.nn.LSTM(5, 16, { numLayers: 2, bidirectional: true })],
    ['LSTM projSize', () => new kd.nn.LSTM(5, 16, { projSize: 6, bidirectional: true })],
    ['GRU 2 layers bidirectional', () => new kd.nn.GRU(5, 16, { numLayers: 2, bidirectional: true })],
    ['RNN tanh', () => new kd.nn.RNN(5, 16, { numLayers: 2 })],
    ['RNN relu', () => new kd.nn.RNN(5, 16, { nonlinearity: 'relu', bidirectional: true })],
  ];
  for (const [name, make] of makers) {
    it(`${name}: outputs, states and gradients follow the CPU within TF32`, () => {
      compare(name, make, false);
      compare(name, make, true);
    });
  }
});
