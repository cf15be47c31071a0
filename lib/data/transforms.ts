// kd.data.transforms: per-sample preprocessing and augmentation with torchvision's names and
// semantics (Compose, Normalize, RandomCrop, RandomHorizontalFlip, RandomRotation,
// RandomErasing, GaussianNoise). A transform works on one sample's Float32Array in plain loops
// (`apply`), so the DataLoader can run it over a gathered batch without a tensor per sample;
// `forward` is the same on a tensor. Randomness comes from the Generator passed in: the
// DataLoader passes one derived from (seed, epoch, sample index), so runs repeat exactly.
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { fromTypedArray } from '../ops/creation.js';
import { Generator, defaultGenerator } from '../random.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';

/** One sample's elements in row-major order and its shape (an image is [C, H, W] or [H, W]). */
export interface Sample {
  data: Float32Array;
  shape: readonly number[];
}

/**
 * A per-sample transform. Subclasses implement `apply`, which may change `sample.data` in place
 * (the caller owns it) or return a new sample; `forward` runs it on a tensor without touching it.
 */
export abstract class Transform {
  abstract apply(sample: Sample, generator: Generator): Sample;

  /** The transformed copy of one sample; randomness from `generator` (default: the one kd.manualSeed seeds). */
  forward(x: Tensor, generator: Generator = defaultGenerator): Tensor {
    const name = this.constructor.name;
    if (!(x instanceof Tensor)) throw new ArgumentError(`${name}: expected a Tensor, got ${describe(x)}`);
    if (x.dtype !== 'float32') throw new DTypeError(`${name}: expected a float32 tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
    if (!(generator instanceof Generator)) throw new ArgumentError(`${name}: generator must be a kd.Generator, got ${describe(generator)}`);
    const out = this.apply({ data: (x.data() as Float32Array).slice(), shape: x.shape }, generator);
    return fromTypedArray(out.data, [...out.shape], 'float32', x.device);
  }
}

/** A transform written as a function of a tensor (what Compose makes of plain functions). */
export type TransformFn = (x: Tensor, generator: Generator) => Tensor;
export type TransformLike = Transform | TransformFn;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Wraps `fn(x, generator)` as a Transform; tensors it makes are freed once its result is read. */
export class Lambda extends Transform {
  constructor(readonly fn: TransformFn) {
    super();
    if (typeof fn !== 'function') throw new ArgumentError(`Lambda: expected a function (x, generator) => Tensor, got ${describe(fn)}`);
  }

  /** fn(x, generator) itself, on a tensor of any dtype. */
  override forward(x: Tensor, generator: Generator = defaultGenerator): Tensor {
    return this.fn(x, generator);
  }

  apply(sample: Sample, generator: Generator): Sample {
    return tidy(() => {
      const y = this.fn(fromTypedArray(sample.data, [...sample.shape], 'float32', 'cpu'), generator);
      if (!(y instanceof Tensor)) throw new ArgumentError(`Lambda: the function must return a Tensor, got ${describe(y)}`);
      if (y.dtype !== 'float32') throw new DTypeError(`Lambda: the function must return a float32 tensor, got ${y.dtype} ${fmtShape(y.shape)}`);
      return { data: (y.data() as Float32Array).slice(), shape: [...y.shape] };
    });
  }
}

/** @internal A Transform as is; a function wrapped in Lambda. */
export function toTransform(op: string, t: unknown): Transform {
  if (t instanceof Transform) return t;
  if (typeof t === 'function') return new Lambda(t as TransformFn);
  throw new ArgumentError(`${op}: expected a kd.data.transforms.Transform or a function (x, generator) => Tensor, got ${describe(t)}`);
}

/** Applies transforms in order: `new Compose([new RandomCrop(28, { padding: 2 }), new RandomHorizontalFlip()])`. */
export class Compose extends Transform {
  readonly transforms: Transform[];

  constructor(transforms: readonly TransformLike[]) {
    super();
    if (!Array.isArray(transforms)) throw new ArgumentError(`Compose: expected an array of transforms, got ${describe(transforms)}`);
    this.transforms = transforms.map((t, i) => toTransform(`Compose: transforms[${i}]`, t));
  }

  apply(sample: Sample, generator: Generator): Sample {
    for (const t of this.transforms) sample = t.apply(sample, generator);
    return sample;
  }
}

// ---- argument checks and image geometry ---------------------------------------------------------

function checkNumber(op: string, name: string, v: unknown, test: (x: number) => boolean = Number.isFinite, want = 'a finite number'): number {
  if (typeof v !== 'number' || !test(v)) throw new ArgumentError(`${op}: ${name} must be ${want}, got ${describe(v)}`);
  return v;
}

function checkProbability(op: string, p: unknown): number {
  return checkNumber(op, 'p', p, (x) => x >= 0 && x <= 1, 'a probability in [0, 1]');
}

/** A number, or one per channel, as a non-empty list of finite numbers. */
function perChannel(op: string, name: string, v: unknown): number[] {
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new ArgumentError(`${op}: ${name} must be a finite number or a non-empty array of them (one per channel), got ${describe(v)}`);
  }
  return [...list] as number[];
}

/** A (min, max) pair. */
function range(op: string, name: string, v: unknown, test: (x: number) => boolean, want: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && test(x))) {
    throw new ArgumentError(`${op}: ${name} must be a [min, max] pair of ${want}, got ${describe(v)}`);
  }
  if (v[0] > v[1]) throw new ArgumentError(`${op}: ${name} must be [min, max] with min <= max, got [${v[0]}, ${v[1]}]`);
  return [v[0], v[1]];
}

/** Height, width, the channel count C and the number of H×W planes of an image [..., C, H, W] (or [H, W]). */
function imageGeometry(op: string, shape: readonly number[], minDims: 2 | 3): { h: number; w: number; channels: number; planes: number } {
  if (shape.length < minDims) {
    throw new ShapeError(`${op}: expected an image [C, H, W]${minDims === 2 ? ' or [H, W]' : ''}, got ${fmtShape(shape)}`);
  }
  const h = shape[shape.length - 2], w = shape[shape.length - 1];
  const channels = shape.length >= 3 ? shape[shape.length - 3] : 1;
  const planes = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { h, w, channels, planes };
}

function channelValue(values: readonly number[], plane: number, channels: number): number {
  return values.length === 1 ? values[0] : values[plane % channels];
}

function checkChannelCount(op: string, name: string, values: readonly number[], channels: number, shape: readonly number[]): void {
  if (values.length !== 1 && values.length !== channels) {
    throw new ShapeError(`${op}: ${values.length} ${name} values for an image ${fmtShape(shape)} with ${channels} channel(s): give one, or one per channel`);
  }
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---- the transforms -----------------------------------------------------------------------------

/** (x - mean[c]) / std[c] per channel c of an image [..., C, H, W], as torchvision's Normalize. */
export class Normalize extends Transform {
  readonly mean: number[];
  readonly std: number[];

  constructor(mean: number | readonly number[], std: number | readonly number[]) {
    super();
    this.mean = perChannel('Normalize', 'mean', mean);
    this.std = perChannel('Normalize', 'std', std);
    if (this.std.some((s) => s === 0)) throw new ArgumentError(`Normalize: std [${this.std.join(', ')}] has a zero, which would divide by zero`);
  }

  apply(sample: Sample): Sample {
    const { h, w, channels, planes } = imageGeometry('Normalize', sample.shape, 3);
    checkChannelCount('Normalize', 'mean', this.mean, channels, sample.shape);
    checkChannelCount('Normalize', 'std', this.std, channels, sample.shape);
    const d = sample.data, area = h * w;
    for (let p = 0; p < planes; p++) {
      const m = channelValue(this.mean, p, channels), s = channelValue(this.std, p, channels);
      for (let k = p * area, end = k + area; k < end; k++) d[k] = (d[k] - m) / s;
    }
    return sample;
  }
}

export type PaddingMode = 'constant' | 'edge' | 'reflect' | 'symmetric';
const PADDING_MODES: readonly PaddingMode[] = ['constant', 'edge', 'reflect', 'symmetric'];

export interface RandomCropOptions {
  /** Pixels added before cropping: all sides, [left/right, top/bottom], or [left, top, right, bottom]. */
  padding?: number | readonly number[];
  /** Pad an image smaller than the crop (by the shortfall on both sides, as torchvision does). */
  padIfNeeded?: boolean;
  /** Value of 'constant' padding: one, or one per channel. Default 0. */
  fill?: number | readonly number[];
  /** 'constant' (fill), 'edge' (repeat the border), 'reflect' (mirror without the border), 'symmetric' (with it). */
  paddingMode?: PaddingMode;
}

function checkSize(op: string, size: unknown): [number, number] {
  const positive = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0;
  if (positive(size)) return [size, size];
  if (Array.isArray(size) && size.length === 1 && positive(size[0])) return [size[0], size[0]];
  if (Array.isArray(size) && size.length === 2 && positive(size[0]) && positive(size[1])) return [size[0], size[1]];
  throw new ArgumentError(`${op}: size must be a positive integer or [height, width], got ${describe(size)}`);
}

/** Maps a coordinate of the padded axis (-before .. n-1+after) to a source index, or -1 for fill. */
function padIndex(k: number, n: number, mode: PaddingMode): number {
  if (k >= 0 && k < n) return k;
  switch (mode) {
    case 'constant': return -1;
    case 'edge': return k < 0 ? 0 : n - 1;
    case 'reflect': return k < 0 ? -k : 2 * (n - 1) - k;
    case 'symmetric': return k < 0 ? -k - 1 : 2 * n - 1 - k;
  }
}

/**
 * Pads the image (optionally) and crops a random size[0] × size[1] window, as torchvision's
 * RandomCrop: `new RandomCrop(28, { padding: 2 })` shifts a 28×28 image by up to 2 pixels.
 */
export class RandomCrop extends Transform {
  readonly size: [number, number];
  /** [left, top, right, bottom]. */
  readonly padding: [number, number, number, number];
  readonly padIfNeeded: boolean;
  readonly fill: number[];
  readonly paddingMode: PaddingMode;

  constructor(size: number | readonly number[], options: RandomCropOptions = {}) {
    super();
    const op = 'RandomCrop';
    this.size = checkSize(op, size);
    if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(options)}`);
    const padding = options.padding ?? 0;
    const pads = typeof padding === 'number' ? [padding] : padding;
    if (!Array.isArray(pads) || ![1, 2, 4].includes(pads.length) || !pads.every((p) => typeof p === 'number' && Number.isInteger(p) && p >= 0)) {
      throw new ArgumentError(`${op}: padding must be an integer >= 0 or an array of 1, 2 or 4 of them, got ${describe(padding)}`);
    }
    this.padding = pads.length === 1 ? [pads[0], pads[0], pads[0], pads[0]] : pads.length === 2 ? [pads[0], pads[1], pads[0], pads[1]] : [pads[0], pads[1], pads[2], pads[3]];
    this.padIfNeeded = options.padIfNeeded ?? false;
    if (typeof this.padIfNeeded !== 'boolean') throw new ArgumentError(`${op}: padIfNeeded must be a boolean, got ${describe(this.padIfNeeded)}`);
    this.fill = perChannel(op, 'fill', options.fill ?? 0);
    this.paddingMode = options.paddingMode ?? 'constant';
    if (!PADDING_MODES.includes(this.paddingMode)) throw new ArgumentError(`${op}: paddingMode must be one of ${PADDING_MODES.join(', ')}, got ${describe(this.paddingMode)}`);
  }

  apply(sample: Sample, generator: Generator): Sample {
    const op = 'RandomCrop';
    const { h, w, channels, planes } = imageGeometry(op, sample.shape, 2);
    const [th, tw] = this.size;
    let [left, top, right, bottom] = this.padding;
    if (this.padIfNeeded && w + left + right < tw) {
      const short = tw - (w + left + right);
      left += short;
      right += short;
    }
    if (this.padIfNeeded && h + top + bottom < th) {
      const short = th - (h + top + bottom);
      top += short;
      bottom += short;
    }
    const ph = h + top + bottom, pw = w + left + right;
    if (ph < th || pw < tw) throw new ShapeError(`${op}: crop size [${th}, ${tw}] is larger than the ${left || top || right || bottom ? 'padded ' : ''}image [${ph}, ${pw}] (input ${fmtShape(sample.shape)}); pass padIfNeeded: true to pad it`);
    if (this.paddingMode === 'constant') checkChannelCount(op, 'fill', this.fill, channels, sample.shape);
    const limit = this.paddingMode === 'reflect' ? 1 : 0;
    if (this.paddingMode !== 'constant' && (Math.max(top, bottom) > h - limit || Math.max(left, right) > w - limit || h === 0 || w === 0)) {
      throw new ArgumentError(`${op}: '${this.paddingMode}' padding [left ${left}, top ${top}, right ${right}, bottom ${bottom}] must be ${limit ? 'smaller than' : 'at most'} the image's size [${h}, ${w}]`);
    }
    let i = 0, j = 0;
    if (ph !== th || pw !== tw) {
      i = generator.nextInt(ph - th + 1);
      j = generator.nextInt(pw - tw + 1);
    }
    const rows = new Int32Array(th), cols = new Int32Array(tw);
    for (let y = 0; y < th; y++) rows[y] = padIndex(i + y - top, h, this.paddingMode);
    for (let x = 0; x < tw; x++) cols[x] = padIndex(j + x - left, w, this.paddingMode);
    // Output columns [xa, xb) read source column x + shift directly; the padded ones go through `cols`.
    const shift = j - left, xa = Math.min(tw, Math.max(0, -shift)), xb = Math.max(xa, Math.min(tw, w - shift));
    const src = sample.data, out = new Float32Array(planes * th * tw);
    for (let p = 0, o = 0; p < planes; p++) {
      const fill = channelValue(this.fill, p, channels), base = p * h * w;
      for (let y = 0; y < th; y++, o += tw) {
        const r = rows[y];
        if (r < 0) {
          out.fill(fill, o, o + tw);
          continue;
        }
        const s = base + r * w;
        for (let x = 0; x < xa; x++) out[o + x] = cols[x] < 0 ? fill : src[s + cols[x]];
        for (let x = xa; x < xb; x++) out[o + x] = src[s + shift + x];
        for (let x = xb; x < tw; x++) out[o + x] = cols[x] < 0 ? fill : src[s + cols[x]];
      }
    }
    return { data: out, shape: [...sample.shape.slice(0, -2), th, tw] };
  }
}

/** Mirrors the image left-right with probability p, as torchvision's RandomHorizontalFlip. */
export class RandomHorizontalFlip extends Transform {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    this.p = checkProbability('RandomHorizontalFlip', p);
  }

  apply(sample: Sample, generator: Generator): Sample {
    const { w } = imageGeometry('RandomHorizontalFlip', sample.shape, 2);
    if (!(generator.nextUniform() < this.p)) return sample;
    const d = sample.data;
    for (let row = 0; row < d.length; row += w) {
      for (let a = row, b = row + w - 1; a < b; a++, b--) {
        const t = d[a];
        d[a] = d[b];
        d[b] = t;
      }
    }
    return sample;
  }
}

export interface RandomRotationOptions {
  /** 'nearest' (default, as torchvision) or 'bilinear'. */
  interpolation?: 'nearest' | 'bilinear';
  /** Centre of rotation [x, y] in pixel coordinates (pixel (0, 0) covers [0, 1)²). Default the image's centre. */
  center?: readonly number[];
  /** Value of the area rotated in from outside: one, or one per channel. Default 0. */
  fill?: number | readonly number[];
}

/**
 * Rotates the image by an angle drawn uniformly from [-degrees, degrees] (or [min, max]),
 * counter-clockwise for positive angles, as torchvision's RandomRotation (expand = false):
 * output pixel (i, j) samples the input at the rotated point; outside it, fill. With bilinear
 * interpolation a border pixel is blended with fill by the weight of its in-image neighbours,
 * exactly as torchvision does (mask · (sample − fill) + fill, the sample zero-padded).
 */
export class RandomRotation extends Transform {
  readonly degrees: [number, number];
  readonly interpolation: 'nearest' | 'bilinear';
  readonly center: [number, number] | null;
  readonly fill: number[];

  constructor(degrees: number | readonly number[], options: RandomRotationOptions = {}) {
    super();
    const op = 'RandomRotation';
    if (typeof degrees === 'number') {
      checkNumber(op, 'degrees', degrees, (x) => Number.isFinite(x) && x >= 0, 'a number >= 0 (the range is [-degrees, degrees]) or a [min, max] pair');
      this.degrees = [-degrees, degrees];
    } else {
      this.degrees = range(op, 'degrees', degrees, Number.isFinite, 'finite numbers');
    }
    if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(options)}`);
    this.interpolation = options.interpolation ?? 'nearest';
    if (this.interpolation !== 'nearest' && this.interpolation !== 'bilinear') throw new ArgumentError(`${op}: interpolation must be 'nearest' or 'bilinear', got ${describe(this.interpolation)}`);
    this.center = options.center === undefined ? null : (range(op, 'center', options.center, Number.isFinite, 'finite numbers (x, y)') as [number, number]);
    this.fill = perChannel(op, 'fill', options.fill ?? 0);
  }

  apply(sample: Sample, generator: Generator): Sample {
    const [lo, hi] = this.degrees;
    return rotate(sample, lo + (hi - lo) * generator.nextUniform(), this.interpolation, this.center, this.fill);
  }
}

/** The image rotated counter-clockwise by `angle` degrees about `center` (see RandomRotation). */
function rotate(sample: Sample, angle: number, interpolation: 'nearest' | 'bilinear', center: readonly number[] | null, fillValues: readonly number[]): Sample {
  const op = 'RandomRotation';
  const { h, w, channels, planes } = imageGeometry(op, sample.shape, 2);
  checkChannelCount(op, 'fill', fillValues, channels, sample.shape);
  // Exact quarter turns: cos(π/2) is 6e-17 in floating point, which would blur a bilinear 90°.
  let cos = Math.cos((angle * Math.PI) / 180), sin = Math.sin((angle * Math.PI) / 180);
  if (Number.isInteger(angle / 90)) {
    cos = Math.round(cos);
    sin = Math.round(sin);
  }
  // Pixel centres sit at integer indices, so torchvision's centre c (in pixel coordinates) is index c - 0.5.
  const cx = center ? center[0] - 0.5 : (w - 1) / 2, cy = center ? center[1] - 0.5 : (h - 1) / 2;
  const area = h * w, src = sample.data, out = new Float32Array(src.length);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const sx = cx + cos * (j - cx) - sin * (i - cy);
      const sy = cy + sin * (j - cx) + cos * (i - cy);
      const o = i * w + j;
      if (interpolation === 'nearest') {
        const x = roundHalfEven(sx), y = roundHalfEven(sy);
        const inside = x >= 0 && x < w && y >= 0 && y < h;
        for (let p = 0; p < planes; p++) out[p * area + o] = inside ? src[p * area + y * w + x] : channelValue(fillValues, p, channels);
        continue;
      }
      // Bilinear: the four neighbours' weights; those outside the image count toward fill.
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      const in00 = y0 >= 0 && y0 < h && x0 >= 0 && x0 < w, in01 = y0 >= 0 && y0 < h && x0 + 1 >= 0 && x0 + 1 < w;
      const in10 = y0 + 1 >= 0 && y0 + 1 < h && x0 >= 0 && x0 < w, in11 = y0 + 1 >= 0 && y0 + 1 < h && x0 + 1 >= 0 && x0 + 1 < w;
      const w00 = in00 ? (1 - fy) * (1 - fx) : 0, w01 = in01 ? (1 - fy) * fx : 0, w10 = in10 ? fy * (1 - fx) : 0, w11 = in11 ? fy * fx : 0;
      const mask = w00 + w01 + w10 + w11, at = y0 * w + x0;
      for (let p = 0; p < planes; p++) {
        const s = p * area + at;
        const value = (w00 ? w00 * src[s] : 0) + (w01 ? w01 * src[s + 1] : 0) + (w10 ? w10 * src[s + w] : 0) + (w11 ? w11 * src[s + w + 1] : 0);
        const fill = channelValue(fillValues, p, channels);
        out[p * area + o] = mask * (value - fill) + fill;
      }
    }
  }
  return { data: out, shape: sample.shape };
}

export interface RandomErasingOptions {
  /** Probability of erasing. Default 0.5. */
  p?: number;
  /** Range of the erased area as a fraction of the image. Default [0.02, 0.33]. */
  scale?: readonly number[];
  /** Range of the erased rectangle's aspect ratio (height / width). Default [0.3, 3.3]. */
  ratio?: readonly number[];
  /** The erased value: one, one per channel, or 'random' (standard normal noise). Default 0. */
  value?: number | readonly number[] | 'random';
}

/**
 * Erases a random rectangle with probability p (Zhong et al. 2017), as torchvision's
 * RandomErasing: up to 10 tries to draw an area in scale·H·W and a log-uniform aspect ratio in
 * `ratio` that fits; if none fits, the image is left as it is.
 */
export class RandomErasing extends Transform {
  readonly p: number;
  readonly scale: [number, number];
  readonly ratio: [number, number];
  readonly value: number[] | 'random';

  constructor(options: RandomErasingOptions = {}) {
    super();
    const op = 'RandomErasing';
    if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(options)}`);
    this.p = checkProbability(op, options.p ?? 0.5);
    this.scale = range(op, 'scale', options.scale ?? [0.02, 0.33], (x) => x >= 0 && x <= 1, 'fractions in [0, 1]');
    this.ratio = range(op, 'ratio', options.ratio ?? [0.3, 3.3], (x) => Number.isFinite(x) && x > 0, 'positive numbers');
    const value = options.value ?? 0;
    if (typeof value === 'string' && value !== 'random') throw new ArgumentError(`${op}: value must be a number, an array of numbers or 'random', got '${value}'`);
    this.value = value === 'random' ? 'random' : perChannel(op, 'value', value);
  }

  apply(sample: Sample, generator: Generator): Sample {
    const op = 'RandomErasing';
    const { h, w, channels, planes } = imageGeometry(op, sample.shape, 3);
    if (this.value !== 'random') checkChannelCount(op, 'value', this.value, channels, sample.shape);
    if (!(generator.nextUniform() < this.p)) return sample;
    const logLo = Math.log(this.ratio[0]), logHi = Math.log(this.ratio[1]);
    for (let attempt = 0; attempt < 10; attempt++) {
      const eraseArea = h * w * (this.scale[0] + (this.scale[1] - this.scale[0]) * generator.nextUniform());
      const aspect = Math.exp(logLo + (logHi - logLo) * generator.nextUniform());
      const eh = roundHalfEven(Math.sqrt(eraseArea * aspect)), ew = roundHalfEven(Math.sqrt(eraseArea / aspect));
      if (!(eh < h && ew < w)) continue;
      const top = generator.nextInt(h - eh + 1), left = generator.nextInt(w - ew + 1);
      eraseRect(sample.data, h, w, planes, channels, top, left, eh, ew, this.value, generator);
      return sample;
    }
    return sample;
  }
}

function eraseRect(d: Float32Array, h: number, w: number, planes: number, channels: number, top: number, left: number, eh: number, ew: number, value: number[] | 'random', generator: Generator): void {
  let noise: Float32Array | null = null;
  if (value === 'random') {
    noise = new Float32Array(channels * eh * ew);
    generator.fillNormal(noise, 0, 1);
  }
  for (let p = 0; p < planes; p++) {
    const c = p % channels, fill = noise ? 0 : channelValue(value as number[], p, channels);
    for (let y = 0; y < eh; y++) {
      const row = p * h * w + (top + y) * w + left;
      for (let x = 0; x < ew; x++) d[row + x] = noise ? noise[(c * eh + y) * ew + x] : fill;
    }
  }
}

export interface GaussianNoiseOptions {
  mean?: number;
  sigma?: number;
  /** Clamp the result to [0, 1] (images in [0, 1]). Default true, as torchvision. */
  clip?: boolean;
}

/** x + mean + sigma·N(0, 1) per element, clamped to [0, 1] unless clip is false, as torchvision.transforms.v2.GaussianNoise. */
export class GaussianNoise extends Transform {
  readonly mean: number;
  readonly sigma: number;
  readonly clip: boolean;
  private noise = new Float32Array(0);

  constructor(options: GaussianNoiseOptions = {}) {
    super();
    const op = 'GaussianNoise';
    if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(options)}`);
    this.mean = checkNumber(op, 'mean', options.mean ?? 0);
    this.sigma = checkNumber(op, 'sigma', options.sigma ?? 0.1, (x) => Number.isFinite(x) && x >= 0, 'a number >= 0');
    this.clip = options.clip ?? true;
    if (typeof this.clip !== 'boolean') throw new ArgumentError(`${op}: clip must be a boolean, got ${describe(this.clip)}`);
  }

  apply(sample: Sample, generator: Generator): Sample {
    const d = sample.data;
    if (this.noise.length < d.length) this.noise = new Float32Array(d.length);
    const noise = this.noise.subarray(0, d.length);
    generator.fillNormal(noise, this.mean, this.sigma);
    for (let k = 0; k < d.length; k++) {
      const v = d[k] + noise[k];
      d[k] = this.clip ? Math.min(1, Math.max(0, v)) : v;
    }
    return sample;
  }
}
