// The recurrent-network examples run end to end with tiny settings (a few training steps, small
// models), each in its own process through vite-node, and print the number they exist to report.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const viteNode = join(root, 'node_modules', 'vite-node', 'vite-node.mjs');

async function example(name: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [viteNode, join(root, 'examples', name), ...args], {
    cwd: root, env: { ...process.env, KINDLING_NUM_THREADS: '1' }, timeout: 120_000,
  });
  return stdout;
}

describe('recurrent examples with tiny settings', () => {
  it('char_lstm trains, reports a validation loss in bits/char and samples text', async () => {
    const out = await example('char_lstm.ts', ['--steps', '3', '--hidden', '16', '--layers', '2', '--chars', '20000', '--batch', '4', '--seq', '16', '--sample', '20']);
    const bits = Number(/validation loss (\d+\.\d+) bits\/char/.exec(out)?.[1]);
    expect(bits, out).toBeGreaterThan(0);
    expect(bits, out).toBeLessThan(10);
    expect(out).toMatch(/sample \(temperature 0\.8\):\nAnd God said, .{20}/s);
  }, 120_000);

  it('rnn_classify trains a GRU on packed batches and reports test accuracy', async () => {
    const out = await example('rnn_classify.ts', ['--steps', '3', '--hidden', '8', '--batch', '8', '--test', '32']);
    const accuracy = Number(/test accuracy (\d+\.\d)%/.exec(out)?.[1]);
    expect(accuracy, out).toBeGreaterThanOrEqual(0);
    expect(accuracy, out).toBeLessThanOrEqual(100);
  }, 120_000);

  it('bilstm_tagger trains a bidirectional LSTM and reports per-token accuracy', async () => {
    const out = await example('bilstm_tagger.ts', ['--steps', '3', '--hidden', '8', '--batch', '8', '--test', '32']);
    const accuracy = Number(/per-token test accuracy (\d+\.\d)%/.exec(out)?.[1]);
    expect(accuracy, out).toBeGreaterThanOrEqual(0);
    expect(accuracy, out).toBeLessThanOrEqual(100);
  }, 120_000);
});
