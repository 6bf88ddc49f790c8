/**
 * Issue 14, parts 1 and 2: a copy cut into units on a BullMQ queue, run by several worker processes, one of them
 * killed mid-unit; against DynamoDB Local and the Redis of the global setup. The size is `SCALE_OUT_ITEMS` (default
 * 200,000).
 */
import { type AttributeValue, DeleteTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { lastValueFrom, map, range } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { UnitData } from '../../src/cli/unitQueue.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

const ITEMS = Number(process.env.SCALE_OUT_ITEMS ?? 200_000);
const SEGMENTS = 32;
const WORKERS = 4;

let client: DynamoDBClient;
let endpoint: string;
let redisUrl: string;
let redis: Redis;
beforeAll(async () => {
  endpoint = inject('dynamoEndpoint');
  redisUrl = inject('redisUrl');
  client = localClient(endpoint);
  redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  await ensureBuilt();
}, 180_000);
afterAll(() => {
  client.destroy();
  redis.disconnect();
  removeTempDirs();
});

const pk = (i: number) => `item#${String(i).padStart(7, '0')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` items written with the toolkit's own dynamoBatchWrite, 8 calls at once. */
async function seed(table: string, count: number): Promise<void> {
  await lastValueFrom(
    range(0, count).pipe(
      map((i) => ({ pk: pk(i), n: i, big: 2n ** 64n + BigInt(i), payload: 'x'.repeat(40) })),
      dynamoBatchWrite(client, table, { concurrency: 8 }),
    ),
    { defaultValue: undefined },
  );
}

/** Items of one segment of `table`, from `start` (exclusive) when given. */
async function countSegment(
  table: string,
  segment: number,
  start?: Record<string, AttributeValue>,
  totalSegments = SEGMENTS,
): Promise<number> {
  let count = 0;
  let ExclusiveStartKey = start;
  const segments = totalSegments > 1 ? { Segment: segment, TotalSegments: totalSegments } : {};
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ...segments, Select: 'COUNT', ExclusiveStartKey }));
    count += page.Count ?? 0;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return count;
}

const queueArgs = (queue: string) => ['--redis', redisUrl, '--queue', queue];
const startWorker = (queue: string, more: string[] = []) =>
  startCli(['worker', ...queueArgs(queue), '--endpoint', endpoint, '--lock-seconds', '5', '--save-ms', '100', '--json', ...more]);

describe('rxjs-dynamodb submit / worker / status (issue 14)', () => {
  it(`should copy ${ITEMS} items in ${SEGMENTS} units on ${WORKERS} workers exactly, a killed worker's unit going on elsewhere from its cursor`, async () => {
    const source = await createTable(client, uniqueTable('scaleFrom'));
    const target = uniqueTable('scaleTo');
    const queue = `scale-${Date.now().toString(36)}`;
    let t = Date.now();
    await seed(source, ITEMS);
    const seedMs = Date.now() - t;

    const submitted = await runCli([
      'submit',
      'copy',
      '--from',
      source,
      '--to',
      target,
      '--create-table',
      '--segments',
      String(SEGMENTS),
      '--page-size',
      '250',
      '--endpoint',
      endpoint,
      '--json',
      ...queueArgs(queue),
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { jobId } = jsonSummary(submitted.stdout) as { jobId: string };
    expect(jobId).toMatch(/^copy-/);

    t = Date.now();
    const workers = Array.from({ length: WORKERS }, () => startWorker(queue, ['--concurrency', '2']));
    // a unit well under way (its cursor saved, most of its segment to go): kill its worker
    const bull = new Queue<UnitData>(queue, { connection: redis });
    const pids = new Set(workers.map((w) => w.child.pid!));
    let victim: { segment: number; pid: number } | undefined;
    const deadline = Date.now() + 60_000;
    while (!victim && Date.now() < deadline) {
      for (const job of await bull.getJobs(['active'])) {
        const run = job.data.runs?.at(-1);
        if (job.data.cursor && run && pids.has(run.pid) && run.written >= ITEMS / SEGMENTS / 6 && run.written < ITEMS / SEGMENTS / 2) {
          victim = { segment: job.data.segment, pid: run.pid };
          break;
        }
      }
      if (!victim) await sleep(20);
    }
    if (!victim) throw new Error('no unit with a saved cursor to kill within 60 s');
    const killed = workers.find((w) => w.child.pid === victim!.pid)!;
    killed.child.kill('SIGKILL');
    expect((await killed.done).signal).toBe('SIGKILL');

    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.5', '--json']);
    const copyMs = Date.now() - t;
    const summary = jsonSummary(status.stdout) as {
      done: number;
      failed: number;
      written: number;
      rate: number;
      workers: number;
      unitStatus: Array<{ segment: number; runs: NonNullable<UnitData['runs']> }>;
    };
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(summary).toMatchObject({ done: SEGMENTS, failed: 0, workers: WORKERS });
    expect(summary.written).toBeGreaterThanOrEqual(ITEMS);

    // the killed unit went on, on another worker, from its cursor: it wrote the items after it alone
    const runs = summary.unitStatus.find((u) => u.segment === victim!.segment)!.runs;
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]!.pid).toBe(victim.pid);
    const resumed = runs[1]!;
    expect(resumed.pid).not.toBe(victim.pid);
    expect(resumed.startCursor).not.toBeNull();
    const total = await countSegment(source, victim.segment);
    const after = await countSegment(source, victim.segment, resumed.startCursor as Record<string, AttributeValue>);
    expect(after).toBeLessThan(total);
    expect(resumed.written).toBe(after); // nothing before the cursor was written again
    expect(runs[0]!.written).toBeGreaterThanOrEqual(total - after); // the dead worker had written those, and said so

    for (const w of workers) if (w !== killed) w.child.kill('SIGTERM');
    for (const w of workers) if (w !== killed) expect((await w.done).code).toBe(0);
    await bull.close();

    const diff = await runCli(['diff', '--from', source, '--to', target, '--endpoint', endpoint, '--segments', '4']);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    const human = await runCli(['status', jobId, ...queueArgs(queue)]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`${SEGMENTS} units: ${SEGMENTS} done, 0 running, 0 waiting, 0 failed`);
    process.stderr.write(
      `scale-out: ${ITEMS} items seeded in ${seedMs} ms; copied by ${WORKERS} workers (one killed) in ${copyMs} ms, ${summary.rate} items/s; killed unit ${victim.segment}: ${total - after} before the cursor, ${after} after\n`,
    );
  }, 600_000);

  it('should report a unit that fails for good with its dead-letter items, the other units done', async () => {
    const source = await createTable(client, uniqueTable('scaleFail'));
    const target = await createTable(client, uniqueTable('scaleFailTo'));
    const queue = `scale-fail-${Date.now().toString(36)}`;
    await seed(source, 600);
    const dir = tempDir();
    const transform = join(dir, 'transform.mjs');
    const bad = [pk(7), pk(123), pk(400)];
    writeFileSync(
      transform,
      `const bad = new Set(${JSON.stringify(bad)});\nexport default (item) => { if (bad.has(item.pk)) throw new Error('refused ' + item.pk); return item; };\n`,
    );
    const submitted = await runCli(
      [
        'submit',
        'copy',
        '--from',
        source,
        '--to',
        target,
        '--segments',
        '4',
        '--transform',
        transform,
        '--endpoint',
        endpoint,
        ...queueArgs(queue),
      ],
      { cwd: dir },
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = submitted.stdout.trim();
    const worker = startWorker(queue);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.5', '--json']);
    worker.child.kill('SIGTERM');
    expect((await worker.done).code).toBe(0);
    expect(status.code, status.stdout + status.stderr).toBe(1);
    const summary = jsonSummary(status.stdout) as {
      done: number;
      failed: number;
      itemsFailed: number;
      unitStatus: Array<{
        state: string;
        runs: unknown[];
        error?: string;
        deadLetters?: Array<{ item: { pk: string }; error: { message: string } }>;
      }>;
    };
    const failed = summary.unitStatus.filter((u) => u.state === 'failed');
    expect(summary.failed).toBe(failed.length);
    expect(summary.done).toBe(4 - failed.length);
    expect(summary.itemsFailed).toBe(3);
    // failed for good: no second run, and the error says where the items are
    for (const u of failed) {
      expect(u.runs).toHaveLength(1);
      expect(u.error).toMatch(/items were not written/);
    }
    const dead = failed.flatMap((u) => u.deadLetters ?? []);
    expect(dead.map((d) => d.item.pk).sort()).toEqual(bad);
    expect(dead.map((d) => d.error.message).sort()).toEqual(bad.map((k) => `refused ${k}`));
    expect(await scanAll(client, target)).toHaveLength(600 - 3);
    const human = await runCli(['status', jobId, ...queueArgs(queue)]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(pk(123));
  }, 120_000);

  it('should put a unit back at its cursor when its worker is stopped with SIGTERM, for the next worker to go on', async () => {
    const source = await createTable(client, uniqueTable('scaleTerm'));
    const target = await createTable(client, uniqueTable('scaleTermTo'));
    const queue = `scale-term-${Date.now().toString(36)}`;
    await seed(source, 3000);
    const submitted = await runCli([
      'submit',
      'copy',
      '--from',
      source,
      '--to',
      target,
      '--segments',
      '1',
      '--page-size',
      '50',
      '--concurrency',
      '1',
      '--endpoint',
      endpoint,
      ...queueArgs(queue),
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = submitted.stdout.trim();
    const bull = new Queue<UnitData>(queue, { connection: redis });
    const first = startWorker(queue);
    for (let tries = 0; tries < 1000; tries++) {
      const job = await bull.getJob(`${jobId}-0`);
      if (job?.data.cursor) break;
      await sleep(10);
    }
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
    const stopped = (await bull.getJob(`${jobId}-0`))!;
    expect(await stopped.getState()).toBe('waiting');
    expect(stopped.data.cursor).toBeDefined();
    expect(stopped.data.done).toBeUndefined();
    expect(stopped.attemptsMade).toBe(0); // stopping is not a failed attempt
    const second = startWorker(queue);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.3', '--json']);
    second.child.kill('SIGTERM');
    await second.done;
    await bull.close();
    expect(status.code, status.stdout).toBe(0);
    const { runs } = (jsonSummary(status.stdout) as { unitStatus: Array<{ runs: NonNullable<UnitData['runs']> }> }).unitStatus[0]!;
    expect(runs).toHaveLength(2);
    expect(runs[1]!.startCursor).toEqual(stopped.data.cursor);
    // the second run wrote the items after the cursor alone; the first, at least every item before it
    const after = await countSegment(source, 0, runs[1]!.startCursor as Record<string, AttributeValue>, 1);
    expect(after).toBeLessThan(3000);
    expect(runs[1]!.written).toBe(after);
    expect(runs[0]!.written).toBeGreaterThanOrEqual(3000 - after);
    expect(await scanAll(client, target)).toHaveLength(3000);
  }, 120_000);

  it('should try a unit that stops again from its cursor, and fail it for good once its attempts are spent', async () => {
    const source = await createTable(client, uniqueTable('scaleGone'));
    const target = await createTable(client, uniqueTable('scaleGoneTo'));
    const queue = `scale-gone-${Date.now().toString(36)}`;
    await seed(source, 100);
    const submitted = await runCli([
      'submit',
      'copy',
      '--from',
      source,
      '--to',
      target,
      '--segments',
      '2',
      '--attempts',
      '2',
      '--endpoint',
      endpoint,
      ...queueArgs(queue),
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = submitted.stdout.trim();
    // the target goes away after submit: every write meets ResourceNotFoundException, and the unit stops
    await client.send(new DeleteTableCommand({ TableName: target }));
    const worker = startWorker(queue);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.5', '--json']);
    worker.child.kill('SIGTERM');
    await worker.done;
    expect(status.code, status.stdout).toBe(1);
    const summary = jsonSummary(status.stdout) as {
      failed: number;
      unitStatus: Array<{ state: string; runs: unknown[]; error?: string; deadLetterCount: number }>;
    };
    expect(summary.failed).toBe(2);
    for (const unit of summary.unitStatus) {
      expect(unit.state).toBe('failed');
      expect(unit.runs).toHaveLength(2); // tried again once, then failed for good
      expect(unit.error).toContain('ResourceNotFoundException');
      expect(unit.deadLetterCount).toBe(0); // stopped: its items are not settled, not dead letters
    }
  }, 120_000);

  it('should delete the items matching a filter, in units, keeping the others (submit delete)', async () => {
    const table = await createTable(client, uniqueTable('scaleDelete'));
    const queue = `scale-delete-${Date.now().toString(36)}`;
    await seed(table, 1000);
    const args = [
      'submit',
      'delete',
      '--table',
      table,
      '--segments',
      '4',
      '--page-size',
      '100',
      '--endpoint',
      endpoint,
      ...queueArgs(queue),
    ];
    const refused = await runCli(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--all');
    const submitted = await runCli([...args, '--filter', 'n < :k', '--values', '{":k":300}']);
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = submitted.stdout.trim();
    const worker = startWorker(queue, ['--concurrency', '2']);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.5']);
    worker.child.kill('SIGTERM');
    await worker.done;
    expect(status.code, status.stdout).toBe(0);
    expect(status.stdout).toContain(`delete items of ${table}: 4 units: 4 done`);
    expect(status.stdout).toContain('300 written');
    const left = await scanAll(client, table);
    expect(left).toHaveLength(700);
    expect(left.every((item) => (item.n as number) >= 300)).toBe(true);
  }, 120_000);

  it('should update the items matching a filter, in units, each once (submit update)', async () => {
    const table = await createTable(client, uniqueTable('scaleUpdate'));
    const queue = `scale-update-${Date.now().toString(36)}`;
    await seed(table, 1000);
    const submitted = await runCli([
      'submit',
      'update',
      '--table',
      table,
      '--filter',
      'n >= :k',
      '--values',
      '{":k":250}',
      '--set',
      '{"status":"archived","big":123456789012345678901234567890}',
      '--add',
      '{"views":1}',
      '--segments',
      '4',
      '--page-size',
      '100',
      '--endpoint',
      endpoint,
      ...queueArgs(queue),
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = submitted.stdout.trim();
    const worker = startWorker(queue, ['--concurrency', '4']);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.5']);
    worker.child.kill('SIGTERM');
    await worker.done;
    expect(status.code, status.stdout).toBe(0);
    expect(status.stdout).toContain('750 written');
    const raw = await client.send(new ScanCommand({ TableName: table }));
    const items = raw.Items!;
    expect(items).toHaveLength(1000);
    for (const item of items) {
      const updated = Number(item.n!.N) >= 250;
      expect(item.status?.S).toBe(updated ? 'archived' : undefined);
      expect(item.views?.N).toBe(updated ? '1' : undefined);
      if (updated) expect(item.big!.N).toBe('123456789012345678901234567890'); // every digit
    }
  }, 120_000);

  it('should exit 3 for a job it does not know, and 2 without --redis', async () => {
    const unknown = await runCli(['status', 'copy-nope', ...queueArgs('scale-none')]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('no job copy-nope');
    const noRedis = await runCli(['status', 'copy-nope'], { env: { REDIS_URL: '' } });
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr).toContain('--redis');
  });
});
