/**
 * The throughput-control bench of issue 4, in two parts:
 *
 * 1. DynamoDB Local behind `withSimulatedCapacity` at 2,000 write units per second (burst 1 s): 60,000 items of
 *    512-3,072 bytes (uniform sizes from a seeded generator, measured with `itemSize`), written by
 *    `dynamoBatchWrite` with `concurrency: 'adaptive'` (default maxConcurrency), fixed 4 and fixed 16, one after the
 *    other in the same run, each on a fresh table and a fresh client, all with `maxAttempts: 30` (so that fixed
 *    concurrency does not give up) and the default backoff. For each: wall time; achieved write units per second
 *    (`capacityStats(sim).writeUnitsConsumed` over the wall time) and its fraction of 2,000 (target >= 0.95; the 1 s
 *    burst lets a run exceed 1.0 slightly, reported as measured); unprocessed request-attempts as a fraction of all
 *    request-attempts, from the final `onProgress` report (target <= 0.05); calls; and a key-only scan that every
 *    item is in the table afterwards.
 * 2. `capacity: { unitsPerSecond: 500 }` on an unthrottled in-process fake (bench/fakeClient.ts: every call answered
 *    with `{ UnprocessedItems: {} }` after 2 ms, no ConsumedCapacity, so the budget keeps its own estimate): 25,000
 *    items of 1 write unit (50 s of budget), unsubscribed at 32 s; the units of the calls made between t = 2 s and
 *    t = 32 s (send wrapped and timed) over 30 s, target within 5 % of 500.
 *
 * `npx tsx bench/throughput.ts` runs it alone (with its own DynamoDB Local and a short warm-up) and stores the results
 * as `throughputControl` in bench/out/latest.json (read, modify, write); `npm run bench` runs it after the scenarios
 * of bench/index.ts on that bench's DynamoDB Local and writes them into the same file.
 * Environment: BENCH_SCALE (multiplies the 60,000 items and the warm-up, not the 30 s window; default 1).
 * Exits non-zero only if the bench itself fails; missed targets are printed as MISS.
 */
import { BatchWriteItemCommand, DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, takeUntil, tap, timer } from 'rxjs';
import { DEFAULT_BACKOFF, type DynamoDBSender, dynamoBatchWrite, itemSize, type Progress } from '../src/index.js';
import { seededRandom } from '../src/internal/random.js';
import { capacityStats, withSimulatedCapacity } from '../src/testing/index.js';
import { localClient, startDynamoLocal } from '../test/helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../test/helpers/tables.js';
import { fakeClient } from './fakeClient.js';
import { checkTable, envNumber, formatTable, makeItem, type TableCheck, saveToLatest } from './support.js';

const CAPACITY = { writeUnitsPerSecond: 2000, burstSeconds: 1 };
const ITEMS = 60_000;
const WARMUP_ITEMS = 5_000;
const MIN_BYTES = 512;
const MAX_BYTES = 3072;
const SEED = 4;
const MAX_ATTEMPTS = 30;
const TARGET_FRACTION = 0.95;
const TARGET_UNPROCESSED = 0.05;

const BUDGET_UNITS_PER_SEC = 500;
const FAKE_LATENCY_MS = 2;
const WINDOW_START_MS = 2_000;
const WINDOW_MS = 30_000;
const BUDGET_ITEMS = 25_000; // 50 s at 500 units/s: the stream is still writing when the window closes
const TARGET_BUDGET_ERROR = 0.05;

const WRITE_UNIT_BYTES = 1024;
const units = (bytes: number) => Math.ceil(bytes / WRITE_UNIT_BYTES);
const fmt = (n: number) => n.toLocaleString('en-US');

type Concurrency = number | 'adaptive';
const SIDES: Concurrency[] = ['adaptive', 4, 16];

/** `{ pk: 'item#N', pad }`, padded so that `itemSize` is exactly `bytes`. */
function sizedItem(n: number, bytes: number): { pk: string; pad: string } {
  const pk = `item#${n}`;
  const padLength = bytes - ('pk'.length + pk.length + 'pad'.length);
  return { pk, pad: pads(padLength) };
}

/** One shared string per pad length, so that 60,000 items hold at most 2,561 distinct pads. */
const padCache = new Map<number, string>();
const pads = (length: number) => {
  let pad = padCache.get(length);
  if (pad === undefined) padCache.set(length, (pad = 'x'.repeat(length)));
  return pad;
};

/** `count` items of uniform sizes in [512, 3072] bytes from a seeded generator, each size checked with `itemSize`. */
export function makeSizedItems(count: number, seed = SEED): Array<{ pk: string; pad: string }> {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, n) => {
    const bytes = MIN_BYTES + Math.floor(random() * (MAX_BYTES - MIN_BYTES + 1));
    const item = sizedItem(n, bytes);
    const measured = itemSize(item);
    if (measured !== bytes) throw new Error(`item#${n}: itemSize ${measured} B, meant ${bytes} B`);
    return item;
  });
}

/** One side of part 1. */
export interface CapacitySide {
  concurrency: Concurrency;
  items: number;
  ms: number;
  /** Write units the simulated capacity charged, over the run. */
  writeUnits: number;
  writeUnitsPerSec: number;
  capacityFraction: number;
  /** From the final `onProgress` report. */
  calls: number;
  requestAttempts: number;
  unprocessedAttempts: number;
  unprocessedFraction: number;
  /** The concurrency limit at the end and the highest seen in a report. */
  finalConcurrency: number;
  maxConcurrencySeen: number;
  writeRequestsThrottled: number;
  callsThrottled: number;
  /** Items acknowledged by the operator's results. */
  written: number;
  check: TableCheck;
  error?: string;
  passFraction: boolean;
  passUnprocessed: boolean;
}

/** Part 2. */
export interface BudgetRun {
  unitsPerSecond: number;
  fakeLatencyMs: number;
  items: number;
  windowStartMs: number;
  windowMs: number;
  /** Calls (and their units) whose `send` started inside the window. */
  windowCalls: number;
  windowUnits: number;
  ratePerSec: number;
  ratio: number;
  /** Units of every call from subscribe to unsubscribe (the first second's burst included). */
  totalUnits: number;
  totalMs: number;
  error?: string;
  pass: boolean;
}

export interface ThroughputControlBench {
  date: string;
  node: string;
  scale: number;
  capacity: typeof CAPACITY;
  items: number;
  itemBytes: { min: number; max: number; mean: number };
  /** Write units the items cost at least (one per started KB each). */
  itemUnits: number;
  maxAttempts: number;
  backoff: typeof DEFAULT_BACKOFF;
  targets: { capacityFraction: number; unprocessedFraction: number; budgetError: number };
  sides: CapacitySide[];
  budget: BudgetRun;
}

const describeError = (error: unknown) => `${(error as Error)?.name}: ${(error as Error)?.message}`;
const sideName = (c: Concurrency) => (c === 'adaptive' ? 'adaptive' : `fixed ${c}`);

/** One side: fresh client and table, the write, the simulated capacity's figures, the table checked and dropped. */
async function capacityRun(endpoint: string, concurrency: Concurrency, items: ReturnType<typeof makeSizedItems>): Promise<CapacitySide> {
  const raw: DynamoDBClient = localClient(endpoint);
  try {
    const sim = withSimulatedCapacity(raw, CAPACITY);
    const table = await createTable(raw, uniqueTable('BenchThroughput'));
    let last: Progress | undefined;
    let maxConcurrencySeen = 0;
    let written = 0;
    let error: string | undefined;
    const t0 = performance.now();
    try {
      await lastValueFrom(
        from(items).pipe(
          dynamoBatchWrite(sim, table, {
            concurrency,
            maxAttempts: MAX_ATTEMPTS,
            onProgress: (p) => {
              last = p;
              maxConcurrencySeen = Math.max(maxConcurrencySeen, p.concurrency);
            },
          }),
          tap((result) => (written += result.requests.length)),
        ),
        { defaultValue: undefined },
      );
    } catch (e) {
      error = describeError(e);
    }
    const ms = performance.now() - t0;
    const stats = capacityStats(sim);
    const check = await checkTable(raw, table, items.length);
    await raw.send(new DeleteTableCommand({ TableName: table }));
    const writeUnitsPerSec = (stats.writeUnitsConsumed * 1000) / ms;
    const requestAttempts = last?.requestAttempts ?? 0;
    const unprocessedAttempts = last?.unprocessedAttempts ?? 0;
    const unprocessedFraction = requestAttempts > 0 ? unprocessedAttempts / requestAttempts : NaN;
    const capacityFraction = writeUnitsPerSec / CAPACITY.writeUnitsPerSecond;
    const good = error === undefined && check.ok && last?.complete === true;
    return {
      concurrency,
      items: items.length,
      ms,
      writeUnits: stats.writeUnitsConsumed,
      writeUnitsPerSec,
      capacityFraction,
      calls: last?.calls ?? 0,
      requestAttempts,
      unprocessedAttempts,
      unprocessedFraction,
      finalConcurrency: last?.concurrency ?? 0,
      maxConcurrencySeen,
      writeRequestsThrottled: stats.writeRequestsThrottled,
      callsThrottled: stats.callsThrottled,
      written,
      check,
      ...(error === undefined ? {} : { error }),
      passFraction: good && capacityFraction >= TARGET_FRACTION,
      passUnprocessed: good && unprocessedFraction <= TARGET_UNPROCESSED,
    };
  } finally {
    raw.destroy();
  }
}

/** Part 2: the budget against the unthrottled fake, unsubscribed at the end of the window. */
async function budgetRun(): Promise<BudgetRun> {
  const fake = fakeClient(FAKE_LATENCY_MS);
  const items = Array.from({ length: BUDGET_ITEMS }, (_, i) => makeItem(i));
  const itemUnits = units(itemSize(items.at(-1)!));
  if (itemUnits !== 1) throw new Error(`budget items should cost 1 write unit each, got ${itemUnits}`);
  let t0 = 0;
  let windowCalls = 0;
  let windowUnits = 0;
  let totalUnits = 0;
  const windowEnd = WINDOW_START_MS + WINDOW_MS;
  // Timed at `send`: the budget lets a call go, then the operator sends it at once.
  const client: DynamoDBSender = {
    send: ((command: unknown, options?: { abortSignal?: AbortSignal }) => {
      if (command instanceof BatchWriteItemCommand) {
        const t = performance.now() - t0;
        let callUnits = 0;
        for (const list of Object.values(command.input.RequestItems ?? {}))
          for (const r of list) callUnits += r.PutRequest?.Item ? units(itemSize(r.PutRequest.Item, { marshalled: true })) : 1;
        totalUnits += callUnits;
        if (t >= WINDOW_START_MS && t < windowEnd) {
          windowCalls += 1;
          windowUnits += callUnits;
        }
      }
      return fake.send(command, options);
    }) as DynamoDBSender['send'],
  };
  let error: string | undefined;
  t0 = performance.now();
  try {
    await lastValueFrom(
      from(items).pipe(
        dynamoBatchWrite(client, uniqueTable('BenchBudget'), { capacity: { unitsPerSecond: BUDGET_UNITS_PER_SEC } }),
        takeUntil(timer(windowEnd)),
      ),
      { defaultValue: undefined },
    );
  } catch (e) {
    error = describeError(e);
  }
  const totalMs = performance.now() - t0;
  const ratePerSec = (windowUnits * 1000) / WINDOW_MS;
  const ratio = ratePerSec / BUDGET_UNITS_PER_SEC;
  return {
    unitsPerSecond: BUDGET_UNITS_PER_SEC,
    fakeLatencyMs: FAKE_LATENCY_MS,
    items: BUDGET_ITEMS,
    windowStartMs: WINDOW_START_MS,
    windowMs: WINDOW_MS,
    windowCalls,
    windowUnits,
    ratePerSec,
    ratio,
    totalUnits,
    totalMs,
    ...(error === undefined ? {} : { error }),
    pass: error === undefined && totalMs >= windowEnd && Math.abs(ratio - 1) <= TARGET_BUDGET_ERROR,
  };
}

/** Unthrottled writes to a throwaway table, so that a freshly started Local's JIT is warm before the timed runs. */
async function warmUp(endpoint: string, count: number): Promise<void> {
  const raw = localClient(endpoint);
  try {
    const table = await createTable(raw, uniqueTable('BenchThroughputWarm'));
    const t0 = performance.now();
    await lastValueFrom(from(makeSizedItems(count, SEED + 1)).pipe(dynamoBatchWrite(raw, table)), { defaultValue: undefined });
    process.stderr.write(`  throughput: warm-up, ${fmt(count)} items unthrottled in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    await raw.send(new DeleteTableCommand({ TableName: table }));
  } finally {
    raw.destroy();
  }
}

/**
 * Both parts. With `endpoint`, part 1 uses that DynamoDB Local (bench/index.ts passes its own); without, it starts
 * one, warms it up, and stops it at the end.
 */
export async function runThroughputBench(options: { endpoint?: string; scale?: number } = {}): Promise<ThroughputControlBench> {
  const scale = options.scale ?? envNumber('BENCH_SCALE', 1);
  const count = Math.max(1, Math.round(ITEMS * scale));
  const items = makeSizedItems(count);
  const sizes = items.map((item) => itemSize(item));
  const itemUnits = sizes.reduce((sum, b) => sum + units(b), 0);
  process.stderr.write(
    `  throughput: ${fmt(count)} items of ${Math.min(...sizes)}-${Math.max(...sizes)} B, ${fmt(itemUnits)} write units ` +
      `(${(itemUnits / CAPACITY.writeUnitsPerSecond).toFixed(1)} s at ${fmt(CAPACITY.writeUnitsPerSecond)}/s)\n`,
  );

  const own = options.endpoint === undefined ? await startDynamoLocal() : undefined;
  // Our own Local is stopped on Ctrl-C too (bench/index.ts does the same for its own).
  const onSignal = (signal: NodeJS.Signals) => {
    void own?.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  if (own) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const sides: CapacitySide[] = [];
  try {
    const endpoint = options.endpoint ?? own!.endpoint;
    if (own) await warmUp(endpoint, Math.max(1, Math.round(WARMUP_ITEMS * scale)));
    for (const concurrency of SIDES) {
      process.stderr.write(`  throughput: ${sideName(concurrency)} ...\n`);
      const side = await capacityRun(endpoint, concurrency, items);
      sides.push(side);
      process.stderr.write(
        `  throughput: ${sideName(concurrency)}: ${(side.ms / 1000).toFixed(2)} s, ${side.writeUnitsPerSec.toFixed(1)} WCU/s ` +
          `(${side.capacityFraction.toFixed(3)}), unprocessed ${fmt(side.unprocessedAttempts)}/${fmt(side.requestAttempts)} ` +
          `(${side.unprocessedFraction.toFixed(3)}), ${fmt(side.calls)} calls, check ${side.check.present}/${side.check.expected}` +
          `${side.error ? `, ERROR ${side.error}` : ''}\n`,
      );
    }
  } finally {
    await own?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  process.stderr.write(
    `  throughput: capacity ${BUDGET_UNITS_PER_SEC} units/s on the ${FAKE_LATENCY_MS} ms fake, ${WINDOW_START_MS + WINDOW_MS} ms ...\n`,
  );
  const budget = await budgetRun();
  process.stderr.write(
    `  throughput: budget: ${fmt(budget.windowUnits)} units in the window = ${budget.ratePerSec.toFixed(1)} units/s (${budget.ratio.toFixed(3)})\n`,
  );

  return {
    date: new Date().toISOString(),
    node: process.version,
    scale,
    capacity: CAPACITY,
    items: count,
    itemBytes: {
      min: Math.min(...sizes),
      max: Math.max(...sizes),
      mean: sizes.reduce((s, b) => s + b, 0) / sizes.length,
    },
    itemUnits,
    maxAttempts: MAX_ATTEMPTS,
    backoff: DEFAULT_BACKOFF,
    targets: { capacityFraction: TARGET_FRACTION, unprocessedFraction: TARGET_UNPROCESSED, budgetError: TARGET_BUDGET_ERROR },
    sides,
    budget,
  };
}

/** The printed form: a header, the three sides side by side, then the budget's line. */
export function formatThroughputBench(bench: ThroughputControlBench): string {
  const backoff = bench.backoff;
  const header = [
    `throughput-control bench (issue 4): dynamoBatchWrite on DynamoDB Local behind withSimulatedCapacity ` +
      `(${fmt(bench.capacity.writeUnitsPerSecond)} write units/s, burst ${bench.capacity.burstSeconds} s); node ${bench.node}, BENCH_SCALE=${bench.scale}`,
    `  ${fmt(bench.items)} items of ${bench.itemBytes.min}-${bench.itemBytes.max} B (uniform, seeded; mean ${bench.itemBytes.mean.toFixed(0)} B), ` +
      `${fmt(bench.itemUnits)} write units; fresh table per side; every side maxAttempts ${bench.maxAttempts} ` +
      `(so that fixed concurrency does not give up) and the default backoff (base ${backoff.baseDelayMs} ms, max ${backoff.maxDelayMs} ms, ${backoff.jitter} jitter)`,
  ];
  const rows: string[][] = [
    [
      'concurrency',
      'wall s',
      'WCU/s',
      'of cap',
      'unprocessed/attempts',
      'fraction',
      'calls',
      'conc. end/max',
      'check',
      `of cap >= ${bench.targets.capacityFraction}`,
      `unproc. <= ${bench.targets.unprocessedFraction}`,
    ],
  ];
  for (const s of bench.sides) {
    const check = s.error
      ? `ERROR ${s.error} (${s.check.present}/${s.check.expected} present)`
      : s.check.ok
        ? `all ${fmt(s.check.present)} present`
        : `MISSING ${fmt(s.check.expected - s.check.present)}${s.check.extra ? ` +${s.check.extra} extra` : ''}`;
    rows.push([
      s.concurrency === 'adaptive' ? 'adaptive (max 16)' : `fixed ${s.concurrency}`,
      (s.ms / 1000).toFixed(2),
      s.writeUnitsPerSec.toFixed(1),
      s.capacityFraction.toFixed(3),
      `${s.unprocessedAttempts}/${s.requestAttempts}`,
      s.unprocessedFraction.toFixed(3),
      `${s.calls}`,
      `${s.finalConcurrency}/${s.maxConcurrencySeen}`,
      check,
      s.passFraction ? 'PASS' : 'MISS',
      s.passUnprocessed ? 'PASS' : 'MISS',
    ]);
  }
  const b = bench.budget;
  const budgetRows: string[][] = [
    ['budget', 'fake', 'window', 'calls', 'units', 'units/s', 'ratio', `target |ratio - 1| <= ${bench.targets.budgetError}`],
    [
      `capacity: { unitsPerSecond: ${b.unitsPerSecond} }`,
      `unthrottled, ${b.fakeLatencyMs} ms`,
      `${b.windowStartMs / 1000}-${(b.windowStartMs + b.windowMs) / 1000} s`,
      `${b.windowCalls}`,
      `${b.windowUnits}`,
      b.ratePerSec.toFixed(1),
      b.ratio.toFixed(3),
      `${b.pass ? 'PASS' : 'MISS'}${b.error ? ` ERROR ${b.error}` : ''}`,
    ],
  ];
  const notes = [
    'WCU/s = capacityStats(sim).writeUnitsConsumed / wall s (the 1 s burst lets it pass 1.0 slightly: as measured);',
    'unprocessed/attempts = unprocessedAttempts / requestAttempts of the final onProgress report; calls from the same report;',
    'conc. end/max = the concurrency limit in the last report / the highest reported; check = key-only scan of the table afterwards.',
    `budget: ${fmt(b.items)} items of 1 write unit (50 s of budget), unsubscribed at ${(b.windowStartMs + b.windowMs) / 1000} s; ` +
      `units of the calls sent in the window / ${b.windowMs / 1000} s (the first second's burst is outside it).`,
  ];
  return [...header, formatTable(rows), formatTable(budgetRows), ...notes].join('\n');
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const bench = await runThroughputBench();
  process.stdout.write(`${formatThroughputBench(bench)}\n`);
  const path = await saveToLatest('throughputControl', bench);
  process.stderr.write(`throughput-control results written to ${path} (key "throughputControl")
`);
}

// Run alone (`npx tsx bench/throughput.ts`), not when bench/index.ts imports it.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error('throughput-control bench failed:', error);
    process.exitCode = 1;
  });
}
