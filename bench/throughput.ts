/**
 * The throughput-control bench (issue 10): `dynamoBatchWrite`, `dynamoBatchGet` and `parallelScan` against tables
 * simulated by `withSimulatedCapacity` on DynamoDB Local, each row on a fresh table, written at `concurrency: 8`
 * (fixed) and with the controller (`concurrency: 'adaptive'`, `maxConcurrency: 8`). Every row reports:
 *   - capacity used: the units the table served after the first 2 s, over the units it could serve then (its refill
 *     at the capacity of the moment, plus what its bucket still held at 2 s: a burst spent later is not counted as
 *     capacity used), from the simulator's own record of every charge;
 *   - the share of request attempts that came back unprocessed (final `onProgress`);
 *   - whether every item is in the table (a key-only scan), or every key was read.
 * Rows: 2,000 write units/s with the bucket starting empty or full, holding 0.1 s, 1 s or 300 s of capacity, items of
 * one unit and of 0.5-3 KB; capacity changed 2,000 -> 500 -> 4,000 mid-run (seconds until each new capacity is met
 * at 90 %); one hot partition (30 % of the keys limited to 1,000 units/s on a table of 4,000); 30 % of requests
 * returned unprocessed at random with no capacity limit, on the in-process 5 ms responder (items/s against the same
 * run without faults); reads: `dynamoBatchGet` under 2,000 read units/s and `parallelScan` under 500.
 * `npx tsx --tsconfig tsconfig.bench.json bench/throughput.ts` runs it alone (after `npm run build`).
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { performance } from 'node:perf_hooks';
import { from, lastValueFrom, reduce } from 'rxjs';
import { dynamoBatchGet, dynamoBatchWrite, itemSize, dynamoParallelScan, type Progress } from 'rxjs-dynamodb';
import { withFaults, withSimulatedCapacity } from 'rxjs-dynamodb/testing';
import { seededRandom } from '../src/internal/random.js';
import { localClient, startDynamoLocal } from '../test/helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../test/helpers/tables.js';
import { Responder, responderClient } from './engine.js';
import { checkTable, envNumber, formatTable, makeItem, saveToLatest } from './support.js';

type Mode = 8 | 'adaptive';
type Item = { pk: string; [name: string]: unknown };

/** Every charge the simulator made: when, how many units, and for a hot key or not. */
type Charge = { at: number; units: number; hot: boolean };

export interface Row {
  scenario: string;
  mode: Mode;
  seconds: number;
  /** Units served after 2 s over what the table could serve then. */
  capacityUsed?: number;
  unprocessedShare: number;
  allPresent: boolean;
  /** Scenario-specific figures (seconds to 90 % after each change, hot/cold rates, items/s). */
  extra?: Record<string, number | string>;
}

/** `count` items of uniform sizes in [512, 3072] bytes from a seeded generator, each exact by `itemSize`. */
export function makeSizedItems(count: number, seed = 4): Item[] {
  const random = seededRandom(seed);
  const pads = new Map<number, string>();
  return Array.from({ length: count }, (_, n) => {
    const bytes = 512 + Math.floor(random() * 2561);
    const pk = `item#${n}`;
    const length = bytes - ('pk'.length + pk.length + 'pad'.length);
    if (!pads.has(length)) pads.set(length, 'x'.repeat(length));
    const item = { pk, pad: pads.get(length)! };
    if (itemSize(item) !== bytes) throw new Error(`item#${n} is not ${bytes} B`);
    return item;
  });
}

/**
 * Units served after `from` ms over what the table could serve then: its refill at each moment's capacity, plus what
 * its bucket held at `from` (the bucket replayed from the charges: `size(t)` units, refilling at `rate(t)`).
 */
export function capacityUsed(
  charges: Charge[],
  start: number,
  end: number,
  rate: (t: number) => number,
  burstSeconds: number,
  full: boolean,
): number {
  let tokens = full ? rate(start) * burstSeconds : 0;
  let t = 0;
  let heldAtFrom: number | undefined;
  let served = 0;
  let refill = 0;
  const advance = (to: number) => {
    for (; t < to; t = Math.min(to, t + 10)) {
      const step = Math.min(to, t + 10) - t;
      const r = rate(t);
      tokens = Math.min(r * burstSeconds, tokens + (step / 1000) * r);
      if (t >= start) refill += (step / 1000) * r;
    }
  };
  for (const c of charges) {
    advance(c.at);
    if (heldAtFrom === undefined && c.at >= start) heldAtFrom = Math.max(0, tokens);
    tokens -= c.units;
    if (c.at >= start) served += c.units;
  }
  advance(end);
  return served / (refill + (heldAtFrom ?? 0));
}

/** Writes `items` through the simulator; the row with capacity used, unprocessed share, the table checked. */
async function writeRow(
  endpoint: string,
  scenario: string,
  mode: Mode,
  items: Item[],
  sim: {
    rate: number;
    burstSeconds: number;
    startEmpty: boolean;
    hot?: { share: number; unitsPerSecond: number };
    changes?: Array<[number, number]>;
  },
): Promise<Row> {
  const raw: DynamoDBClient = localClient(endpoint, { maxAttempts: 1 });
  const table = await createTable(raw, uniqueTable('BenchControl'));
  const charges: Charge[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const client = withSimulatedCapacity(raw, {
    writeUnitsPerSecond: sim.rate,
    burstSeconds: sim.burstSeconds,
    startEmpty: sim.startEmpty,
    hotPartition: sim.hot,
    now,
    onConsume: (e) => charges.push({ at: e.at, units: e.units, hot: e.hot }),
  });
  const timers = (sim.changes ?? []).map(([at, rate]) => setTimeout(() => client.setSimulatedCapacity({ writeUnitsPerSecond: rate }), at));
  let last: Progress | undefined;
  const options = {
    maxAttempts: 100,
    onProgress: (p: Progress) => (last = p),
    ...(mode === 'adaptive' ? { concurrency: 'adaptive' as const, maxConcurrency: 8 } : { concurrency: mode }),
  };
  // a run that stops moving says where it stands, every 30 s
  let seen: Progress | undefined;
  const watchdog = setInterval(() => {
    if (last === seen) process.stderr.write(`  (no progress for 30 s in ${scenario}: ${JSON.stringify(last)})\n`);
    seen = last;
  }, 30_000);
  await lastValueFrom(
    from(items).pipe(
      dynamoBatchWrite(client, table, options),
      reduce((n) => n + 1, 0),
    ),
  ).finally(() => clearInterval(watchdog));
  const end = now();
  timers.forEach(clearTimeout);
  const check = await checkTable(raw, table, items.length);
  await raw.send(new DeleteTableCommand({ TableName: table }));
  raw.destroy();
  const rateAt = (t: number) => (sim.changes ?? []).reduce((r, [at, rate]) => (t >= at ? rate : r), sim.rate);
  const row: Row = {
    scenario,
    mode,
    seconds: end / 1000,
    capacityUsed: capacityUsed(charges, 2000, end, rateAt, sim.burstSeconds, !sim.startEmpty),
    unprocessedShare: last!.unprocessedAttempts / last!.requestAttempts,
    allPresent: check.ok,
  };
  if (sim.changes) row.extra = changeFigures(charges, sim.rate, sim.changes, end);
  if (sim.hot) row.extra = hotFigures(charges, end);
  return row;
}

/** Seconds after each capacity change until a 1 s window served 90 % of the new capacity, and the capacity used after. */
function changeFigures(charges: Charge[], first: number, changes: Array<[number, number]>, end: number): Record<string, number | string> {
  const extra: Record<string, number | string> = {};
  const bounds = [...changes.map(([at]) => at), end];
  changes.forEach(([at, rate], i) => {
    let reached: number | undefined;
    for (let t = at; t + 1000 <= bounds[i + 1]! && reached === undefined; t += 100) {
      const served = charges.filter((c) => c.at >= t && c.at < t + 1000).reduce((s, c) => s + c.units, 0);
      if (served >= 0.9 * rate) reached = (t + 1000 - at) / 1000;
    }
    extra[`to ${rate}/s`] = reached === undefined ? 'never' : `${reached.toFixed(1)} s`;
  });
  void first;
  return extra;
}

/** Units per second served to the hot partition and to the rest, after 2 s. */
function hotFigures(charges: Charge[], end: number): Record<string, number> {
  const after = charges.filter((c) => c.at >= 2000);
  const seconds = (end - 2000) / 1000;
  const hot = after.filter((c) => c.hot).reduce((s, c) => s + c.units, 0) / seconds;
  const rest = after.filter((c) => !c.hot).reduce((s, c) => s + c.units, 0) / seconds;
  return { 'hot units/s': Math.round(hot), 'rest units/s': Math.round(rest) };
}

/** 30 % of requests unprocessed at random, no capacity: items/s against the same writer without faults. */
async function randomRow(mode: Mode, count: number): Promise<Row> {
  const items = Array.from({ length: count }, (_, i) => makeItem(i));
  const time = async (faulty: boolean) => {
    const doc = responderClient(new Responder(5));
    const client = faulty ? withFaults(doc, { unprocessedRate: 0.3, seed: 3 }) : doc;
    let last: Progress | undefined;
    const options = {
      maxAttempts: 100,
      onProgress: (p: Progress) => (last = p),
      ...(mode === 'adaptive' ? { concurrency: 'adaptive' as const, maxConcurrency: 8 } : { concurrency: mode }),
    };
    const t0 = performance.now();
    const written = await lastValueFrom(
      from(items).pipe(
        dynamoBatchWrite(client, 'T', options),
        reduce((n, r) => n + r.requests.length, 0),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    doc.destroy();
    return { itemsPerSec: written / seconds, seconds, share: last!.unprocessedAttempts / last!.requestAttempts, all: written === count };
  };
  await time(false); // warm-up
  const clean = await time(false);
  const faulty = await time(true);
  return {
    scenario: '30 % unprocessed at random, no limit',
    mode,
    seconds: faulty.seconds,
    unprocessedShare: faulty.share,
    allPresent: faulty.all,
    extra: {
      'items/s': Math.round(faulty.itemsPerSec),
      'fault-free items/s': Math.round(clean.itemsPerSec),
      'of fault-free': (faulty.itemsPerSec / clean.itemsPerSec).toFixed(2),
    },
  };
}

/** Reads under 2,000 read units/s: `dynamoBatchGet` of every key, or a 4-segment `parallelScan`. */
async function readRow(endpoint: string, which: 'get' | 'scan', mode: Mode, startEmpty: boolean, count: number): Promise<Row> {
  const raw = localClient(endpoint, { maxAttempts: 1 });
  const table = await createTable(raw, uniqueTable('BenchRead'));
  const items = which === 'get' ? Array.from({ length: count }, (_, i) => makeItem(i)) : makeSizedItems(count, 5);
  await lastValueFrom(
    from(items).pipe(
      dynamoBatchWrite(raw, table, { concurrency: 8 }),
      reduce((n) => n + 1, 0),
    ),
  );
  const charges: Charge[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  // a scan page reads up to 1 MB (128 units): 20,000 items of 0.5-3 KB are some 4,500 units, 9 s at 500 units/s
  const rate = which === 'get' ? 2000 : 500;
  const client = withSimulatedCapacity(raw, {
    readUnitsPerSecond: rate,
    burstSeconds: 1,
    startEmpty,
    now,
    onConsume: (e) => charges.push(e),
  });
  let last: Progress | undefined;
  let got = 0;
  if (which === 'get') {
    const options = {
      maxAttempts: 100,
      onProgress: (p: Progress) => (last = p),
      ...(mode === 'adaptive' ? { concurrency: 'adaptive' as const, maxConcurrency: 8 } : { concurrency: mode }),
    };
    got = await lastValueFrom(
      from(items.map(({ pk }) => ({ pk }))).pipe(
        dynamoBatchGet(client, table, options),
        reduce((n) => n + 1, 0),
      ),
    );
  } else {
    const throughput = mode === 'adaptive' ? ('adaptive' as const) : ('unlimited' as const);
    got = await lastValueFrom(
      dynamoParallelScan(client, { TableName: table }, { totalSegments: 4, maxAttempts: 100, throughput }).pipe(reduce((n) => n + 1, 0)),
    );
  }
  const end = now();
  const stats = client.simulatedCapacityStats();
  await raw.send(new DeleteTableCommand({ TableName: table }));
  raw.destroy();
  return {
    scenario:
      which === 'get'
        ? `dynamoBatchGet, 2,000 RCU/s, bucket ${startEmpty ? 'empty' : 'full'}`
        : `parallelScan x4, 500 RCU/s, bucket ${startEmpty ? 'empty' : 'full'}`,
    mode,
    seconds: end / 1000,
    capacityUsed: capacityUsed(charges, 2000, end, () => rate, 1, !startEmpty),
    unprocessedShare: last
      ? last.unprocessedAttempts / last.requestAttempts
      : stats.callsThrottled / Math.max(1, stats.callsThrottled + charges.length),
    allPresent: got === count,
  };
}

export interface ThroughputControlBench {
  rows: Row[];
}

export async function runThroughputBench(options: { endpoint: string; scale?: number; modes?: Mode[] }): Promise<ThroughputControlBench> {
  const { endpoint, scale = 1, modes = ['adaptive', 8] } = options;
  const n = (count: number) => Math.max(100, Math.round(count * scale));
  const rows: Row[] = [];
  const only = process.env.BENCH_ONLY;
  /** Runs a row unless BENCH_ONLY names others (parts of their scenario's text, separated by `|`). */
  const row = async (scenario: string, run: () => Promise<Row>) => {
    if (only && !only.split('|').some((part) => scenario.includes(part))) return;
    add(await run());
  };
  const add = (row: Row) => {
    rows.push(row);
    process.stderr.write(
      `  ${row.scenario} [${row.mode}]: ${row.seconds.toFixed(1)} s, used ${row.capacityUsed?.toFixed(3) ?? '-'}, unprocessed ${row.unprocessedShare.toFixed(3)}, ${row.allPresent ? 'all present' : 'MISSING'} ${row.extra ? JSON.stringify(row.extra) : ''}\n`,
    );
  };
  const ones = Array.from({ length: n(20_000) }, (_, i) => makeItem(i));
  const mixed = makeSizedItems(n(20_000));
  for (const mode of modes) {
    for (const [items, label] of [
      [ones, '1-unit items'],
      [mixed, '0.5-3 KB items'],
    ] as const)
      for (const [burstSeconds, startEmpty] of [
        [0.1, true],
        [1, true],
        [300, true],
        [0.1, false],
        [1, false],
      ] as const)
        await row(`${label}, bucket ${burstSeconds} s ${startEmpty ? 'empty' : 'full'}`, () =>
          writeRow(endpoint, `${label}, bucket ${burstSeconds} s ${startEmpty ? 'empty' : 'full'}`, mode, items, {
            rate: 2000,
            burstSeconds,
            startEmpty,
          }),
        );
    const changing = Array.from({ length: n(65_000) }, (_, i) => makeItem(i));
    await row('capacity 2,000 -> 500 (10 s) -> 4,000 (20 s)', () =>
      writeRow(endpoint, 'capacity 2,000 -> 500 (10 s) -> 4,000 (20 s)', mode, changing, {
        rate: 2000,
        burstSeconds: 1,
        startEmpty: true,
        changes: [
          [10_000, 500],
          [20_000, 4000],
        ],
      }),
    );
    const hotItems = Array.from({ length: n(30_000) }, (_, i) => makeItem(i));
    await row('hot partition: 30 % of keys at 1,000/s, table 4,000/s', () =>
      writeRow(endpoint, 'hot partition: 30 % of keys at 1,000/s, table 4,000/s', mode, hotItems, {
        rate: 4000,
        burstSeconds: 1,
        startEmpty: true,
        hot: { share: 0.3, unitsPerSecond: 1000 },
      }),
    );
    await row('30 % unprocessed at random, no limit', () => randomRow(mode, n(20_000)));
    for (const startEmpty of [true, false])
      await row(`dynamoBatchGet, 2,000 RCU/s, bucket ${startEmpty ? 'empty' : 'full'}`, () =>
        readRow(endpoint, 'get', mode, startEmpty, n(40_000)),
      );
    for (const startEmpty of [true, false])
      await row(`parallelScan x4, 500 RCU/s, bucket ${startEmpty ? 'empty' : 'full'}`, () =>
        readRow(endpoint, 'scan', mode, startEmpty, n(20_000)),
      );
  }
  return { rows };
}

export function formatThroughputBench(bench: ThroughputControlBench): string {
  const table = [['throughput control', 'concurrency', 's', 'capacity used', 'unprocessed', 'all present', 'more']];
  for (const r of bench.rows)
    table.push([
      r.scenario,
      String(r.mode),
      r.seconds.toFixed(1),
      r.capacityUsed === undefined ? '-' : r.capacityUsed.toFixed(3),
      r.unprocessedShare.toFixed(3),
      r.allPresent ? 'yes' : 'NO',
      r.extra
        ? Object.entries(r.extra)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : '',
    ]);
  return formatTable(table);
}

if (process.argv[1]?.endsWith('bench/throughput.ts')) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const local = await startDynamoLocal();
  try {
    const modes = process.env.BENCH_MODES
      ? (process.env.BENCH_MODES.split(',').map((m) => (m === 'adaptive' ? m : 8)) as Mode[])
      : undefined;
    const bench = await runThroughputBench({ endpoint: local.endpoint, scale: envNumber('BENCH_SCALE', 1), modes });
    process.stdout.write(`${formatThroughputBench(bench)}\n`);
    await saveToLatest('throughputControl', bench);
  } finally {
    await local.stop();
  }
}
