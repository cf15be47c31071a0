// PyTorch's recurrent equations transcribed in float64 plain loops (one layer-direction), the
// reference the fused kernels and the nn.RNN / nn.LSTM / nn.GRU modules are checked against, and
// its gradients by central differences in float64 (exact to ~1e-8 on the small sizes tests use).
export type Mode = 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu';

export interface RefLayer {
  mode: Mode;
  T: number; B: number; I: number; H: number; P: number;
  wIh: Float64Array; wHh: Float64Array; bIh: Float64Array | null; bHh: Float64Array | null; wHr: Float64Array | null;
}

export const gatesOf = (mode: Mode) => (mode === 'lstm' ? 4 : mode === 'gru' ? 3 : 1);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** W [rows, cols] · v (v from offset) + b. */
function affine(w: Float64Array, rows: number, cols: number, v: Float64Array, at: number, b: Float64Array | null): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = b ? b[r] : 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * v[at + c];
    out[r] = s;
  }
  return out;
}

/**
 * x [T, B, I], h0 [B, Hout], c0 [B, H] → output [T, B, Hout], hN, cN. With batchSizes, step t
 * advances rows < batchSizes[t] only; the others keep their state and output zeros.
 */
export function referenceLayer(l: RefLayer, x: Float64Array, h0: Float64Array, c0: Float64Array | null,
  reverse = false, batchSizes: ArrayLike<number> | null = null): { out: Float64Array; hN: Float64Array; cN: Float64Array } {
  const { mode, T, B, I, H, P } = l;
  const Ho = P || H;
  const h = Float64Array.from(h0), c = c0 ? Float64Array.from(c0) : new Float64Array(B * H);
  const out = new Float64Array(T * B * Ho);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const n = batchSizes ? batchSizes[t] : B;
    for (let b = 0; b < n; b++) {
      const gi = affine(l.wIh, gatesOf(mode) * H, I, x, (t * B + b) * I, l.bIh);
      const gh = affine(l.wHh, gatesOf(mode) * H, Ho, h, b * Ho, l.bHh);
      const hNew = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        if (mode === 'lstm') {
          const i = sigmoid(gi[j] + gh[j]), f = sigmoid(gi[H + j] + gh[H + j]);
          const g = Math.tanh(gi[2 * H + j] + gh[2 * H + j]), o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
          c[b * H + j] = f * c[b * H + j] + i * g;
          hNew[j] = o * Math.tanh(c[b * H + j]);
        } else if (mode === 'gru') {
          const r = sigmoid(gi[j] + gh[j]), z = sigmoid(gi[H + j] + gh[H + j]);
          const nn = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
          hNew[j] = (1 - z) * nn + z * h[b * Ho + j];
        } else {
          const v = gi[j] + gh[j];
          hNew[j] = mode === 'rnn_tanh' ? Math.tanh(v) : Math.max(0, v);
        }
      }
      const hOut = P ? affine(l.wHr!, P, H, hNew, 0, null) : hNew;
      for (let j = 0; j < Ho; j++) {
        h[b * Ho + j] = hOut[j];
        out[(t * B + b) * Ho + j] = hOut[j];
      }
    }
  }
  return { out, hN: h, cN: c };
}

/**
 * d(loss)/d(array) by central differences in float64 for each array in `wrt`, where loss() reads
 * the arrays (perturbed in place and restored).
 */
export function numericGradients(loss: () => number, wrt: Float64Array[], eps = 1e-6): Float64Array[] {
  return wrt.map((a) => {
    const g = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const orig = a[i];
      a[i] = orig + eps;
      const fp = loss();
      a[i] = orig - eps;
      const fm = loss();
      a[i] = orig;
      g[i] = (fp - fm) / (2 * eps);
    }
    return g;
  });
}

/** Σ a·w over the arrays (the test loss: fixed random weights on every output). */
export function dot(a: Float64Array, w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * w[i];
  return s;
}
