import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CsvFormatError, parseCsvRows, parseCsvTable, readCsvFile } from '../../lib/data/csv.js';
import * as kd from '../../lib/index.js';

const irisPath = fileURLToPath(new URL('../../data/iris.csv', import.meta.url));

describe('shipped iris.csv', () => {
  const iris = readCsvFile(irisPath);

  it('has 150 rows, four numeric feature columns and the species label', () => {
    expect(iris.rowCount).toBe(150);
    expect(iris.columns).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species']);
    expect(iris.featureColumns).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(iris.features.length).toBe(150 * 4);
    expect(Array.from(iris.features.subarray(0, 4))).toEqual([5.1, 3.5, 1.4, 0.2]);
  });

  it('has 3 classes of 50, in order of first appearance', () => {
    expect(iris.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    const counts = [0, 0, 0];
    for (const label of iris.labels) counts[label]! += 1;
    expect(counts).toEqual([50, 50, 50]);
  });

  it('every measurement is a positive length in cm', () => {
    expect(iris.features.every((v) => v > 0 && v < 10)).toBe(true);
  });
});

describe('CSV parsing', () => {
  it('handles quoted fields with commas, doubled quotes and newlines, and CRLF line ends', () => {
    const text = 'name,note\r\n"Smith, J","said ""hi"""\r\n"multi\nline",plain\r\n\r\n';
    expect(parseCsvRows(text)).toEqual([
      ['name', 'note'],
      ['Smith, J', 'said "hi"'],
      ['multi\nline', 'plain'],
    ]);
  });

  it('keeps empty fields and a final row without a newline; drops a byte-order mark', () => {
    expect(parseCsvRows('\ufeffa,b,c\n1,,3')).toEqual([['a', 'b', 'c'], ['1', '', '3']]);
  });

  it('maps a named label column to class indices, optionally with sorted classes', () => {
    const text = 'x,kind,y\n1,"b",2\n3,a,4\n5,b,6\n';
    const table = parseCsvTable(text, { labelColumn: 'kind' });
    expect(table.classes).toEqual(['b', 'a']);
    expect(Array.from(table.labels)).toEqual([0, 1, 0]);
    expect(Array.from(table.features)).toEqual([1, 2, 3, 4, 5, 6]);
    const sorted = parseCsvTable(text, { labelColumn: 'kind', sortClasses: true });
    expect(sorted.classes).toEqual(['a', 'b']);
    expect(Array.from(sorted.labels)).toEqual([1, 0, 1]);
  });

  it('an all-numeric table has no label column', () => {
    const table = parseCsvTable('a,b\n1,2.5\n-3,1e3\n');
    expect(table.classes).toEqual([]);
    expect(table.labels.length).toBe(0);
    expect(Array.from(table.features)).toEqual([1, 2.5, -3, 1000]);
  });

  it.each([
    ['a row with too few fields', 'a,b\n1\n', {}, /data\.csv:2: record 1 has 1 fields, the header has 2/],
    ['a non-number in a numeric column', 'a,label\n1,x\nfoo,y\n', { labelColumn: 'label' }, /record 2, column 'a': 'foo' is not a number/],
    ['two text columns and no label column named', 'a,b\nx,y\n', {}, /several non-numeric columns \(a, b\)/],
    ['an unknown label column', 'a\n1\n', { labelColumn: 'kind' }, /no column 'kind' in \[a\]/],
    ['an unterminated quote', 'a\n"1\n', {}, /data\.csv:2: unterminated quoted field/],
    ['a quote inside an unquoted field', 'a\n1"2\n', {}, /data\.csv:2: quote inside an unquoted field/],
    ['an empty file', '', {}, /data\.csv: empty file/],
  ])('%s is a CsvFormatError', (_, text, options, message) => {
    expect(() => parseCsvTable(text, options, 'data.csv')).toThrow(CsvFormatError);
    expect(() => parseCsvTable(text, options, 'data.csv')).toThrow(message);
  });
});

describe('numbers in CSV are decimals', () => {
  it.each(['0x10', '0b1', '0o7', 'Infinity', '-Infinity', '1_000', '1e', '.', '+', '1.2.3', '١٢'])('%s in a numeric column is a DataError with file, line and column', (bad) => {
    const text = `a,b,label\n1,2,x\n3,${bad},y\n`;
    expect(() => parseCsvTable(text, { labelColumn: 'label' }, 'data.csv')).toThrow(kd.DataError);
    expect(() => parseCsvTable(text, { labelColumn: 'label' }, 'data.csv')).toThrow(`data.csv:3:2: record 2, column 'b': '${bad}' is not a number`);
  });

  it('integers, decimals, exponents and signs parse, with spaces around them', () => {
    const table = parseCsvTable('a,b,c,d,e,f\n12,-0.5,+3.,.25,1e3, -2.5E-2 \n', {}, 'data.csv');
    expect(Array.from(table.features)).toEqual([12, -0.5, 3, 0.25, 1000, -0.025]);
  });

  it('the line counts quoted newlines and blank lines', () => {
    const text = 'a,note\n1,"two\nlines"\n\n0x1F,z\n';
    expect(() => parseCsvTable(text, { labelColumn: 'note' }, 'data.csv')).toThrow(/data\.csv:5:1: record 2, column 'a': '0x1F'/);
  });
});
