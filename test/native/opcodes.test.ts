// The TypeScript opcode tables (lib/backend/opcodes.ts) against the C++ enums (native/common/
// opcodes.h), whose names the addon exports in enum order: same names, same values. Runs on any
// machine; a reordering or a missing op on either side fails here instead of running a wrong kernel.
import { describe, expect, it } from 'vitest';

import { BinaryOp, ReduceOp, UnaryOp } from '../../lib/backend/opcodes.js';
import { native } from '../../lib/native.js';

const tables = { unary: UnaryOp, binary: BinaryOp, reduce: ReduceOp } as const;

describe('opcode tables', () => {
  for (const [family, table] of Object.entries(tables)) {
    it(`${family}: every TypeScript code names the C++ enumerator at that value, and the lists match`, () => {
      const cppNames = native.opcodes[family] as string[];
      expect(cppNames.length).toBeGreaterThan(0);
      const tsEntries = Object.entries(table).sort((a, b) => a[1] - b[1]);
      expect(tsEntries.map(([name]) => name)).toEqual(cppNames);
      for (const [name, value] of tsEntries) expect(cppNames[value], `${family} ${name}`).toBe(name);
    });
  }

  it('a table and its codes are frozen', () => {
    expect(Object.isFrozen(UnaryOp)).toBe(true);
    expect(() => {
      (BinaryOp as Record<string, number>).Add = 5;
    }).toThrow(TypeError);
  });

  it('the binding rejects codes past the end of each C++ table', () => {
    const n = native.alloc(16);
    try {
      expect(() => native.unary(native.opcodes.unary.length, 0, 0, 0, [1], n, 0, [1], n, 0, [1])).toThrow(/unknown op/);
      expect(() => native.binary(native.opcodes.binary.length, 0, [1], n, 0, [1], n, 0, [1], n, 0, [1])).toThrow(/unknown op/);
      expect(() => native.reduce(native.opcodes.reduce.length, 0, [], [], [1], [1], n, 0, n, 0, [])).toThrow(/unknown op/);
    } finally {
      native.dispose(n);
    }
  });
});
