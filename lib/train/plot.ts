// Training curves as a standalone SVG line chart: one panel per metric (loss, accuracy, ...),
// epochs on x, train solid and validation dashed, a legend above each panel and a title. Non-finite
// values (NaN from a diverged step, or a metric not computed that epoch) leave gaps in a line.

export interface TrainingHistory {
  epoch: number[];
  /** Each series holds one value per entry of `epoch`, e.g. { trainLoss, valLoss, trainAcc, valAcc }. */
  series: Record<string, number[]>;
}

export interface TrainingCurveOptions {
  title?: string;
  /** Whole image size in px. */
  width?: number;
  height?: number;
  xLabel?: string;
}

type Role = 'train' | 'val' | 'other';

interface SeriesStyle {
  name: string;
  values: number[];
  role: Role;
  color: string;
  dashed: boolean;
}

interface Panel {
  metric: string;
  series: SeriesStyle[];
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

const roleColor: Record<Exclude<Role, 'other'>, string> = { train: '#1f77b4', val: '#ff7f0e' };
const otherColors = ['#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const font = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
// Markers on every point while a line has few points; beyond that only isolated points get one.
const markAllPointsUpTo = 25;

const rolePrefix = /^(train(?:ing)?|val(?:id(?:ation)?)?|test)(?=[_\-./ A-Z]|$)[_\-./ ]?/;

/** Splits 'valLoss', 'val_loss', 'train/acc', 'loss' into a role and a metric name. */
function roleAndMetric(name: string): { role: Role; metric: string } {
  const match = rolePrefix.exec(name);
  if (match === null) {
    // Keras names validation series 'val_loss' but the training one plain 'loss'.
    return { role: /loss|acc/i.test(name) ? 'train' : 'other', metric: name.toLowerCase() };
  }
  const role: Role = match[1]!.startsWith('train') ? 'train' : 'val';
  const rest = name.slice(match[0].length);
  return { role, metric: (rest === '' ? name : rest).toLowerCase() };
}

function metricTitle(metric: string): string {
  if (/^acc(uracy)?$/.test(metric)) return 'accuracy';
  return metric;
}

function groupIntoPanels(series: Record<string, number[]>): Panel[] {
  const panels = new Map<string, Panel>();
  let nextOther = 0;
  for (const [name, values] of Object.entries(series)) {
    const { role, metric } = roleAndMetric(name);
    const key = metricTitle(metric);
    const color = role === 'other' ? otherColors[nextOther++ % otherColors.length]! : roleColor[role];
    const panel = panels.get(key) ?? { metric: key, series: [] };
    panel.series.push({ name, values, role, color, dashed: role === 'val' });
    panels.set(key, panel);
  }
  return [...panels.values()];
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[ch]};`);
}

/** Coordinates with at most two decimals, no trailing zeros. */
function px(value: number): string {
  return String(Math.round(value * 100) / 100);
}

interface Ticks {
  min: number;
  max: number;
  values: number[];
  decimals: number;
}

/** Round-number ticks covering [min, max], about `target` of them. */
function niceTicks(min: number, max: number, target: number, integerStep = false): Ticks {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const rawStep = (max - min) / Math.max(1, target - 1);
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const fraction = rawStep / magnitude;
  let step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10) * magnitude;
  if (integerStep) step = Math.max(1, Math.round(step));
  const first = Math.floor(min / step + 1e-9) * step;
  const last = Math.ceil(max / step - 1e-9) * step;
  const values: number[] = [];
  for (let k = 0; first + k * step <= last + step * 1e-9; k++) values.push(first + k * step);
  const stepExponent = Math.floor(Math.log10(step) + 1e-9);
  const isQuarterStep = Math.abs(step / 10 ** stepExponent - 2.5) < 1e-9;
  const decimals = Math.max(0, -stepExponent + (isQuarterStep ? 1 : 0));
  return { min: first, max: last, values, decimals };
}

/** Tick labels for one axis: fixed decimals, or exponent form where fixed would be long (|v| ≥ 1e5 or < 1e-3). */
function tickFormatter(ticks: Ticks): (value: number) => string {
  const maxAbs = Math.max(...ticks.values.map(Math.abs));
  const step = ticks.values.length > 1 ? ticks.values[1]! - ticks.values[0]! : 1;
  if (maxAbs >= 1e5 || (maxAbs > 0 && maxAbs < 1e-3)) {
    const digits = Math.max(0, Math.floor(Math.log10(maxAbs)) - Math.floor(Math.log10(step) + 1e-9));
    return (value) => (value === 0 ? '0' : value.toExponential(Math.min(digits, 3)).replace(/\.?0+e/, 'e').replace('e+', 'e'));
  }
  return (value) => {
    const text = value.toFixed(ticks.decimals);
    return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
  };
}

/** Cuts text to about `maxPx` wide at the 7 px per character the layout assumes. */
function fitText(text: string, maxPx: number): string {
  const maxChars = Math.max(4, Math.floor(maxPx / 7));
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}

function checkHistory(history: TrainingHistory): void {
  const epochs = history.epoch.length;
  if (epochs === 0) throw new Error('trainingCurveSvg: history.epoch is empty, nothing to plot');
  if (!history.epoch.every(Number.isFinite)) throw new Error('trainingCurveSvg: history.epoch holds a non-finite value');
  for (const [name, values] of Object.entries(history.series)) {
    if (values.length !== epochs) {
      throw new Error(`trainingCurveSvg: series '${name}' has ${values.length} values for ${epochs} epochs`);
    }
  }
  if (Object.keys(history.series).length === 0) throw new Error('trainingCurveSvg: history.series is empty');
}

/** One path per series: 'M' starts each run of finite values, so NaNs leave gaps. */
function linePath(epochs: number[], values: number[], x: (e: number) => number, y: (v: number) => number): string {
  const commands: string[] = [];
  let penDown = false;
  values.forEach((value, i) => {
    if (!Number.isFinite(value)) {
      penDown = false;
      return;
    }
    commands.push(`${penDown ? 'L' : 'M'}${px(x(epochs[i]!))},${px(y(value))}`);
    penDown = true;
  });
  return commands.join(' ');
}

function isIsolated(values: number[], i: number): boolean {
  return !Number.isFinite(values[i - 1] ?? NaN) && !Number.isFinite(values[i + 1] ?? NaN);
}

function renderPanel(panel: Panel, epochs: number[], box: Box, xLabel: string): string[] {
  const out: string[] = [];
  const finite = panel.series.flatMap((s) => s.values.filter(Number.isFinite));
  const low = finite.length ? Math.min(...finite) : 0;
  const high = finite.length ? Math.max(...finite) : 1;
  const yTicks = niceTicks(low, high, 6);
  const firstEpoch = Math.min(...epochs);
  const lastEpoch = Math.max(...epochs);
  const xTicks =
    firstEpoch === lastEpoch
      ? { min: firstEpoch - 1, max: lastEpoch + 1, values: [firstEpoch], decimals: 0 }
      : niceTicks(firstEpoch, lastEpoch, Math.min(8, epochs.length), true);
  // The x range is the epochs themselves (not rounded out) unless there is only one.
  const xMin = firstEpoch === lastEpoch ? xTicks.min : firstEpoch;
  const xMax = firstEpoch === lastEpoch ? xTicks.max : lastEpoch;
  const x = (e: number) => box.left + ((e - xMin) / (xMax - xMin)) * box.width;
  const y = (v: number) => box.top + box.height - ((v - yTicks.min) / (yTicks.max - yTicks.min)) * box.height;
  const bottom = box.top + box.height;

  out.push(`<g class="panel" data-metric="${escapeXml(panel.metric)}">`);
  const yTickText = tickFormatter(yTicks);
  const xTickText = tickFormatter(xTicks);
  const yTickLabels = yTicks.values.map(yTickText);
  yTicks.values.forEach((tick, k) => {
    const ty = px(y(tick));
    out.push(`<line class="grid" x1="${px(box.left)}" y1="${ty}" x2="${px(box.left + box.width)}" y2="${ty}" stroke="#e5e5e5" stroke-width="1"/>`);
    out.push(`<text x="${px(box.left - 8)}" y="${ty}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#444" ${font}>${yTickLabels[k]}</text>`);
  });
  for (const tick of xTicks.values.filter((t) => t >= xMin && t <= xMax)) {
    const tx = px(x(tick));
    out.push(`<line x1="${tx}" y1="${px(bottom)}" x2="${tx}" y2="${px(bottom + 5)}" stroke="#444" stroke-width="1"/>`);
    out.push(`<text x="${tx}" y="${px(bottom + 18)}" text-anchor="middle" font-size="11" fill="#444" ${font}>${xTickText(tick)}</text>`);
  }
  out.push(`<line class="axis" x1="${px(box.left)}" y1="${px(bottom)}" x2="${px(box.left + box.width)}" y2="${px(bottom)}" stroke="#444" stroke-width="1"/>`);
  out.push(`<line class="axis" x1="${px(box.left)}" y1="${px(box.top)}" x2="${px(box.left)}" y2="${px(bottom)}" stroke="#444" stroke-width="1"/>`);
  out.push(`<text x="${px(box.left + box.width / 2)}" y="${px(bottom + 36)}" text-anchor="middle" font-size="12" fill="#222" ${font}>${escapeXml(xLabel)}</text>`);
  // Clear of the widest tick label (11 px digits are about 6.5 px wide).
  const widestTickPx = Math.max(...yTickLabels.map((label) => label.length)) * 6.5;
  const yLabelX = box.left - 8 - widestTickPx - 12;
  const yLabelY = box.top + box.height / 2;
  out.push(`<text x="${px(yLabelX)}" y="${px(yLabelY)}" text-anchor="middle" font-size="12" fill="#222" transform="rotate(-90 ${px(yLabelX)} ${px(yLabelY)})" ${font}>${escapeXml(fitText(panel.metric, box.height))}</text>`);

  for (const s of panel.series) {
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path class="series" data-series="${escapeXml(s.name)}" d="${linePath(epochs, s.values, x, y)}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"${dash}/>`);
    s.values.forEach((value, i) => {
      if (!Number.isFinite(value)) return;
      if (epochs.length > markAllPointsUpTo && !isIsolated(s.values, i)) return;
      out.push(`<circle cx="${px(x(epochs[i]!))}" cy="${px(y(value))}" r="3" fill="${s.dashed ? '#fff' : s.color}" stroke="${s.color}" stroke-width="1.5"/>`);
    });
  }
  out.push('</g>');
  return out;
}

/** Legend entries in rows from (left, top), wrapping at maxWidth; returns the elements and the height used. */
function renderLegend(series: SeriesStyle[], left: number, top: number, maxWidth: number): { elements: string[]; height: number } {
  const elements: string[] = [];
  const rowHeight = 18;
  let cx = left;
  let cy = top;
  for (const s of series) {
    // Text width estimated at 7 px per character of 12 px sans-serif; SVG has no layout engine to ask.
    const label = fitText(s.name, maxWidth - 28);
    const itemWidth = 28 + label.length * 7 + 18;
    if (cx > left && cx + itemWidth > left + maxWidth) {
      cx = left;
      cy += rowHeight;
    }
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    elements.push(`<line x1="${px(cx)}" y1="${px(cy)}" x2="${px(cx + 22)}" y2="${px(cy)}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    elements.push(`<text x="${px(cx + 28)}" y="${px(cy)}" dominant-baseline="middle" font-size="12" fill="#222" ${font}>${escapeXml(label)}</text>`);
    cx += itemWidth;
  }
  return { elements, height: cy - top + rowHeight };
}

/**
 * A line chart of training curves as a standalone SVG document. Series are grouped into one
 * panel per metric by name ('trainLoss'/'valLoss' → loss, 'train_acc'/'val_acc' → accuracy).
 */
export function trainingCurveSvg(history: TrainingHistory, options: TrainingCurveOptions = {}): string {
  checkHistory(history);
  const width = options.width ?? 860;
  const height = options.height ?? 420;
  const title = options.title ?? 'Training curves';
  const xLabel = options.xLabel ?? 'epoch';
  const panels = groupIntoPanels(history.series);

  const margin = { left: 70, right: 24, top: 16, bottom: 50, between: 80 };
  const titleHeight = 26;
  const plotWidth = Math.max(40, (width - margin.left - margin.right - margin.between * (panels.length - 1)) / panels.length);
  const panelLeft = (k: number) => margin.left + k * (plotWidth + margin.between);
  // Each panel's legend sits above it, so an entry is read next to the curves it names.
  const legendTop = margin.top + titleHeight + 10;
  const legends = panels.map((panel, k) => renderLegend(panel.series, panelLeft(k), legendTop, plotWidth));
  const plotTop = legendTop + Math.max(...legends.map((l) => l.height)) + 8;
  const plotHeight = Math.max(40, height - plotTop - margin.bottom);

  const body: string[] = [];
  panels.forEach((panel, k) => {
    const box = { left: panelLeft(k), top: plotTop, width: plotWidth, height: plotHeight };
    body.push(...legends[k]!.elements, ...renderPanel(panel, history.epoch, box, xLabel));
  });

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${px(width / 2)}" y="${px(margin.top + 16)}" text-anchor="middle" font-size="16" font-weight="600" fill="#111" ${font}>${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
