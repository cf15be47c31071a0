// Seeded random numbers: xoshiro128** for uniform bits, Box-Muller for normals. kd.manualSeed
// makes runs repeatable; the stream differs from PyTorch's (distributions match, values don't).

let s0 = 0, s1 = 0, s2 = 0, s3 = 0;

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

export function manualSeed(seed: number): void {
  const next = splitmix32(Math.floor(seed) ^ Math.floor(seed / 2 ** 32));
  s0 = next(); s1 = next(); s2 = next(); s3 = next();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
}

manualSeed(Date.now());

/** 32 random bits. */
export function nextUint32(): number {
  const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 11);
  return result;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform in [0, 1) with 24 random bits, so it is exact in float32. */
export function nextUniform(): number {
  return (nextUint32() >>> 8) / 16777216;
}

export function fillUniform(out: Float32Array, low: number, high: number): void {
  const span = high - low;
  for (let i = 0; i < out.length; i++) out[i] = low + span * nextUniform();
}

export function fillNormal(out: Float32Array, mean: number, std: number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - nextUniform(); // (0, 1]
    const u2 = nextUniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
}

/** A uniform integer in [0, n). */
export function nextInt(n: number): number {
  return Math.floor(nextUniform() * n) % n;
}
