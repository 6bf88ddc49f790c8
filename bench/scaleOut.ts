/**
 * The scale-out bench (issue 14): one copy of a table, cut into 32 units, run by 1, 2 and 4 `rxjs-dynamodb worker`
 * processes (2 units each at once) on DynamoDB Local and a Redis of its own; items/s from the first unit's start to
 * the last unit's last save. Then the shared budget: 4 workers under `--capacity` well below what they reach, and how
 * far their combined write rate (after the budget's 1-second burst) is from it. DynamoDB Local and every worker share
 * this machine's cores, so the scaling is capped by them, not by the workers.
 * Run alone: `npm run build && npx tsx --tsconfig tsconfig.bench.json bench/scaleOut.ts` (BENCH_SCALE scales the items).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, map, range } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { localClient } from '../test/helpers/dynamoLocal.js';
import { startRedis } from '../test/helpers/redis.js';
import { createTable, uniqueTable } from '../test/helpers/tables.js';
import { envNumber, formatTable } from './support.js';

const BIN = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));

function cli(args: string[]): { done: Promise<{ code: number | null; stdout: string }>; kill: () => void } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env } });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return { done: new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout }))), kill: () => child.kill('SIGTERM') };
}

interface Run {
  items: number;
  seconds: number;
}

/** Submits a copy of `source`, runs `workers` workers until status says done, and times it from its units' runs. */
async function copyWith(endpoint: string, redisUrl: string, source: string, workers: number, capacity?: number): Promise<Run> {
  const queue = `bench-${workers}-${Date.now().toString(36)}`;
  const redis = ['--redis', redisUrl, '--queue', queue];
  const target = uniqueTable('BenchScaleTo');
  const submit = await cli(
    ['submit', 'copy', '--from', source, '--to', target, '--create-table', '--segments', '32', '--page-size', '250', '--json'].concat(
      ['--endpoint', endpoint],
      capacity ? ['--capacity', String(capacity)] : [],
      redis,
    ),
  ).done;
  const { jobId } = JSON.parse(submit.stdout.trim().split('\n').at(-1)!) as { jobId: string };
  const running = Array.from({ length: workers }, () => cli(['worker', ...redis, '--endpoint', endpoint, '--concurrency', '2']));
  const status = await cli(['status', jobId, ...redis, '--watch', '--interval', '0.5', '--json']).done;
  for (const w of running) w.kill();
  await Promise.all(running.map((w) => w.done));
  const summary = JSON.parse(status.stdout.trim().split('\n').at(-1)!) as {
    written: number;
    unitStatus: Array<{ runs: Array<{ startedAt: number; updatedAt: number }> }>;
  };
  const runs = summary.unitStatus.flatMap((u) => u.runs);
  const seconds = (Math.max(...runs.map((r) => r.updatedAt)) - Math.min(...runs.map((r) => r.startedAt))) / 1000;
  return { items: summary.written, seconds };
}

export interface ScaleOutBench {
  items: number;
  workers: Array<{ workers: number; itemsPerSec: number; seconds: number }>;
  budget: { unitsPerSecond: number; measured: number; errorPercent: number; seconds: number };
}

export async function runScaleOutBench(endpoint: string, options: { items?: number; budget?: number } = {}): Promise<ScaleOutBench> {
  const { items = 60_000, budget = 1_500 } = options;
  const redis = await startRedis();
  const client = localClient(endpoint);
  try {
    const source = await createTable(client, uniqueTable('BenchScaleFrom'));
    await lastValueFrom(
      range(0, items).pipe(
        map((i) => ({ pk: `item#${i}`, n: 2n ** 63n + BigInt(i), text: 'x'.repeat(100) })),
        dynamoBatchWrite(client, source, { concurrency: 8 }),
      ),
      { defaultValue: undefined },
    );
    const rows: ScaleOutBench['workers'] = [];
    for (const workers of [1, 2, 4]) {
      const run = await copyWith(endpoint, redis.url, source, workers);
      rows.push({ workers, itemsPerSec: run.items / run.seconds, seconds: run.seconds });
    }
    const run = await copyWith(endpoint, redis.url, source, 4, budget);
    const measured = (run.items - budget) / run.seconds; // after the budget's 1-second burst
    return {
      items,
      workers: rows,
      budget: { unitsPerSecond: budget, measured, errorPercent: ((measured - budget) / budget) * 100, seconds: run.seconds },
    };
  } finally {
    client.destroy();
    await redis.stop();
  }
}

export function formatScaleOutBench(b: ScaleOutBench): string {
  const one = b.workers[0]!.itemsPerSec;
  const table = [['workers', 'items', 'seconds', 'items/s', 'vs 1 worker']];
  for (const r of b.workers)
    table.push([`${r.workers}`, `${b.items}`, r.seconds.toFixed(1), r.itemsPerSec.toFixed(0), (r.itemsPerSec / one).toFixed(2)]);
  const { unitsPerSecond, measured, errorPercent, seconds } = b.budget;
  return `${formatTable(table)}\nshared budget: 4 workers, --capacity ${unitsPerSecond}: ${measured.toFixed(0)} units/s over ${seconds.toFixed(1)} s after the burst (${errorPercent >= 0 ? '+' : ''}${errorPercent.toFixed(1)} %)`;
}

if (process.argv[1]?.endsWith('bench/scaleOut.ts')) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { startDynamoLocal } = await import('../test/helpers/dynamoLocal.js');
  const local = await startDynamoLocal();
  try {
    const bench = await runScaleOutBench(local.endpoint, { items: Math.round(60_000 * envNumber('BENCH_SCALE', 1)) });
    process.stdout.write(`${formatScaleOutBench(bench)}\n`);
  } finally {
    await local.stop();
  }
}
