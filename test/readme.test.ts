import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// README.zh-CN.md is a translation of README.md: the prose differs, the code and the sections must not.
const root = fileURLToPath(new URL('..', import.meta.url));
const read = (name: string): string => readFileSync(join(root, name), 'utf8').replace(/\r\n/g, '\n');

/** The fenced code blocks of a Markdown text, fences included, in order. */
function codeBlocks(text: string): string[] {
  const blocks: string[] = [];
  let current: string[] | null = null;
  let fence = '';
  for (const line of text.split('\n')) {
    if (current === null) {
      const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
      if (open) {
        fence = open[1];
        current = [line];
      }
    } else {
      current.push(line);
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) {
        blocks.push(current.join('\n'));
        current = null;
      }
    }
  }
  if (current !== null) blocks.push(current.join('\n'));
  return blocks;
}

/** Lines outside code blocks, so that a `## ` inside a block is not taken for a heading. */
function prose(text: string): string[] {
  const lines: string[] = [];
  let fence = '';
  for (const line of text.split('\n')) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === '') {
      if (marker) fence = marker[1];
      else lines.push(line);
    } else if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length && /^ {0,3}[`~]+\s*$/.test(line)) {
      fence = '';
    }
  }
  return lines;
}

const level2 = (text: string): string[] => prose(text).filter((line) => line.startsWith('## '));

describe('README.zh-CN.md keeps in step with README.md', () => {
  const en = read('README.md');
  const zh = read('README.zh-CN.md');

  it('has the same fenced code blocks, in the same order', () => {
    const blocks = codeBlocks(en);
    expect(blocks.length).toBeGreaterThan(0);
    expect(codeBlocks(zh)).toEqual(blocks);
  });

  it('has the same number of level-2 headings', () => {
    expect(level2(en).length).toBeGreaterThan(0);
    expect(level2(zh).length).toBe(level2(en).length);
  });

  it('links each file to the other under the title', () => {
    expect(en.split('\n').slice(0, 4)).toContain('[简体中文](README.zh-CN.md)');
    expect(zh.split('\n').slice(0, 4)).toContain('[English](README.md)');
  });
});
