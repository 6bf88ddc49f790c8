/**
 * Issue 14: `migrate --redis URL`, its copy cut into units that run on `rxjs-dynamodb worker` processes while the
 * source keeps taking writes, then the stream replayed by migrate itself; against DynamoDB Local and the Redis of the
 * global setup.
 */
import { type AttributeValue, DeleteItemCommand, type DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrateCheckpoint } from '../../src/cli/migrateCommand.js';
import { copyJobVerdict, copyPlan } from '../../src/cli/migrateQueue.js';
import { summarize, type UnitStatus } from '../../src/cli/statusCommand.js';
import { jobKey, type JobRecord, type UnitData } from '../../src/cli/unitQueue.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanRawByPk, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

type Raw = Record<string, AttributeValue>;

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

const scanRaw = (table: string) => scanRawByPk(client, table);

/** An item with the values real tables hold: 64-bit ids, 38-digit numbers, sets, binary, unicode beyond the BMP. */
const item = (i: number, version = 0): Raw => ({
  pk: { S: `ticket#${i}#\u{1F600}` },
  id: { N: `${2n ** 63n - BigInt(i)}` },
  amount: { N: `12345678901234567890123456789012345.${version % 1000}` }, // 38 digits at most
  tiny: { N: `-0.${'0'.repeat(20)}1234567890123456789012345678901234567${version % 10}` },
  tags: { SS: ['open', `v${version}`, '\u{1F680}'] },
  scores: { NS: [`${2n ** 64n + BigInt(i)}`, '-1e-130', '9.9999999999999999999999999999999999999E+125'] },
  blob: { B: new Uint8Array([i % 256, 0, 255, version % 256]) },
  blobs: { BS: [new Uint8Array([1, i % 256]), new Uint8Array([0xf0, 0x9f, 0x98, 0x80])] },
  nested: { M: { version: { N: `${version}` }, list: { L: [{ S: '\u{10FFFF}\u{1D11E}' }, { NULL: true }, { BOOL: false }] } } },
});

const put = (table: string, i: number, version = 0) => client.send(new PutItemCommand({ TableName: table, Item: item(i, version) }));
const key = (i: number) => ({ pk: { S: `ticket#${i}#\u{1F600}` } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function seed(table: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 50)
    await Promise.all(Array.from({ length: Math.min(50, count - start) }, (_, j) => put(table, start + j)));
}

/**
 * A writer that keeps changing `table` while `running()`: new items, changed items, deleted items, and one key
 * changed again and again. Resolves to the number of changes made.
 */
async function writer(table: string, count: number, running: () => boolean): Promise<number> {
  let changes = 0;
  for (let round = 1; running(); round++) {
    await put(table, (round * 37) % count, round); // changed
    await client.send(new DeleteItemCommand({ TableName: table, Key: key((round * 53 + 11) % count) })); // deleted
    await put(table, count + round, round); // new
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key(7),
        UpdateExpression: 'SET nested.version = :v ADD tags :t',
        ExpressionAttributeValues: { ':v': { N: `${round}` }, ':t': { SS: [`r${round}`] } },
      }),
    ); // the same key, many times
    changes += 4;
  }
  return changes;
}

/** A running command with what it printed on stderr so far. */
function started(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const run = startCli(args, options);
  let stderr = '';
  run.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { ...run, stderr: () => stderr };
}

const migrateArgs = (from: string, to: string, more: string[]) => ['migrate', '--from', from, '--to', to, '--endpoint', endpoint, ...more];
const startWorker = (queue: string) =>
  started(['worker', '--redis', redisUrl, '--queue', queue, '--endpoint', endpoint, '--lock-seconds', '5', '--save-ms', '100']);

/** The copy job a migration's checkpoint names, once it names one. */
async function copyJobOf(checkpoint: string, within = 60_000): Promise<{ id: string; queue: string }> {
  const deadline = Date.now() + within;
  while (Date.now() < deadline) {
    if (existsSync(checkpoint)) {
      const state = JSON.parse(readFileSync(checkpoint, 'utf8')) as Partial<MigrateCheckpoint>;
      if (state.copyJob) return state.copyJob;
    }
    await sleep(20);
  }
  throw new Error(`no copy job in ${checkpoint} within ${within} ms`);
}

/** The job records on `queue` (one per job submitted). */
async function jobRecords(queue: string): Promise<JobRecord[]> {
  const keys = await redis.keys(jobKey(queue, '*'));
  return Promise.all(keys.map(async (k) => JSON.parse((await redis.get(k))!) as JobRecord));
}

const unit = (state: UnitStatus['state'], failed = 0): UnitStatus => ({
  segment: 0,
  state,
  runs: [],
  read: 0,
  written: 0,
  failed,
  deadLetterCount: failed,
});

const checkpointOf = (over: Partial<MigrateCheckpoint>): MigrateCheckpoint => ({
  command: 'migrate',
  table: 'A',
  to: 'B',
  totalSegments: 2,
  segments: [{ done: false }, { done: false }],
  complete: false,
  streamArn: 'arn:stream',
  startedAt: 0,
  replayed: 0,
  ...over,
});

describe('migrate --redis: how the copy goes (issue 14)', () => {
  it('should copy here without --redis, and submit with it, on the default queue unless --queue says', () => {
    expect(copyPlan(checkpointOf({}), {})).toEqual({ mode: 'local' });
    expect(copyPlan(checkpointOf({}), { redis: 'redis://h' })).toEqual({ mode: 'submit', queue: 'rxjs-dynamodb' });
    expect(copyPlan(checkpointOf({}), { redis: 'redis://h', queue: 'q' })).toEqual({ mode: 'submit', queue: 'q' });
  });

  it("should wait on the checkpoint's job, on its queue, and go straight on once the copy is complete", () => {
    const copyJob = { id: 'copy-1', queue: 'q' };
    expect(copyPlan(checkpointOf({ copyJob }), { redis: 'redis://h' })).toEqual({ mode: 'wait', job: copyJob });
    expect(copyPlan(checkpointOf({ copyJob }), { redis: 'redis://h', queue: 'q' })).toEqual({ mode: 'wait', job: copyJob });
    expect(copyPlan(checkpointOf({ copyJob, complete: true }), {})).toEqual({ mode: 'done' });
  });

  it('should refuse (exit 2) a job without --redis, another --queue, and moving a copy begun here onto the queue', () => {
    const copyJob = { id: 'copy-1', queue: 'q' };
    const refused = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return { exitCode: (error as { exitCode: number }).exitCode, message: (error as Error).message };
      }
      throw new Error('not refused');
    };
    expect(refused(() => copyPlan(checkpointOf({ copyJob }), {}, 'm.json'))).toEqual({
      exitCode: 2,
      message: expect.stringMatching(/^checkpoint m\.json: .*job copy-1; give --redis/) as string,
    });
    expect(refused(() => copyPlan(checkpointOf({ copyJob }), { redis: 'redis://h', queue: 'other' }))).toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('--queue q') as string,
    });
    expect(refused(() => copyPlan(checkpointOf({}), { queue: 'q' }))).toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('give --redis <url> too') as string,
    });
    const begun = checkpointOf({ segments: [{ done: false, startKey: { pk: { S: 'a' } } }, { done: false }] });
    expect(refused(() => copyPlan(begun, { redis: 'redis://h' }))).toMatchObject({ exitCode: 2 });
  });

  it('should wait while units run, go on once all are done, and stop on a unit failed for good: 1 with items, 3 without', () => {
    expect(copyJobVerdict(summarize([unit('done'), unit('running'), unit('waiting')]))).toEqual({ state: 'waiting' });
    expect(copyJobVerdict(summarize([unit('done'), unit('done')]))).toEqual({ state: 'done' });
    expect(copyJobVerdict(summarize([unit('failed', 3), unit('running')]))).toMatchObject({ state: 'failed', exitCode: 1 });
    expect(copyJobVerdict(summarize([unit('failed'), unit('done')]))).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(copyJobVerdict(summarize([unit('done', 1), unit('done')]))).toMatchObject({ state: 'failed', exitCode: 1 });
  });
});

describe('rxjs-dynamodb migrate --redis (issue 14)', () => {
  it('should end with the target exactly as the source: the copy in 8 units on 2 workers under a concurrent writer, then the replay', async () => {
    const from = await createTable(client, uniqueTable('muFrom'), { stream: true });
    const to = uniqueTable('muTo');
    const ITEMS = 3000;
    await seed(from, ITEMS);
    const queue = `mig-${Date.now().toString(36)}`;
    const dir = tempDir();
    const checkpoint = join(dir, 'migrate.json');
    const workers = [startWorker(queue), startWorker(queue)];
    // the copy is held to 300 units per second across both workers, so that the writer runs through it
    const run = started(
      migrateArgs(from, to, [
        ...['--create-table', '--redis', redisUrl, '--queue', queue, '--segments', '8', '--page-size', '25', '--capacity', '300'],
        ...['--until-caught-up', '--poll-ms', '100', '--resume', checkpoint, '--json'],
      ]),
      { cwd: dir },
    );
    const t0 = Date.now();
    let writing = true;
    const changes = writer(from, ITEMS, () => writing);
    const { id } = await copyJobOf(checkpoint);
    const bull = new Queue<UnitData>(queue, { connection: redis });
    // the writer stops once some units are done, before the last one is: every change is made before the replay begins
    const deadline = Date.now() + 60_000;
    while ((await bull.getJobCounts('completed')).completed! < 3 && Date.now() < deadline) await sleep(50);
    writing = false;
    expect(await changes).toBeGreaterThan(100);
    expect((await bull.getJobCounts('completed')).completed, 'the copy ended before the writer did').toBeLessThan(8);
    process.stderr.write(`writer stopped after ${Date.now() - t0} ms\n`);
    expect(run.stderr()).not.toContain('replaying the changes');

    const made = await changes;
    let copyMs = 0;
    while (!run.stderr().includes('replaying the changes') && copyMs === 0) {
      if (run.child.exitCode !== null) break;
      await sleep(20);
    }
    copyMs = Date.now() - t0;
    const done = await run.done;
    const totalMs = Date.now() - t0;
    expect(done.code, run.stderr()).toBe(0);
    const summary = jsonSummary(done.stdout);
    expect(summary).toMatchObject({ command: 'migrate', ok: true, failed: 0, copyJob: id, totalSegments: 8 });
    expect(summary.scanCalls).toBe(0); // migrate itself scanned nothing: the workers copied
    expect(summary.replayed as number).toBeGreaterThan(100);
    expect(run.stderr()).toMatch(new RegExp(`migrate: copy job ${id}: 8/8 units done, 0 running, 0 waiting, 0 failed`));

    // one job of 8 units, every one done, run by both workers
    expect((await jobRecords(queue)).map((r) => [r.jobId, r.kind, r.from, r.to, r.totalSegments])).toEqual([[id, 'copy', from, to, 8]]);
    const status = await runCli(['status', id, '--redis', redisUrl, '--queue', queue, '--json']);
    expect(status.code, status.stdout).toBe(0);
    const units = jsonSummary(status.stdout) as { done: number; failed: number; written: number; workers: number };
    expect(units).toMatchObject({ done: 8, failed: 0, workers: 2 });
    expect(units.written).toBeGreaterThanOrEqual(ITEMS);
    await bull.close();
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect((await w.done).code).toBe(0);

    const [a, b] = await Promise.all([scanRaw(from), scanRaw(to)]);
    expect(b.size).toBe(a.size);
    expect(b).toEqual(a);
    const diff = await runCli(['diff', '--from', from, '--to', to, '--endpoint', endpoint, '--segments', '2']);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    process.stderr.write(
      `migrate --redis: ${ITEMS} items, ${made} changes by the writer; copy on 2 workers done after ${copyMs} ms, replay of ${String(summary.replayed)} changes done after ${totalMs} ms\n`,
    );
  }, 240_000);

  it('should exit 130 on Ctrl-C while waiting, the units going on, and with --resume wait on the same job and end equal', async () => {
    const from = await createTable(client, uniqueTable('muIntFrom'), { stream: true });
    const to = await createTable(client, uniqueTable('muIntTo'));
    const ITEMS = 2000;
    await seed(from, ITEMS);
    const queue = `mig-int-${Date.now().toString(36)}`;
    const dir = tempDir();
    const checkpoint = join(dir, 'migrate.json');
    const workers = [startWorker(queue), startWorker(queue)];
    const first = started(
      migrateArgs(from, to, [
        ...['--redis', redisUrl, '--queue', queue, '--segments', '8', '--page-size', '25', '--capacity', '300'],
        ...['--until-caught-up', '--poll-ms', '100', '--resume', checkpoint],
      ]),
      { cwd: dir },
    );
    let writing = true;
    const changes = writer(from, ITEMS, () => writing);
    const { id } = await copyJobOf(checkpoint);
    // interrupted while waiting, with units under way on the workers
    const bull = new Queue<UnitData>(queue, { connection: redis });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(await bull.getJobs(['active'])).some((j) => (j.data.runs?.at(-1)?.written ?? 0) > 0)) await sleep(20);
    await sleep(300);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain(`stopped waiting for the copy job ${id}, whose units go on on the workers`);
    expect(stopped.stderr).toContain(`--resume ${checkpoint}`);
    expect(stopped.stderr).not.toContain('replaying the changes');
    const state = JSON.parse(readFileSync(checkpoint, 'utf8')) as MigrateCheckpoint;
    expect(state).toMatchObject({ complete: false, copyJob: { id, queue } });
    expect((await bull.getJobCounts('completed')).completed).toBeLessThan(8);

    // the units go on without migrate; the source keeps changing
    await sleep(1_000);
    writing = false;
    expect(await changes).toBeGreaterThan(20);
    for (let i = 0; i < 20; i++) await put(from, i * 31, 2000 + i);
    await client.send(new DeleteItemCommand({ TableName: from, Key: key(45) }));

    // --resume (no --queue: the checkpoint's) waits on that job: no second one is submitted
    const second = await runCli(
      migrateArgs(from, to, ['--redis', redisUrl, '--resume', checkpoint, '--until-caught-up', '--poll-ms', '100', '--json']),
      { cwd: dir },
    );
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`migrate: waiting on the copy job ${id}`);
    expect(second.stderr).not.toContain('as job copy-');
    expect(jsonSummary(second.stdout)).toMatchObject({ command: 'migrate', ok: true, copyJob: id, failed: 0 });
    expect((await jobRecords(queue)).map((r) => r.jobId)).toEqual([id]);
    const counts = await bull.getJobCounts();
    expect(Object.values(counts).reduce((n, c) => n + c, 0)).toBe(8);
    expect(counts.completed).toBe(8);
    await bull.close();
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect((await w.done).code).toBe(0);

    const [a, b] = await Promise.all([scanRaw(from), scanRaw(to)]);
    expect(b).toEqual(a);
    const diff = await runCli(['diff', '--from', from, '--to', to, '--endpoint', endpoint]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  }, 240_000);

  it('should stop with exit 1 naming the job, and replay nothing, when a copy unit fails for good', async () => {
    const from = await createTable(client, uniqueTable('muFail'), { stream: true });
    const to = await createTable(client, uniqueTable('muFailTo'));
    await seed(from, 300);
    const queue = `mig-fail-${Date.now().toString(36)}`;
    const dir = tempDir();
    const transform = join(dir, 'transform.mjs');
    writeFileSync(
      transform,
      'export default (item) => { if (item.pk === "ticket#42#\\u{1F600}") throw new Error("refused " + item.pk); return item; };\n',
    );
    const checkpoint = join(dir, 'migrate.json');
    const worker = startWorker(queue);
    const run = await runCli(
      migrateArgs(from, to, [
        ...['--redis', redisUrl, '--queue', queue, '--segments', '4', '--transform', transform],
        ...['--until-caught-up', '--resume', checkpoint],
      ]),
      { cwd: dir },
    );
    worker.child.kill('SIGTERM');
    expect((await worker.done).code).toBe(0);
    const { id } = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { copyJob: { id: string } }).copyJob;
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`error: the copy job ${id} of ${from} into ${to} failed: 1 unit failed for good, 1 item not written`);
    expect(run.stderr).toContain(`rxjs-dynamodb status ${id} --redis ${redisUrl} --queue ${queue}`);
    expect(run.stderr).not.toContain('replaying the changes');
    expect((JSON.parse(readFileSync(checkpoint, 'utf8')) as MigrateCheckpoint).complete).toBe(false);
    const status = await runCli(['status', id, '--redis', redisUrl, '--queue', queue]);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('refused ticket#42#\u{1F600}');
  }, 120_000);

  it('should copy here as before when only REDIS_URL is set (no --redis), and refuse a job checkpoint without --redis', async () => {
    const from = await createTable(client, uniqueTable('muEnv'), { stream: true });
    const to = uniqueTable('muEnvTo');
    await seed(from, 200);
    const dir = tempDir();
    const checkpoint = join(dir, 'migrate.json');
    const run = await runCli(migrateArgs(from, to, ['--create-table', '--until-caught-up', '--resume', checkpoint, '--json']), {
      cwd: dir,
      env: { REDIS_URL: redisUrl },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain('copy job');
    const summary = jsonSummary(run.stdout);
    expect(summary.scanCalls as number).toBeGreaterThan(0); // it scanned the source itself
    expect(summary.copyJob).toBeUndefined();
    const records = await Promise.all((await redis.keys('rxjs-dynamodb:*:job:*')).map(async (k) => (await redis.get(k)) ?? ''));
    expect(records.filter((r) => r.includes(from))).toEqual([]);
    expect(await scanRaw(to)).toEqual(await scanRaw(from));

    // a checkpoint whose copy runs on the queue: refused without --redis (exit 2), naming the job
    const held = join(dir, 'held.json');
    writeFileSync(held, JSON.stringify(checkpointOf({ table: from, to, copyJob: { id: 'copy-held-1', queue: 'q' } })));
    const refused = await runCli(migrateArgs(from, to, ['--resume', held]), { cwd: dir, env: { REDIS_URL: redisUrl } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('job copy-held-1; give --redis <url>');
    // and a --redis that is no URL, before anything is read
    const bad = await runCli(migrateArgs(from, to, ['--redis', 'localhost:6379']), { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--redis must be a URL such as redis://127.0.0.1:6379, got localhost:6379');
  }, 120_000);
});
