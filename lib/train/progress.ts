// What fit prints: a progress bar while an epoch runs (only when stderr is a terminal) and one
// summary line per epoch on stdout. verbose 2 keeps only the line; verbose 0 turns both off.
import cliProgress from 'cli-progress';

/** An epoch's figures by name: loss, the metrics, val_loss, val_<metric>, lr. */
export type Logs = Record<string, number>;

export interface EpochProgressOptions {
  epoch: number;
  epochs: number;
  batches: number;
  /** Whether anything is printed. */
  enabled: boolean;
  /** Whether the bar is drawn (on a terminal) while the epoch runs. Default true. */
  bar?: boolean;
  /** Where the bar is drawn. Default process.stderr. */
  barStream?: NodeJS.WriteStream;
  /** Where the summary line goes. Default process.stdout. */
  write?: (line: string) => void;
  /** The line's prefix, e.g. 'Epoch 3/12' (the default) or 'Steps 201-300'. */
  prefix?: string;
}

/** 0.4213, 0.001, 1.2e-5: four significant digits, no trailing noise. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

export function formatLogs(logs: Logs): string {
  return Object.entries(logs).map(([k, v]) => `${k} ${formatValue(v)}`).join('  ');
}

export class EpochProgress {
  private readonly bar: cliProgress.SingleBar | null = null;
  private readonly started = performance.now();
  private readonly write: (line: string) => void;
  private readonly prefix: string;

  constructor(private readonly options: EpochProgressOptions) {
    const width = String(options.epochs).length;
    this.prefix = options.prefix ?? `Epoch ${String(options.epoch).padStart(width)}/${options.epochs}`;
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    const stream = options.barStream ?? process.stderr;
    if (options.enabled && (options.bar ?? true) && stream.isTTY) {
      this.bar = new cliProgress.SingleBar({
        stream,
        format: `${this.prefix} [{bar}] {value}/{total} | {metrics} | {speed} samples/s | ETA {eta_formatted}`,
        barsize: 24,
        clearOnComplete: true,
        hideCursor: true,
        fps: 5,
      }, cliProgress.Presets.legacy);
      this.bar.start(options.batches, 0, { metrics: '', speed: '-' });
    }
  }

  update(batchesDone: number, samplesDone: number, logs: Logs): void {
    if (!this.bar) return;
    const seconds = (performance.now() - this.started) / 1000;
    this.bar.update(batchesDone, { metrics: formatLogs(logs), speed: seconds > 0 ? Math.round(samplesDone / seconds) : '-' });
  }

  /** Removes the bar (also on error, so the terminal is left clean). */
  stop(): void {
    this.bar?.stop();
  }

  summary(logs: Logs, seconds: number, samplesPerSecond: number): void {
    if (!this.options.enabled) return;
    this.write(`${this.prefix}  ${seconds.toFixed(1)}s  ${formatLogs(logs)}  (${Math.round(samplesPerSecond)} samples/s)`);
  }
}
