// Seeded random numbers: xoshiro128** for uniform bits, Box-Muller for normals. A Generator is one
// stream (like torch.Generator); the functions below draw from the default one, which
// kd.manualSeed seeds. The stream differs from PyTorch's (distributions match, values don't).
import { ArgumentError } from './errors.js';

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** MurmurHash3's finaliser: a bijection on 32-bit words that maps 0 to 0. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// One odd multiplier per state word, so stream s changes every word differently.
const STREAM_MULTIPLIERS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f];

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed = 0, stream = 0) {
    this.manualSeed(seed, stream);
  }

  /**
   * Restarts the stream from `seed`. `stream` selects one of 2^32 independent streams of the same
   * seed (the DataLoader gives sample i of an epoch stream i); stream 0 is the seed's plain stream.
   */
  manualSeed(seed: number, stream = 0): this {
    if (!Number.isFinite(seed) || !Number.isFinite(stream)) throw new ArgumentError(`Generator.manualSeed: seed and stream must be finite numbers, got ${seed}, ${stream}`);
    const next = splitmix32(Math.floor(seed) ^ Math.floor(seed / 2 ** 32));
    const s = Math.floor(stream) >>> 0;
    this.s0 = next() ^ fmix32(Math.imul(s, STREAM_MULTIPLIERS[0]));
    this.s1 = next() ^ fmix32(Math.imul(s, STREAM_MULTIPLIERS[1]));
    this.s2 = next() ^ fmix32(Math.imul(s, STREAM_MULTIPLIERS[2]));
    this.s3 = next() ^ fmix32(Math.imul(s, STREAM_MULTIPLIERS[3]));
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    return this;
  }

  /** The stream's position: four 32-bit words, JSON-serialisable (torch.Generator.get_state). */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Puts the stream back where getState() found it. */
  setState(state: readonly number[]): this {
    if (!Array.isArray(state) || state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff) || state.every((w) => w === 0)) {
      throw new ArgumentError(`Generator.setState: expected four 32-bit unsigned integers, not all zero (from getState()), got ${JSON.stringify(state)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = state.map((w) => w | 0) as [number, number, number, number];
    return this;
  }

  /** 32 random bits. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits, so it is exact in float32. */
  nextUniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** A uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextUniform() * n) % n;
  }

  fillUniform(out: Float32Array, low: number, high: number): void {
    const span = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + span * this.nextUniform();
  }

  fillNormal(out: Float32Array, mean: number, std: number): void {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.nextUniform(); // (0, 1]
      const u2 = this.nextUniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
    }
  }
}

/** The generator behind kd.rand, kd.randn, weight initialisation and unseeded transforms. */
export const defaultGenerator = new Generator(Date.now());

export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}

export function nextUint32(): number {
  return defaultGenerator.nextUint32();
}

export function nextUniform(): number {
  return defaultGenerator.nextUniform();
}

export function fillUniform(out: Float32Array, low: number, high: number): void {
  defaultGenerator.fillUniform(out, low, high);
}

export function fillNormal(out: Float32Array, mean: number, std: number): void {
  defaultGenerator.fillNormal(out, mean, std);
}

export function nextInt(n: number): number {
  return defaultGenerator.nextInt(n);
}

/** The default generator's state (torch.get_rng_state): a JSON-serialisable array for setRngState. */
export function getRngState(): number[] {
  return defaultGenerator.getState();
}

/** Puts the default generator back where getRngState() found it (torch.set_rng_state). */
export function setRngState(state: readonly number[]): void {
  defaultGenerator.setState(state);
}
