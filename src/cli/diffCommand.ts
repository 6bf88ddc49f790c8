/**
 * `rxjs-dynamodb diff --from A --to B [--keys-only] [--sample F] [--segments N] [--transform module] [--show N]`:
 * compares two tables (B against what A, through the transform, says it should hold) with {@link diffTables}, and
 * reports the items missing from B, extra in B and different, with counts and the first keys of each kind.
 *
 * Output on stdout: a short summary for people, or with `--json` NDJSON: one line per key reported,
 * `{"kind":"missing"|"extra"|"different"|"failed","key":{"pk":{"N":"9007199254740993"}}}` (keys as in checkpoints:
 * every digit of a number as text, binary as base64), then the summary `{"command":"diff","ok":true,"equal":…}`.
 * Exit 0 when the tables agree, 1 when they do not, 2 on bad flags, 3 when the diff could not run, 130 interrupted.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Key } from '../index.js';
import { storeKey } from './checkpoint.js';
import { loadTransform } from './copyCommand.js';
import { type DiffCounts, type DiffSummary, diffTables } from './diff.js';
import { toJsonLine } from './json.js';
import { commonOptions, type CommonOptions, parseConcurrency, parsePositiveInteger } from './options.js';
import { EXIT, withSession } from './session.js';

export interface DiffCommandOptions extends CommonOptions {
  from: string;
  to: string;
  /** Compare presence only. */
  keysOnly?: boolean;
  /** Check this fraction of A's items (by a hash of the key). @default 1 */
  sample?: number;
  /** @default 1 */
  segments?: number;
  pageSize?: number;
  /** A module whose default export is the transform. */
  transform?: string;
  /** Keys of each kind to report. @default 10 */
  show?: number;
}

/** A fraction > 0 and <= 1. */
export function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() !== '' && n > 0 && n <= 1) return n;
  throw new InvalidArgumentError(`must be a fraction > 0 and <= 1 (0.01 checks 1% of the items), got ${value}`);
}

/** An integer >= 0. */
export function parseCount(value: string): number {
  const n = Number(value);
  if (value.trim() !== '' && Number.isInteger(n) && n >= 0) return n;
  throw new InvalidArgumentError(`must be an integer >= 0, got ${value}`);
}

/** `diff`'s own flags, and those every command takes. */
export function diffOptions(command: Command): Command {
  return commonOptions(command)
    .description('compare two tables: the items missing from --to, extra in it, or different (after --transform when given)')
    .requiredOption('--from <table>', 'the table read in full (A)')
    .requiredOption('--to <table>', 'the table its items are looked up in (B)')
    .option('--keys-only', 'compare presence only: read the key attributes of B, not its items')
    .option(
      '--sample <fraction>',
      'check this fraction of the items of A, chosen by a hash of the key (the same on a rerun); extras are not checked',
      parseFraction,
    )
    .option('--segments <n>', 'scan in N parallel segments (A, and B to count it)', parsePositiveInteger)
    .option('--page-size <n>', 'items read per Scan page (Limit; default: up to 1 MB per page)', parsePositiveInteger)
    .option(
      '--transform <module>',
      'an ES module whose default export is (item) => item | undefined: what B should hold for an item of A (undefined: nothing)',
    )
    .addOption(new Option('--show <n>', 'keys of each kind to report').argParser(parseCount).default(10))
    .option('--concurrency <n|adaptive>', 'BatchGetItem calls in flight at once (default 4), or adaptive (AIMD)', parseConcurrency);
}

/** A key for people: plain JSON, every digit kept, binary as base64. */
const shown = (key: Key) => toJsonLine(key);

/** The summary for people. */
export function describeDiff(s: DiffSummary): string {
  const lines: string[] = [];
  const extra = s.extra === null ? 'extras not checked' : `${s.extra} extra`;
  const verdict = !s.complete ? 'interrupted' : s.equal ? 'equal' : 'not equal';
  lines.push(
    `diff ${s.from} -> ${s.to}: ${verdict}: ${s.missing} missing, ${extra}, ${s.different} different${s.failed ? `, ${s.failed} failed` : ''}`,
  );
  const skipped = [s.outOfSample ? `${s.outOfSample} out of the sample` : '', s.dropped ? `${s.dropped} dropped by the transform` : '']
    .filter(Boolean)
    .join(', ');
  lines.push(
    `  ${s.scanned} items of ${s.from} read, ${s.compared} compared${s.keysOnly ? ' (keys only)' : ''}${skipped ? ` (${skipped})` : ''}` +
      `${s.itemsInTo !== null ? `; ${s.itemsInTo} items in ${s.to}` : ''}`,
  );
  const list = (title: string, count: number, keys: string[]) => {
    if (count === 0 || keys.length === 0) return;
    lines.push(`${title} (${keys.length < count ? `first ${keys.length} of ${count}` : count}):`);
    for (const k of keys) lines.push(`  ${k}`);
  };
  list(`missing from ${s.to}`, s.missing, s.firstMissing.map(shown));
  list(`extra in ${s.to}`, s.extra ?? 0, s.firstExtra.map(shown));
  list(
    'different',
    s.different,
    s.firstDifferent.map((k, i) => `${shown(k)}  attributes: ${s.differentAttributes[i]!.join(', ')}`),
  );
  list(
    `failed (keys of ${s.from})`,
    s.failed,
    s.firstFailed.map((f) => `${shown(f.key)}  ${f.error}`),
  );
  if (s.extraNote) lines.push(`note: ${s.extraNote}`);
  return lines.join('\n');
}

/** The `--json` lines: one per key reported, then the summary. */
export function diffLines(s: DiffSummary, extra: Record<string, unknown>): string[] {
  const line = (kind: string, key: Key, more: Record<string, unknown> = {}) => JSON.stringify({ kind, key: storeKey(key), ...more });
  const { firstMissing, firstExtra, firstDifferent, differentAttributes, firstFailed, ...counts } = s;
  return [
    ...firstMissing.map((k) => line('missing', k)),
    ...firstExtra.map((k) => line('extra', k)),
    ...firstDifferent.map((k, i) => line('different', k, { attributes: differentAttributes[i] })),
    ...firstFailed.map((f) => line('failed', f.key, { error: f.error })),
    JSON.stringify({ command: 'diff', ok: s.complete, ...counts, ...extra }),
  ];
}

/** A status line on stderr every few seconds (`RXJS_DYNAMODB_STATUS_INTERVAL_MS`, default 5000); returns the stop. */
function statusLines(counts: () => DiffCounts | undefined, started: number): () => void {
  const intervalMs = Number(process.env.RXJS_DYNAMODB_STATUS_INTERVAL_MS) || 5_000;
  const timer = setInterval(() => {
    const c = counts();
    if (c)
      process.stderr.write(
        `diff: ${c.scanned} items read, ${c.compared} compared, ${c.missing} missing, ${c.different} different, ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
  }, intervalMs).unref();
  return () => clearInterval(timer);
}

/** Runs `diff`; resolves to the exit code: 0 equal, 1 not, 130 interrupted. */
export async function diffCommand(options: DiffCommandOptions): Promise<number> {
  const transform = options.transform ? await loadTransform(options.transform) : undefined;
  return withSession(options, async (session) => {
    const started = Date.now();
    let counts: DiffCounts | undefined;
    const stopStatus = options.progress !== false ? statusLines(() => counts, started) : () => undefined;
    let summary: DiffSummary;
    try {
      summary = await diffTables(session.client, {
        from: options.from,
        to: options.to,
        ...(transform ? { transform } : {}),
        keysOnly: options.keysOnly === true,
        ...(options.sample !== undefined ? { sample: options.sample } : {}),
        ...(options.segments !== undefined ? { segments: options.segments } : {}),
        ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.capacity !== undefined ? { unitsPerSecond: options.capacity } : {}),
        show: options.show ?? 10,
        signal: session.signal,
        onProgress: (c) => (counts = c),
      });
    } finally {
      stopStatus();
    }
    const exitCode = !summary.complete ? EXIT.interrupted : summary.equal ? EXIT.ok : EXIT.notAllWritten;
    const extra = {
      transform: options.transform ?? null,
      scanCalls: session.meter.readCalls,
      calls: session.meter.readCalls + summary.batchGetCalls,
      unitsConsumed: session.meter.readUnits + summary.batchGetUnits,
      elapsedMs: Date.now() - started,
      exitCode,
    };
    process.stdout.write(`${(options.json ? diffLines(summary, extra) : [describeDiff(summary)]).join('\n')}\n`);
    return exitCode;
  });
}
