/**
 * Progress on stderr (stdout may carry data): a cli-progress bar on a terminal, one plain status line every few
 * seconds otherwise (logs, CI). The interval is 5 s, or `RXJS_DYNAMODB_STATUS_INTERVAL_MS`. With a throughput
 * controller (`--concurrency adaptive`) both also show the rate it drives the table at, and why:
 * `1,950 u/s (throttled)`.
 */
import cliProgress from 'cli-progress';
import type { Progress } from '../index.js';

/** What a job has done so far. */
export interface Tally {
  /** Items (or input lines) read. */
  read: number;
  /** How far the job is, in `unit`s: what the bar shows against its total. */
  done: number;
  written: number;
  failed: number;
  /** Dropped by a transform. */
  skipped: number;
}

/** The throughput controller's rate now, and why (`onProgress`'s `rate`): absent without a controller. */
export type ControllerRate = NonNullable<Progress['rate']>;

/** Reports a job's tally, and the controller's rate when there is one; `stop()` at the end. */
export interface Reporter {
  update(tally: Tally, rate?: ControllerRate): void;
  stop(): void;
}

/**
 * The controller's rate for people: `1,950 u/s (throttled)`; `unbounded (starting)` while nothing has pushed back
 * (only the calls in flight bound it).
 */
export function formatRate(rate: ControllerRate): string {
  const units = rate.unitsPerSecond;
  const value = units === null || !Number.isFinite(units) ? 'unbounded' : `${Math.round(units).toLocaleString('en-US')} u/s`;
  return `${value} (${rate.reason})`;
}

/** What a status line shows (`itemsPerSecond`: written per second lately). */
export interface StatusLine {
  label: string;
  tally: Tally;
  total?: number;
  unit: string;
  itemsPerSecond: number;
  elapsedMs: number;
  rate?: ControllerRate;
}

/** A tally's counts: `120 written, 0 failed, 3 skipped` (skipped only when some were). */
const counts = (t: Tally) => `${t.written} written, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}`;

/**
 * The plain status line (stderr not a terminal): `import: 1200 of 8000 lines done, 1200 written, 0 failed, 812/s,
 * 1,950 u/s (throttled), 1.5 s`; without a controller, no rate: `…, 812/s, 1.5 s`.
 */
export function statusLine(s: StatusLine): string {
  const of = s.total ? ` of ${s.total}` : '';
  const rate = s.rate ? `, ${formatRate(s.rate)}` : '';
  return `${s.label}: ${s.tally.done}${of} ${s.unit} done, ${counts(s.tally)}, ${s.itemsPerSecond}/s${rate}, ${(s.elapsedMs / 1000).toFixed(1)} s`;
}

/** The bar's format (stderr a terminal); `{controller}` is empty without a controller, else `, 1,950 u/s (throttled)`. */
export function barFormat(label: string, unit: string, known: boolean): string {
  return `${label} ${known ? '[{bar}] {percentage}% | {value}/{total}' : '{value}'} ${unit} done | {counts} | {rate}/s{controller} | {duration_formatted}`;
}

/** The bar's payload for a tally and rate. */
export const barPayload = (tally: Tally, itemsPerSecond: number, rate?: ControllerRate) => ({
  counts: counts(tally),
  rate: itemsPerSecond,
  controller: rate ? `, ${formatRate(rate)}` : '',
});

const RATE_WINDOW_MS = 5_000;

/**
 * A reporter for `label` (`import`, `copy`, …). `total` (items or lines, perhaps approximate) draws a bar of
 * `tally.done` with a percentage; without it, counts only. `enabled: false` (`--no-progress`) reports nothing.
 */
export function progressReporter(label: string, options: { total?: number; unit: string; enabled?: boolean }): Reporter {
  const { total, unit, enabled = true } = options;
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  const started = Date.now();
  const samples: Array<[number, number]> = [[started, 0]];
  let last: Tally = { read: 0, done: 0, written: 0, failed: 0, skipped: 0 };
  let lastRate: ControllerRate | undefined;
  const rate = () => {
    const now = Date.now();
    samples.push([now, last.written]);
    while (samples.length > 2 && samples[0]![0] < now - RATE_WINDOW_MS) samples.shift();
    const [then, writtenThen] = samples[0]!;
    return now > then ? Math.round(((last.written - writtenThen) / (now - then)) * 1000) : 0;
  };

  if (process.stderr.isTTY) {
    const known = total !== undefined && total > 0;
    const bar = new cliProgress.SingleBar(
      {
        format: barFormat(label, unit, known),
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(known ? total : 0, 0, barPayload(last, 0));
    return {
      update(t, r) {
        last = t;
        lastRate = r;
        bar.update(t.done, barPayload(t, rate(), r));
      },
      stop() {
        bar.update(last.done, barPayload(last, rate(), lastRate));
        bar.stop();
      },
    };
  }

  const intervalMs = Number(process.env.RXJS_DYNAMODB_STATUS_INTERVAL_MS) || 5_000;
  const line = () => {
    const elapsedMs = Date.now() - started;
    process.stderr.write(`${statusLine({ label, tally: last, total, unit, itemsPerSecond: rate(), elapsedMs, rate: lastRate })}\n`);
  };
  const timer = setInterval(line, intervalMs).unref();
  return {
    update(t, r) {
      last = t;
      lastRate = r;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
