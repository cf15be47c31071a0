// A small RFC 4180 reader: a header row, comma-separated fields, double-quoted fields that may
// hold commas, newlines and "" escapes; LF or CRLF line ends. Enough for the shipped tables.
import { DataError } from '../errors.js';
import { readText } from '../io/files.js';

export class CsvFormatError extends DataError {
  override name = 'CsvFormatError';
}

/** Splits CSV text into rows of raw string fields. Blank lines are skipped. */
export function parseCsvRows(text: string, source = '<string>'): string[][] {
  return splitRows(text, source).rows;
}

/** The rows, and the line each starts on (1-based), for error messages. */
function splitRows(text: string, source: string): { rows: string[][]; lines: number[] } {
  const rows: string[][] = [];
  const lines: number[] = [];
  let rowStartLine = 1;
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let fieldWasQuoted = false;
  let line = 1;
  let quoteStartLine = 1;
  const endRow = () => {
    row.push(field);
    const blank = row.length === 1 && row[0] === '' && !fieldWasQuoted;
    if (!blank) {
      rows.push(row);
      lines.push(rowStartLine);
    }
    row = [];
    field = '';
    fieldWasQuoted = false;
  };
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      if (field !== '') {
        throw new CsvFormatError(`${source}:${line}: quote inside an unquoted field '${field}"'`);
      }
      inQuotes = true;
      quoteStartLine = line;
      fieldWasQuoted = true;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      fieldWasQuoted = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowStartLine = line;
    } else {
      if (fieldWasQuoted) {
        throw new CsvFormatError(`${source}:${line}: text after the closing quote of a field`);
      }
      field += ch;
    }
  }
  if (inQuotes) throw new CsvFormatError(`${source}:${quoteStartLine}: unterminated quoted field`);
  if (field !== '' || row.length > 0 || fieldWasQuoted) endRow();
  return { rows, lines };
}

export interface CsvTable {
  /** Column names, in file order. */
  columns: string[];
  /** Row-major numeric features, one row per record: the numeric columns in file order. */
  features: Float64Array;
  featureColumns: string[];
  /** The label column mapped to class indices (positions in `classes`); empty if no label column. */
  labels: Int32Array;
  /** Class names in order of first appearance, so labels[i] names classes[labels[i]]. */
  classes: string[];
  rowCount: number;
}

export interface CsvReadOptions {
  /** The column holding string class names; default: the one non-numeric column, if exactly one. */
  labelColumn?: string;
  /** Sort the class list (default false: order of first appearance). */
  sortClasses?: boolean;
}

// A decimal number: optional sign, digits with an optional point (or a point and digits), an
// optional exponent; spaces around it are allowed. Number() alone would also take '0x10', '0b1',
// '0o7', 'Infinity' and '' (as 0), which a data file never means.
const decimalNumber = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function isNumber(field: string): boolean {
  const text = field.trim();
  return decimalNumber.test(text) && Number.isFinite(Number(text));
}

/**
 * Reads a table whose columns are all numeric except, at most, one label column of class
 * names. Every numeric field must parse; every row must have as many fields as the header.
 */
export function parseCsvTable(text: string, options: CsvReadOptions = {}, source = '<string>'): CsvTable {
  const { rows, lines } = splitRows(text, source);
  if (rows.length === 0) throw new CsvFormatError(`${source}: empty file, expected a header row`);
  const columns = rows[0]!.map((name) => name.trim());
  const records = rows.slice(1);
  records.forEach((record, r) => {
    if (record.length !== columns.length) {
      throw new CsvFormatError(
        `${source}:${lines[r + 1]}: record ${r + 1} has ${record.length} fields, the header has ${columns.length}`,
      );
    }
  });

  let labelIndex = -1;
  if (options.labelColumn !== undefined) {
    labelIndex = columns.indexOf(options.labelColumn);
    if (labelIndex < 0) {
      throw new CsvFormatError(`${source}: no column '${options.labelColumn}' in [${columns.join(', ')}]`);
    }
  } else {
    const nonNumeric = columns
      .map((_, c) => c)
      .filter((c) => records.some((record) => !isNumber(record[c]!)));
    if (nonNumeric.length > 1) {
      const names = nonNumeric.map((c) => columns[c]).join(', ');
      throw new CsvFormatError(`${source}: several non-numeric columns (${names}); name the label column`);
    }
    labelIndex = nonNumeric[0] ?? -1;
  }

  const featureIndices = columns.map((_, c) => c).filter((c) => c !== labelIndex);
  const features = new Float64Array(records.length * featureIndices.length);
  records.forEach((record, r) => {
    featureIndices.forEach((c, f) => {
      const field = record[c]!;
      if (!isNumber(field)) {
        throw new CsvFormatError(
          `${source}:${lines[r + 1]}:${c + 1}: record ${r + 1}, column '${columns[c]}': '${field}' is not a number (expected a decimal such as 12, -0.5 or 1e-3)`,
        );
      }
      features[r * featureIndices.length + f] = Number(field.trim());
    });
  });

  let classes: string[] = [];
  const labels = new Int32Array(labelIndex < 0 ? 0 : records.length);
  if (labelIndex >= 0) {
    const names = records.map((record) => record[labelIndex]!.trim());
    classes = [...new Set(names)];
    if (options.sortClasses) classes.sort();
    const indexOf = new Map(classes.map((name, k) => [name, k]));
    names.forEach((name, r) => (labels[r] = indexOf.get(name)!));
  }

  return {
    columns,
    features,
    featureColumns: featureIndices.map((c) => columns[c]!),
    labels,
    classes,
    rowCount: records.length,
  };
}

export function readCsvFile(path: string, options: CsvReadOptions = {}): CsvTable {
  return parseCsvTable(readText('readCsvFile', path), options, path);
}
