/**
 * `npm run bench`: items per second of `dynamoBatchWrite` against a bare promise-pool baseline (bench/baseline.ts),
 * both at concurrency 4 (the operator's default), in three scenarios:
 *   (a) DynamoDB Local;
 *   (b) an in-process fake whose `send` waits 5 ms;
 *   (c) DynamoDB Local behind `withSimulatedCapacity` at 2,000 write units per second (burst 1 s).
 * Operator and baseline runs alternate (round 1: operator first; round 2: baseline first; …), each on a fresh table
 * and a fresh client. Prints an aligned table and writes the same figures to bench/out/latest.json.
 *
 * A warm-up (operator and baseline, twice each, 10,000 items to throwaway tables) comes first. Items per second
 * counts items acknowledged as written over the run's time; a run that errors is reported with what it wrote.
 *
 * Environment: BENCH_SCALE (multiplies every item count, default 1), BENCH_ROUNDS (runs per side, default 2),
 * BENCH_ITEMS_A / BENCH_ITEMS_B / BENCH_ITEMS_C / BENCH_ITEMS_WARMUP (item counts before scaling:
 * 50,000 / 100,000 / 50,000 / 10,000).
 * Then the memory bench of issue 3 (bench/memory.ts: peak RSS of a scan -> dynamoBatchWrite copy, with and without the
 * backpressure link, each job in its own process), its table printed after this one and its results under `memory`.
 * Between (c) and the memory bench, on the same DynamoDB Local: the throughput-control bench of issue 4
 * (bench/throughput.ts: adaptive vs fixed 4 / 16 concurrency at simulated 2,000 WCU/s, and a 500 units/s budget on a
 * fake), its table printed last and its results under `throughputControl`.
 * Exits non-zero only if the bench itself fails; missed targets are printed as MISS.
 */
import { DeleteTableCommand, type DynamoDBClient, type WriteRequest as WireWriteRequest } from '@aws-sdk/client-dynamodb';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { count, from, lastValueFrom, tap } from 'rxjs';
import { BatchWriteError, type DynamoDBSender, dynamoBatchWrite, itemSize } from '../src/index.js';
import { capacityStats, withSimulatedCapacity } from '../src/testing/index.js';
import { localClient, startDynamoLocal } from '../test/helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../test/helpers/tables.js';
import { baselineWrite, type BatchWriteSender, prebuildBatches } from './baseline.js';
import { fakeClient } from './fakeClient.js';
import { formatMemoryBench, runMemoryBench } from './memory.js';
import { formatThroughputBench, runThroughputBench, type ThroughputControlBench } from './throughput.js';
import { checkTable, envNumber, formatTable, makeItems, procPeakRssMB, type TableCheck } from './support.js';

const CONCURRENCY = 4; // the operator's default, passed explicitly to both sides
const FAKE_LATENCY_MS = 5;
const CAPACITY = { writeUnitsPerSecond: 2000, burstSeconds: 1 };
const TARGET = 0.9;

const SCALE = envNumber('BENCH_SCALE', 1);
const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 2));
const scaled = (name: string, base: number) => Math.max(1, Math.round(envNumber(name, base) * SCALE));
const SIZES = {
  warmup: scaled('BENCH_ITEMS_WARMUP', 10_000), // per run; 2 runs per side: Local's JVM needs more than a few calls to warm
  a: scaled('BENCH_ITEMS_A', 50_000),
  b: scaled('BENCH_ITEMS_B', 100_000),
  c: scaled('BENCH_ITEMS_C', 50_000),
};

type Side = 'operator' | 'baseline';
type Items = ReturnType<typeof makeItems>;

/** One timed job. */
interface Run {
  side: Side;
  round: number;
  items: number;
  ms: number;
  itemsPerSec: number;
  /** Items acknowledged as written (by the operator's results, the baseline's responses). */
  written: number;
  /** BatchWriteItem calls made (for an operator run that errored: those of the batches that finished). */
  calls: number;
  error?: string;
  errorCode?: string;
  /** The table (or the fake's received requests) after the run. */
  check?: TableCheck;
  /** (c): write units the simulated capacity charged, and the achieved units per second as a fraction of capacity. */
  writeUnits?: number;
  writeUnitsPerSec?: number;
  capacityFraction?: number;
  writeRequestsThrottled?: number;
  callsThrottled?: number;
}

interface Timed {
  ms: number;
  written: number;
  calls: number;
  error?: string;
  /** `BatchWriteError.code`, or the error's name. */
  errorCode?: string;
}

const describeError = (error: unknown) => `${(error as Error)?.name}: ${(error as Error)?.message}`;

/**
 * The operator, timed from subscribe to completion; its results are counted as they come (so a run that errors still
 * reports what it wrote and the calls of its finished batches).
 */
async function timeOperator(client: DynamoDBSender, table: string, items: Items): Promise<Timed> {
  let written = 0;
  let calls = 0;
  let failure: unknown;
  const t0 = performance.now();
  try {
    await lastValueFrom(
      from(items).pipe(
        dynamoBatchWrite(client, table, { concurrency: CONCURRENCY }),
        tap((result) => {
          written += result.requests.length;
          calls += result.attempts;
        }),
        count(),
      ),
    );
  } catch (error) {
    failure = error;
  }
  const ms = performance.now() - t0;
  if (failure === undefined) return { ms, calls, written };
  // The operator's own account: every item not in `unprocessed` was written (in-flight calls it cancelled are listed).
  if (failure instanceof BatchWriteError) written = items.length - failure.unprocessed.length;
  return { ms, calls, written, error: describeError(failure), errorCode: (failure as { code?: string }).code ?? (failure as Error)?.name };
}

/** The baseline, timed around the whole pool; its batches were marshalled before. */
async function timeBaseline(client: BatchWriteSender, table: string, batches: WireWriteRequest[][]): Promise<Timed> {
  const t0 = performance.now();
  const outcome = await baselineWrite(client, table, batches, { concurrency: CONCURRENCY });
  const ms = performance.now() - t0;
  if (outcome.error === undefined) return { ms, written: outcome.written, calls: outcome.calls };
  return {
    ms,
    written: outcome.written,
    calls: outcome.calls,
    error: describeError(outcome.error),
    errorCode: (outcome.error as Error)?.name,
  };
}

/** Items per second counts the items acknowledged as written: all of them, unless the run errored. */
const toRun = (side: Side, round: number, items: number, timed: Timed): Run => ({
  side,
  round,
  items,
  itemsPerSec: (timed.written * 1000) / timed.ms,
  ...timed,
});

/** One run against DynamoDB Local, optionally behind simulated capacity: fresh client, fresh table, checked, dropped. */
async function localRun(
  endpoint: string,
  side: Side,
  round: number,
  items: Items,
  batches: WireWriteRequest[][],
  capacity?: typeof CAPACITY,
): Promise<Run> {
  const raw: DynamoDBClient = localClient(endpoint);
  try {
    const client = capacity ? withSimulatedCapacity(raw, capacity) : raw;
    const table = await createTable(raw, uniqueTable(capacity ? 'BenchCapacity' : 'BenchLocal'));
    const timed = side === 'operator' ? await timeOperator(client, table, items) : await timeBaseline(client, table, batches);
    const run = toRun(side, round, items.length, timed);
    if (capacity) {
      const stats = capacityStats(client);
      run.writeUnits = stats.writeUnitsConsumed;
      run.writeUnitsPerSec = (stats.writeUnitsConsumed * 1000) / timed.ms;
      run.capacityFraction = run.writeUnitsPerSec / capacity.writeUnitsPerSecond;
      run.writeRequestsThrottled = stats.writeRequestsThrottled;
      run.callsThrottled = stats.callsThrottled;
    }
    run.check = await checkTable(raw, table, items.length);
    await raw.send(new DeleteTableCommand({ TableName: table })); // keeps Local's heap flat from run to run
    return run;
  } finally {
    raw.destroy();
  }
}

/** One run against the 5 ms fake; the check is the number of put requests the fake received. */
async function fakeRun(side: Side, round: number, items: Items, batches: WireWriteRequest[][]): Promise<Run> {
  const fake = fakeClient(FAKE_LATENCY_MS);
  const table = uniqueTable('BenchFake');
  const timed = side === 'operator' ? await timeOperator(fake, table, items) : await timeBaseline(fake, table, batches);
  const run = toRun(side, round, items.length, timed);
  run.check = {
    expected: items.length,
    present: Math.min(fake.requests, items.length),
    extra: Math.max(0, fake.requests - items.length),
    ok: fake.requests === items.length,
  };
  return run;
}

/** Operator and baseline alternately, `ROUNDS` times each, the order swapped every round. */
async function alternate(label: string, once: (side: Side, round: number) => Promise<Run>): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order: Side[] = round % 2 === 1 ? ['operator', 'baseline'] : ['baseline', 'operator'];
    for (const side of order) {
      const run = await once(side, round);
      runs.push(run);
      const extra =
        run.capacityFraction === undefined
          ? ''
          : `, ${run.writeUnitsPerSec!.toFixed(1)} WCU/s (${run.capacityFraction.toFixed(3)} of capacity)`;
      const check = run.check
        ? `, check ${run.check.present}/${run.check.expected}${run.check.extra ? ` +${run.check.extra} extra` : ''}`
        : '';
      process.stderr.write(
        `  ${label} round ${round} ${side.padEnd(8)} ${run.items} items in ${(run.ms / 1000).toFixed(2)} s = ${run.itemsPerSec.toFixed(1)} items/s, ${run.calls} calls${extra}${check}${run.error ? `, ERROR ${run.error}` : ''}\n`,
      );
    }
  }
  return runs;
}

/** Both sides of one scenario, summed over rounds: items/s is total items over total time. */
interface SideSummary {
  runs: number;
  itemsPerRun: number;
  totalMs: number;
  itemsPerSec: number;
  runItemsPerSec: number[];
  calls: number;
  allWritten: boolean;
  allPresent: boolean;
  errors: string[];
  /** Short form of each error (code or name) with the run's table check, for the printed table. */
  errorNotes: string[];
  /** Calls are a lower bound: a run errored and its unfinished batches' calls are not counted. */
  callsLowerBound: boolean;
  writeUnitsPerSec?: number;
  capacityFraction?: number;
}

function summarize(runs: Run[], side: Side, capacity?: number): SideSummary {
  const mine = runs.filter((r) => r.side === side);
  const totalMs = mine.reduce((s, r) => s + r.ms, 0);
  const totalWritten = mine.reduce((s, r) => s + r.written, 0);
  const summary: SideSummary = {
    runs: mine.length,
    itemsPerRun: mine[0]?.items ?? 0,
    totalMs,
    itemsPerSec: (totalWritten * 1000) / totalMs,
    runItemsPerSec: mine.map((r) => r.itemsPerSec),
    calls: mine.reduce((s, r) => s + r.calls, 0),
    allWritten: mine.every((r) => r.written === r.items && r.error === undefined),
    allPresent: mine.every((r) => r.check?.ok === true),
    errors: mine.flatMap((r) => (r.error ? [r.error] : [])),
    errorNotes: mine.flatMap((r) =>
      r.error ? [`ERROR ${r.errorCode} (${r.check ? `${r.check.present}/${r.check.expected} present` : `${r.written} written`})`] : [],
    ),
    callsLowerBound: mine.some((r) => r.error !== undefined && r.side === 'operator'),
  };
  if (capacity !== undefined) {
    summary.writeUnitsPerSec = (mine.reduce((s, r) => s + (r.writeUnits ?? 0), 0) * 1000) / totalMs;
    summary.capacityFraction = summary.writeUnitsPerSec / capacity;
  }
  return summary;
}

interface Scenario {
  id: 'a' | 'b' | 'c';
  title: string;
  items: number;
  runs: Run[];
  operator: SideSummary;
  baseline: SideSummary;
  ratio: number;
  target: string;
  pass: boolean;
}

function scenario(id: Scenario['id'], title: string, items: number, runs: Run[], capacity?: number): Scenario {
  const operator = summarize(runs, 'operator', capacity);
  const baseline = summarize(runs, 'baseline', capacity);
  const ratio = operator.itemsPerSec / baseline.itemsPerSec;
  if (capacity === undefined) {
    return {
      id,
      title,
      items,
      runs,
      operator,
      baseline,
      ratio,
      target: `op/base >= ${TARGET}`,
      pass: ratio >= TARGET && operator.allWritten && operator.allPresent,
    };
  }
  const pass = operator.capacityFraction! >= TARGET && operator.allPresent && operator.allWritten;
  return { id, title, items, runs, operator, baseline, ratio, target: `WCU/s >= ${TARGET} of ${capacity} & all present`, pass };
}

function printTable(scenarios: Scenario[]): string {
  const rows: string[][] = [
    ['scenario', 'side', 'items/run', 'runs items/s', 'items/s', 'op/base', 'WCU/s', 'of cap', 'calls', 'check', 'target'],
  ];
  for (const s of scenarios) {
    for (const side of ['operator', 'baseline'] as const) {
      const sum = s[side];
      const check =
        sum.errorNotes.length > 0
          ? sum.errorNotes.join('; ')
          : sum.allPresent
            ? s.id === 'b'
              ? 'all received'
              : 'all present'
            : 'MISSING';
      rows.push([
        side === 'operator' ? `(${s.id}) ${s.title}` : '',
        side,
        `${sum.itemsPerRun}`,
        sum.runItemsPerSec.map((v) => v.toFixed(0)).join(' / '),
        sum.itemsPerSec.toFixed(1),
        side === 'operator' ? s.ratio.toFixed(3) : '',
        sum.writeUnitsPerSec === undefined ? '' : sum.writeUnitsPerSec.toFixed(1),
        sum.capacityFraction === undefined ? '' : sum.capacityFraction.toFixed(3),
        `${sum.calls}${sum.callsLowerBound ? '+' : ''}`,
        check,
        side === 'operator' ? `${s.target}: ${s.pass ? 'PASS' : 'MISS'}` : '',
      ]);
    }
  }
  return formatTable(rows);
}

async function main(): Promise<void> {
  const started = performance.now();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const local = await startDynamoLocal();
  const onSignal = (signal: NodeJS.Signals) => {
    void local.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let javaPeakRssMB: number | undefined;
  const scenarios: Scenario[] = [];
  let throughputControl: ThroughputControlBench;
  try {
    const { endpoint } = local;
    const sample = makeItems(SIZES.a).at(-1)!;
    process.stderr.write(`DynamoDB Local at ${endpoint}; item size ~${itemSize(sample)} B; scale ${SCALE}, ${ROUNDS} rounds\n`);

    // Warm-up: both code paths, to throwaway tables, so the JIT and Local are warm before (a).
    const warm = makeItems(SIZES.warmup);
    const warmBatches = prebuildBatches(warm);
    await alternate('warm-up', (side, round) => localRun(endpoint, side, round, warm, warmBatches));

    const itemsA = makeItems(SIZES.a);
    const batchesA = prebuildBatches(itemsA);
    const runsA = await alternate('(a)', (side, round) => localRun(endpoint, side, round, itemsA, batchesA));
    scenarios.push(scenario('a', 'DynamoDB Local', SIZES.a, runsA));

    const itemsB = makeItems(SIZES.b);
    const batchesB = prebuildBatches(itemsB);
    const runsB = await alternate('(b)', (side, round) => fakeRun(side, round, itemsB, batchesB));
    scenarios.push(scenario('b', `fake send ${FAKE_LATENCY_MS} ms`, SIZES.b, runsB));

    const itemsC = makeItems(SIZES.c);
    const batchesC = prebuildBatches(itemsC);
    const runsC = await alternate('(c)', (side, round) => localRun(endpoint, side, round, itemsC, batchesC, CAPACITY));
    scenarios.push(scenario('c', `Local + ${CAPACITY.writeUnitsPerSecond} WCU/s sim.`, SIZES.c, runsC, CAPACITY.writeUnitsPerSecond));

    throughputControl = await runThroughputBench({ endpoint, scale: SCALE }); // issue 4, on this Local
  } finally {
    javaPeakRssMB = procPeakRssMB(local.pid);
    await local.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const memory = await runMemoryBench({ scale: SCALE }); // after Local has stopped: its children have the CPUs to themselves

  const peakRssMB = process.resourceUsage().maxRSS / 1024; // maxRSS is in KB
  const wallSeconds = (performance.now() - started) / 1000;
  const header = `rxjs-dynamodb bench: node ${process.version}, ${cpus().length} CPUs, BENCH_SCALE=${SCALE}, ${ROUNDS} runs per side (alternating), concurrency ${CONCURRENCY}`;
  const footer = [
    `peak RSS (node, process.resourceUsage().maxRSS): ${peakRssMB.toFixed(1)} MB`,
    ...(javaPeakRssMB === undefined ? [] : [`peak RSS (DynamoDB Local, VmHWM): ${javaPeakRssMB.toFixed(1)} MB`]),
    `wall time: ${wallSeconds.toFixed(1)} s`,
  ];
  process.stdout.write(
    `${header}\n${printTable(scenarios)}\n${footer.join('\n')}\n\n${formatMemoryBench(memory)}\n\n${formatThroughputBench(throughputControl)}\n`,
  );

  const out = new URL('./out/', import.meta.url);
  await mkdir(out, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    scale: SCALE,
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    fakeLatencyMs: FAKE_LATENCY_MS,
    capacity: CAPACITY,
    target: TARGET,
    scenarios,
    peakRssMB,
    javaPeakRssMB,
    wallSeconds,
    memory,
    throughputControl,
  };
  await writeFile(new URL('latest.json', out), `${JSON.stringify(json, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error('bench failed:', error);
  process.exitCode = 1;
});
