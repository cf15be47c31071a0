// Printing tensors the way PyTorch's repr does: tensor([[ 1.0000, -2.5000], ...], requires_grad=True).
import type { Tensor } from './tensor.js';

const EDGE_ITEMS = 3;
const SUMMARIZE_THRESHOLD = 1000;

function formatFloats(values: number[]): (v: number) => string {
  const finite = values.filter((v) => Number.isFinite(v));
  const allInts = finite.every((v) => Number.isInteger(v));
  const maxAbs = finite.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const minAbs = finite.filter((v) => v !== 0).reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
  const sci = finite.length > 0 && (maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs !== Infinity) || (minAbs !== Infinity && maxAbs / minAbs > 1000 && !allInts));
  return (v: number) => {
    if (Number.isNaN(v)) return 'nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    if (sci) return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
    if (allInts) return `${v.toFixed(0)}.`;
    return v.toFixed(4);
  };
}

export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return 'tensor(<disposed>)';
  const flat = Array.from(t.data() as ArrayLike<number>);
  const summarize = t.numel > SUMMARIZE_THRESHOLD;
  const fmt =
    t.dtype === 'float32' ? formatFloats(flat) : t.dtype === 'bool' ? (v: number) => (v ? 'True' : 'False') : (v: number) => String(v);
  const strs = flat.map(fmt);
  const width = strs.reduce((w, s) => Math.max(w, s.length), 0);
  const pad = (s: string) => s.padStart(width);
  const prefix = 'tensor(';
  const strides: number[] = [];
  let s = 1;
  for (let d = t.ndim - 1; d >= 0; d--) {
    strides[d] = s;
    s *= t.shape[d];
  }
  const render = (dim: number, base: number, indent: number): string => {
    const n = t.shape[dim];
    const idx: (number | null)[] = [];
    if (summarize && n > 2 * EDGE_ITEMS) {
      for (let i = 0; i < EDGE_ITEMS; i++) idx.push(i);
      idx.push(null);
      for (let i = n - EDGE_ITEMS; i < n; i++) idx.push(i);
    } else {
      for (let i = 0; i < n; i++) idx.push(i);
    }
    if (dim === t.ndim - 1) {
      // PyTorch marks an elided run inside a row with ' ...' (two spaces after the comma).
      return `[${idx.map((i) => (i === null ? ' ...' : pad(strs[base + i]))).join(', ')}]`;
    }
    const sep = `,${'\n'.repeat(t.ndim - 1 - dim)}${' '.repeat(indent + 1)}`;
    return `[${idx.map((i) => (i === null ? '...' : render(dim + 1, base + i * strides[dim], indent + 1))).join(sep)}]`;
  };
  const body = t.ndim === 0 ? strs[0] : t.numel === 0 ? '[]' : render(0, 0, prefix.length);
  const extras: string[] = [];
  if (t.numel === 0 && t.ndim > 1) extras.push(`size=(${t.shape.join(', ')})`);
  if (t.dtype === 'int32') extras.push('dtype=kindling.int32');
  if (t.device !== 'cpu') extras.push(`device='${t.device}:0'`);
  if (t.gradFn) extras.push(`grad_fn=<${t.gradFn.name}>`);
  else if (t.requiresGrad) extras.push('requires_grad=True');
  return `${prefix}${body}${extras.length ? ', ' + extras.join(', ') : ''})`;
}
