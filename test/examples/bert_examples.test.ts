// The BERT examples' main paths with tiny settings: masked-LM pretraining saves a folder that
// bert.fromPretrained loads, and fine-tuning from it reports accuracies on balanced held-out verses.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { finetuneTestaments } from '../../examples/bert_finetune.js';
import { TOKENIZER_FILE, kjvVerses, parseFlags, pretrainMlm } from '../../examples/bert_mlm.js';

const dir = mkdtempSync(join(tmpdir(), 'kindling-bert-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = () => {};

describe('BERT examples', () => {
  it('kjvVerses: 31,102 verses, 23,145 in the Old Testament, the New starting at Matthew 1:1, one chapter in 20 held out', () => {
    const verses = kjvVerses();
    expect(verses.length).toBe(31102);
    expect(verses.filter((v) => v.testament === 0).length).toBe(23145);
    const firstNew = verses.find((v) => v.testament === 1)!;
    expect(firstNew).toMatchObject({ book: 'Matthew', chapter: 1 });
    expect(firstNew.text).toMatch(/^The book of the generation of Jesus Christ/);
    expect(verses[0]).toMatchObject({ book: 'Genesis', chapter: 1, text: 'In the beginning God created the heaven and the earth.', testament: 0 });
    const chapters = new Set(verses.map((v) => `${v.book} ${v.chapter}`)), held = new Set(verses.filter((v) => v.heldOut).map((v) => `${v.book} ${v.chapter}`));
    expect(chapters.size).toBe(1189);
    expect(held.size).toBe(60);
    expect(verses.some((v) => v.heldOut && v.testament === 1)).toBe(true);
  });

  it('bert_mlm: a few masked-LM steps report a masked-token accuracy and save a folder bert.fromPretrained loads', async () => {
    const r = await pretrainMlm({ steps: 4, hiddenSize: 16, numLayers: 1, numHeads: 2, seqLen: 16, batchSize: 4, vocabSize: 300,
      tokenizerChars: 50_000, evalSequences: 16, save: dir, log: quiet });
    expect(r.steps).toBe(4);
    expect(r.maskedAccuracy).toBeGreaterThanOrEqual(0);
    expect(r.maskedAccuracy).toBeLessThanOrEqual(1);
    expect(r.baselineAccuracy).toBeGreaterThan(0);
    // Near ln(300) = 5.7 after 4 steps: finite and no worse than a uniform guess by much.
    expect(r.heldOutLoss).toBeGreaterThan(3);
    expect(r.heldOutLoss).toBeLessThan(7);
    expect(existsSync(join(dir, TOKENIZER_FILE))).toBe(true);
    const loaded = kd.models.bert.fromPretrained(dir);
    expect(loaded.constructor.name).toBe('BertForMaskedLM');
    expect(loaded.loadResult).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(loaded.config).toMatchObject({ vocabSize: 300, hiddenSize: 16, maxPositionEmbeddings: 16 });
  }, 120_000);

  it('bert_finetune: fine-tunes the saved encoder and a from-scratch twin and reports both held-out accuracies', async () => {
    const r = await finetuneTestaments({ pretrained: dir, steps: 3, batchSize: 4, seqLen: 16, trainPerClass: 8, testPerClass: 10, log: quiet });
    expect(r.testSize).toBe(20);
    expect(r.steps).toBe(3);
    for (const acc of [r.pretrainedAccuracy, r.scratchAccuracy]) {
      expect(acc).toBeGreaterThanOrEqual(0);
      expect(acc).toBeLessThanOrEqual(1);
      expect(Number.isInteger(acc * 20)).toBe(true);
    }
  }, 120_000);

  it('unknown command-line flags are refused with the list of known ones', () => {
    expect(parseFlags(['--steps', '5'], ['steps'])).toEqual({ steps: '5' });
    expect(() => parseFlags(['--stepz', '5'], ['steps'])).toThrow(/unknown or incomplete flag '--stepz' \(known: --steps VALUE\)/);
    expect(() => parseFlags(['--steps'], ['steps'])).toThrow(kd.ArgumentError);
  });
});
