// einsum: Einstein summation over labelled dims, as torch.einsum. Written on views and existing
// ops, so autograd differentiates it: a repeated label within one operand takes a diagonal, a
// label no one else needs is summed out at once, and operands are folded left to right, each
// pair as one batched matmul [batch, M, K] @ [batch, K, N] over the labels they share.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { diagonal } from './rearrange.js';
import { matmul } from './matmul.js';
import { assertTensor, sameDevice } from './record.js';
import { sum } from './reduce.js';
import { expand, permute, reshape } from './shape.js';

/** A dim's label: a letter's char code, or -(k + 1) for dim k of the broadcast ellipsis dims. */
type Label = number;

/** A tensor with one label per dim. */
interface Labelled {
  t: Tensor;
  labels: Label[];
}

interface Term {
  letters: Label[];
  /** Where "..." stands among the letters, or -1. */
  ellipsisAt: number;
}

function parseTerm(term: string, equation: string): Term {
  const letters: Label[] = [];
  let ellipsisAt = -1;
  for (let i = 0; i < term.length; i++) {
    const c = term[i];
    if (c === '.') {
      if (term.slice(i, i + 3) !== '...' || ellipsisAt >= 0) throw new ArgumentError(`einsum: invalid ellipsis in '${term}' of '${equation}'`);
      ellipsisAt = letters.length;
      i += 2;
    } else if (/[a-zA-Z]/.test(c)) {
      letters.push(c.charCodeAt(0));
    } else {
      throw new ArgumentError(`einsum: invalid subscript '${c}' in '${equation}': use letters a-z, A-Z and '...'`);
    }
  }
  return { letters, ellipsisAt };
}

/** Labels for every dim of an operand of `ndim` dims; its ellipsis dims line up at the right of `ellipsisDims`. */
function operandLabels(term: Term, ndim: number, ellipsisDims: number): Label[] {
  if (term.ellipsisAt < 0) return term.letters;
  const e = ndim - term.letters.length;
  const dots = Array.from({ length: e }, (_, k) => -(ellipsisDims - e + k) - 1);
  return [...term.letters.slice(0, term.ellipsisAt), ...dots, ...term.letters.slice(term.ellipsisAt)];
}

function labelName(l: Label): string {
  return l >= 0 ? String.fromCharCode(l) : '...';
}

/**
 * einsum('ij,jk->ik', a, b), einsum('bij,bjk->bik', ...), 'ii->i' (diagonal), 'ij->' (sum),
 * '...ij,...jk->...ik' (ellipsis dims broadcast); without '->' the output holds the ellipsis dims
 * then the letters used once, in alphabetical order. Dims of size 1 broadcast.
 */
export function einsum(equation: string, ...operands: (Tensor | Tensor[])[]): Tensor {
  if (typeof equation !== 'string') throw new ArgumentError(`einsum: expected an equation string, got ${typeof equation}`);
  const tensors = (operands.length === 1 && Array.isArray(operands[0]) ? operands[0] : operands) as Tensor[];
  tensors.forEach((t, i) => assertTensor(t, 'einsum', `operand ${i}`));
  if (tensors.length === 0) throw new ArgumentError('einsum: expected at least one operand');
  sameDevice('einsum', ...tensors);
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const terms = lhs.split(',').map((s) => parseTerm(s, equation));
  if (terms.length !== tensors.length) {
    throw new ArgumentError(`einsum: '${equation}' names ${terms.length} operands but ${tensors.length} were given`);
  }
  let ellipsisDims = 0;
  terms.forEach((term, i) => {
    const x = tensors[i];
    const need = term.letters.length;
    if (term.ellipsisAt < 0 ? x.ndim !== need : x.ndim < need) {
      throw new ShapeError(`einsum: operand ${i} of shape ${fmtShape(x.shape)} has ${x.ndim} dims but '${equation}' gives it ${need} subscripts${term.ellipsisAt >= 0 ? ' and ...' : ''}`);
    }
    if (term.ellipsisAt >= 0) ellipsisDims = Math.max(ellipsisDims, x.ndim - need);
  });
  const inputs: Labelled[] = terms.map((term, i) => ({ t: tensors[i], labels: operandLabels(term, tensors[i].ndim, ellipsisDims) }));

  // Sizes per label must agree (or be 1, which broadcasts).
  const sizes = new Map<Label, number>();
  for (const { t, labels } of inputs) {
    labels.forEach((l, d) => {
      const seen = sizes.get(l);
      if (seen === undefined || seen === 1) sizes.set(l, t.shape[d]);
      else if (t.shape[d] !== seen && t.shape[d] !== 1) {
        throw new ShapeError(`einsum: subscript ${labelName(l)} has size ${t.shape[d]} in ${fmtShape(t.shape)} but ${seen} elsewhere in '${equation}' (operands ${tensors.map((x) => fmtShape(x.shape)).join(', ')})`);
      }
    });
  }

  const outLabels = outputLabels(eq, arrow, inputs, ellipsisDims, equation);
  return scoped(() => {
    let parts = inputs.map((x) => takeDiagonals(x, equation));
    // Sum out the labels that appear in only one operand and not in the output.
    parts = parts.map((x, i) => {
      const elsewhere = new Set<Label>(outLabels);
      parts.forEach((y, j) => { if (j !== i) y.labels.forEach((l) => elsewhere.add(l)); });
      return sumOut(x, (l) => !elsewhere.has(l));
    });
    let acc = parts[0];
    for (let i = 1; i < parts.length; i++) {
      const needed = new Set<Label>(outLabels);
      for (let j = i + 1; j < parts.length; j++) parts[j].labels.forEach((l) => needed.add(l));
      acc = contractPair(acc, parts[i], needed);
    }
    // Whatever the output does not name is summed; the rest is put in the output's order.
    acc = sumOut(acc, (l) => !outLabels.includes(l));
    return permute(acc.t, outLabels.map((l) => acc.labels.indexOf(l)));
  });
}

function outputLabels(eq: string, arrow: number, inputs: Labelled[], ellipsisDims: number, equation: string): Label[] {
  const dots = Array.from({ length: ellipsisDims }, (_, k) => -k - 1);
  if (arrow < 0) {
    const counts = new Map<Label, number>();
    for (const x of inputs) for (const l of x.labels) if (l >= 0) counts.set(l, (counts.get(l) ?? 0) + 1);
    const once = [...counts].filter(([, c]) => c === 1).map(([l]) => l).sort((a, b) => a - b);
    return [...dots, ...once];
  }
  const term = parseTerm(eq.slice(arrow + 2), equation);
  const used = new Set(inputs.flatMap((x) => x.labels));
  const seen = new Set<Label>();
  for (const l of term.letters) {
    if (!used.has(l)) throw new ArgumentError(`einsum: output subscript ${labelName(l)} in '${equation}' does not appear in any input`);
    if (seen.has(l)) throw new ArgumentError(`einsum: output subscript ${labelName(l)} appears more than once in '${equation}'`);
    seen.add(l);
  }
  if (term.ellipsisAt < 0) {
    if (ellipsisDims > 0 && dots.some((l) => used.has(l))) throw new ArgumentError(`einsum: '${equation}' has '...' in an input but not in the output`);
    return term.letters;
  }
  return [...term.letters.slice(0, term.ellipsisAt), ...dots, ...term.letters.slice(term.ellipsisAt)];
}

/** Each label repeated within the operand becomes one dim: the diagonal of its dims. */
function takeDiagonals(x: Labelled, equation: string): Labelled {
  let { t, labels } = x;
  for (;;) {
    const d1 = labels.findIndex((l, i) => labels.indexOf(l) !== i);
    if (d1 < 0) return { t, labels };
    const d0 = labels.indexOf(labels[d1]);
    if (t.shape[d0] !== t.shape[d1]) {
      throw new ShapeError(`einsum: subscript ${labelName(labels[d0])} is repeated in an operand of shape ${fmtShape(x.t.shape)} over dims of sizes ${t.shape[d0]} and ${t.shape[d1]} in '${equation}'`);
    }
    const l = labels[d0];
    t = diagonal(t, 0, d0, d1);
    labels = [...labels.filter((_, i) => i !== d0 && i !== d1), l];
  }
}

function sumOut(x: Labelled, drop: (l: Label) => boolean): Labelled {
  const dims = x.labels.map((l, d) => (drop(l) ? d : -1)).filter((d) => d >= 0);
  if (dims.length === 0) return x;
  return { t: sum(x.t, dims), labels: x.labels.filter((l) => !drop(l)) };
}

/**
 * a and b as one tensor: labels in both that are still `needed` are batch dims, labels in both
 * that are not are contracted, the rest are kept from their side; one matmul does it all.
 */
function contractPair(a: Labelled, b: Labelled, needed: Set<Label>): Labelled {
  const inB = new Set(b.labels), inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && needed.has(l));
  const contracted = a.labels.filter((l) => inB.has(l) && !needed.has(l));
  const aOnly = a.labels.filter((l) => !inB.has(l));
  const bOnly = b.labels.filter((l) => !inA.has(l));
  const sizeOf = (l: Label) => Math.max(a.t.shape[a.labels.indexOf(l)] ?? 1, b.t.shape[b.labels.indexOf(l)] ?? 1);
  const arrange = (x: Labelled, order: Label[]) => {
    const perm = order.map((l) => x.labels.indexOf(l));
    const p = perm.every((v, i) => v === i) ? x.t : permute(x.t, perm);
    return expand(p, order.map(sizeOf));
  };
  const count = (ls: Label[]) => ls.reduce((n, l) => n * sizeOf(l), 1);
  const B = count(batch), M = count(aOnly), K = count(contracted), N = count(bOnly);
  const am = reshape(arrange(a, [...batch, ...aOnly, ...contracted]), [B, M, K]);
  const bm = reshape(arrange(b, [...batch, ...contracted, ...bOnly]), [B, K, N]);
  const out = matmul(am, bm);
  return { t: reshape(out, [...batch, ...aOnly, ...bOnly].map(sizeOf)), labels: [...batch, ...aOnly, ...bOnly] };
}
