/**
 * Progress on stderr (stdout may carry data): a cli-progress bar on a terminal, one plain status line every few
 * seconds otherwise (logs, CI). The interval is 5 s, or `RXJS_DYNAMODB_STATUS_INTERVAL_MS`.
 */
import cliProgress from 'cli-progress';

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

/** Reports a job's tally; `stop()` at the end. */
export interface Reporter {
  update(tally: Tally): void;
  stop(): void;
}

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
  const rate = () => {
    const now = Date.now();
    samples.push([now, last.written]);
    while (samples.length > 2 && samples[0]![0] < now - RATE_WINDOW_MS) samples.shift();
    const [then, writtenThen] = samples[0]!;
    return now > then ? Math.round(((last.written - writtenThen) / (now - then)) * 1000) : 0;
  };
  const counts = (t: Tally) => `${t.written} written, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}`;

  if (process.stderr.isTTY) {
    const known = total !== undefined && total > 0;
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} ${known ? '[{bar}] {percentage}% | {value}/{total}' : '{value}'} ${unit} done | {counts} | {rate}/s | {duration_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(known ? total : 0, 0, { counts: counts(last), rate: 0 });
    return {
      update(t) {
        last = t;
        bar.update(t.done, { counts: counts(t), rate: rate() });
      },
      stop() {
        bar.update(last.done, { counts: counts(last), rate: rate() });
        bar.stop();
      },
    };
  }

  const intervalMs = Number(process.env.RXJS_DYNAMODB_STATUS_INTERVAL_MS) || 5_000;
  const line = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const of = total ? ` of ${total}` : '';
    process.stderr.write(`${label}: ${last.done}${of} ${unit} done, ${counts(last)}, ${rate()}/s, ${seconds} s\n`);
  };
  const timer = setInterval(line, intervalMs).unref();
  return {
    update(t) {
      last = t;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
