/**
 * Diff units: `submit diff` cut into units, run by worker processes, summed by `status`; against DynamoDB Local and the
 * Redis of the global setup. The tables hold exact values — 64-bit sort keys, 38-digit numbers, string, number and
 * binary sets, binary, characters beyond the BMP, nested maps and lists — written raw (AttributeValues), and the
 * planted differences vanish through a JavaScript `number` (the 38th digit, 2^64 + 1) or are one set element.
 */
import { type AttributeValue, BatchWriteItemCommand, CreateTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/cli/deadLetter.js';
import {
  type DiffCounts,
  type DiffRecord,
  loadDiffCursor,
  PageLedger,
  type PendingPage,
  runDiffUnit,
  storeDiffCursor,
} from '../../src/cli/diffUnits.js';
import { deadLetterKey, type UnitData, type UnitTally } from '../../src/cli/unitQueue.js';
import type { UnitPosition, WorkUnit } from '../../src/cli/units.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

type Raw = Record<string, AttributeValue>;

const ITEMS = 3000;
const TWO_63 = 2n ** 63n;
const TWO_64 = 2n ** 64n;
const N38 = '1234567890123456789012345678901234567'; // 37 digits: the 38th is the item's

/** Item i of table A, exactly as DynamoDB holds it. */
function item(i: number): Raw {
  return {
    pk: { S: `p${i % 300}-😀𝄞` },
    sk: { N: String(TWO_63 + BigInt(i)) },
    n38: { N: `${N38}${i % 10}` },
    dec: { N: `-0.${N38}${(i + 1) % 10}` },
    ss: { SS: ['a', `𝄞${i}`, `é${i}`] },
    ns: { NS: [String(TWO_64 + BigInt(i)), '-1.5'] },
    bin: { B: Uint8Array.from([0, 255, i % 256, 128]) },
    bs: { BS: [Uint8Array.from([1, i % 256]), Uint8Array.from([2])] },
    text: { S: `😀 item ${i} 𝌆` },
    m: { M: { l: { L: [{ N: '1E125' }, { BOOL: true }, { NULL: true }, { S: '' }] } } },
  };
}
const keyOf = (raw: Raw): Raw => ({ pk: raw.pk!, sk: raw.sk! });
/** A key as the differences keep it: every digit as text, binary as base64. */
const stored = (raw: Raw) => JSON.stringify({ pk: { S: raw.pk!.S }, sk: { N: raw.sk!.N } });

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A table with the key pk (S), sk (N), on-demand. */
async function table(prefix: string): Promise<string> {
  const name = uniqueTable(prefix);
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'N' },
      ],
    }),
  );
  return name;
}

/** Puts (or deletes, by key) exactly these AttributeValues, 25 a call, 8 calls at once. */
async function writeRaw(name: string, items: Raw[], remove = false): Promise<void> {
  const calls: Raw[][] = [];
  for (let i = 0; i < items.length; i += 25) calls.push(items.slice(i, i + 25));
  for (let i = 0; i < calls.length; i += 8)
    await Promise.all(
      calls.slice(i, i + 8).map((batch) =>
        client.send(
          new BatchWriteItemCommand({
            RequestItems: {
              [name]: batch.map((raw) => (remove ? { DeleteRequest: { Key: keyOf(raw) } } : { PutRequest: { Item: raw } })),
            },
          }),
        ),
      ),
    );
}

/** The differences planted in B, by kind, as their stored keys (sorted), and the attributes of the different ones. */
interface Planted {
  missing: string[];
  different: string[];
  extra: string[];
  attributes: Record<string, string[]>;
}

/**
 * Two tables with the same `ITEMS` items, then in B: `every`-th items deleted (missing), changed in one attribute
 * (the 38th digit of a number, one element of a string set, 2^64 + i + 1 for 2^64 + i in a number set, one byte of a
 * binary), and items added (extra, keys beyond 2^63 and the BMP).
 */
async function plantedTables(
  prefix: string,
  count: number,
  every: number,
  size = ITEMS,
): Promise<{ a: string; b: string; planted: Planted }> {
  const [a, b] = await Promise.all([table(`${prefix}A`), table(`${prefix}B`)]);
  const items = Array.from({ length: size }, (_, i) => item(i));
  await Promise.all([writeRaw(a, items), writeRaw(b, items)]);
  const planted: Planted = { missing: [], different: [], extra: [], attributes: {} };
  const missing = items.filter((_, i) => i % every === 1).slice(0, count);
  await writeRaw(b, missing, true);
  planted.missing = missing.map(stored).sort();
  const changes: Array<[string, (raw: Raw, i: number) => AttributeValue]> = [
    ['n38', (_, i) => ({ N: `${N38}${(i + 1) % 10}` })], // only the 38th digit differs
    ['ss', (raw) => ({ SS: [...raw.ss!.SS!.slice(1), 'z'] })], // one element replaced
    ['ns', (_, i) => ({ NS: [String(TWO_64 + BigInt(i) + 1n), '-1.5'] })], // one number, beyond a double
    ['bin', (_, i) => ({ B: Uint8Array.from([0, 255, i % 256, 129]) })],
  ];
  const changed = items
    .map((raw, i) => [raw, i] as const)
    .filter(([, i]) => i % every === 4)
    .slice(0, count)
    .map(([raw, i], n) => {
      const [name, value] = changes[n % changes.length]!;
      planted.attributes[stored(raw)] = [name];
      return { ...raw, [name]: value(raw, i) };
    });
  await writeRaw(b, changed);
  planted.different = changed.map(stored).sort();
  const extras = Array.from({ length: count }, (_, n) => ({
    ...item(size + n),
    pk: { S: `extra${n}-𝄞` },
    sk: { N: String(TWO_64 * 1000n + BigInt(n)) },
  }));
  await writeRaw(b, extras);
  planted.extra = extras.map(stored).sort();
  return { a, b, planted };
}

const queueArgs = (queue: string) => ['--redis', redisUrl, '--queue', queue];

/** A worker process, resolved once it takes units. */
async function startWorker(queue: string) {
  const worker = startCli(['worker', ...queueArgs(queue), '--endpoint', endpoint, '--lock-seconds', '3', '--save-ms', '50']);
  await new Promise<void>((resolve, reject) => {
    let text = '';
    worker.child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('taking units from queue')) resolve();
    });
    worker.done.then((r) => reject(new Error(`the worker exited: ${r.stderr}`)), reject);
  });
  return worker;
}

/** `status --json`'s diff part. */
interface DiffStatusJson {
  equal: boolean | null;
  complete: boolean;
  missing: number;
  different: number;
  extra: number | null;
  failed: number;
  extraKeysListed: boolean;
  read: number;
  compared: number;
  toRead: number;
  firstDifferences: DiffRecord[];
}

/** The stored keys of the records of one kind, sorted. */
const keysOf = (records: DiffRecord[], kind: DiffRecord['kind']) =>
  records
    .filter((r) => r.kind === kind)
    .map((r) => JSON.stringify(r.key))
    .sort();

async function submitDiff(a: string, b: string, queue: string, more: string[] = []): Promise<string> {
  const submitted = await runCli(['submit', 'diff', '--from', a, '--to', b, '--endpoint', endpoint, ...queueArgs(queue), ...more]);
  expect(submitted.code, submitted.stderr).toBe(0);
  return submitted.stdout.trim();
}

describe('diff units: the plain parts', () => {
  it('should keep a cursor with its phase and every digit of its key, apart from any attribute name', () => {
    const startKey = { phase: { S: 'x' }, sk: { N: String(TWO_63 + 1n) }, 'key.b': { B: 'AP8=' } };
    const cursor = storeDiffCursor({ phase: 'B', startKey });
    expect(cursor).toEqual({
      phase: { S: 'B' },
      'key.phase': { S: 'x' },
      'key.sk': { N: '9223372036854775809' },
      'key.key.b': { B: 'AP8=' },
    });
    expect(loadDiffCursor(JSON.parse(JSON.stringify(cursor)), 'unit 1')).toEqual({ phase: 'B', startKey });
    expect(loadDiffCursor(storeDiffCursor({ phase: 'B' }), 'unit 1')).toEqual({ phase: 'B' });
    expect(loadDiffCursor(undefined, 'unit 1')).toEqual({ phase: 'A' });
    expect(() => loadDiffCursor({ pk: { S: 'a' } }, 'diff unit 3')).toThrow(/diff unit 3.*"pk"/);
    expect(() => loadDiffCursor({ phase: { S: 'C' } }, 'diff unit 3')).toThrow(/diff unit 3/);
  });

  it('should move the cursor past a page only once it and every page before it are settled, in order', () => {
    const settled: PendingPage[] = [];
    const moves: Array<string | undefined> = [];
    const ledger = new PageLedger(
      (p) => settled.push(p),
      (key) => moves.push(key?.k as string | undefined),
    );
    const p1 = ledger.add(2, { k: '1' });
    const p2 = ledger.add(1, { k: '2' });
    ledger.settle(p2); // before p1: nothing moves
    expect(moves).toEqual([]);
    ledger.settle(p1);
    expect(moves).toEqual([]);
    ledger.settle(p1); // p1, then p2 at once: one move, to p2's key
    expect(moves).toEqual(['2']);
    expect(settled).toEqual([p1, p2]);
    ledger.add(0, { k: '3' }); // an empty page settles as it comes
    expect(moves).toEqual(['2', '3']);
    const last = ledger.add(1, undefined);
    ledger.settle(last);
    expect(moves).toEqual(['2', '3', undefined]); // the end of the segment
  });
});

describe('diff units: runDiffUnit on DynamoDB Local', () => {
  it('should find the same differences, each once, when stopped and gone on from its last saved cursor, at any point', async () => {
    // dense differences: nearly every page has some, so a record or count handed out before its page is settled shows
    const { a, b, planted } = await plantedTables('duRun', 30, 11, 1000);
    const unit: WorkUnit = {
      jobId: 'diff-test',
      kind: 'diff',
      from: a,
      to: b,
      segment: 1,
      totalSegments: 2,
      options: { key: ['pk', 'sk'], fromKey: ['pk', 'sk'], pageSize: 20 },
    };
    const lines = (records: DeadLetterRecord[]) => records.map((r) => JSON.stringify(r)).sort();
    // the whole segment at once
    const all: DeadLetterRecord[] = [];
    const whole = await runDiffUnit(unit, { client, onDeadLetter: (r) => all.push(r) });
    expect(whole.outcome).toBe('complete');
    expect(whole.position).toEqual({ done: true });
    const counts = (whole.tally as UnitTally).counts as unknown as DiffCounts;
    expect(counts.missing + counts.different + counts.extra).toBe(all.length);
    expect(all.length).toBeGreaterThan(30 * 3 * 0.3);
    expect(counts.failed).toBe(0);

    // stopped after the n-th move of its cursor, at once: only what was handed out up to the last move is "saved"
    for (const stopAt of [1, 7, 20, 30, 45]) {
      const saved: DeadLetterRecord[] = [];
      const handed: DeadLetterRecord[] = [];
      let savedPosition: UnitPosition | undefined;
      let savedTally: UnitTally | undefined;
      let moves = 0;
      const stop = new AbortController();
      const first = await runDiffUnit(unit, {
        client,
        signal: stop.signal,
        onDeadLetter: (r) => handed.push(r),
        onCursor: (position, tally) => {
          if (stop.signal.aborted) return;
          saved.push(...handed.splice(0));
          savedPosition = position;
          savedTally = structuredClone(tally as UnitTally);
          if (++moves === stopAt) stop.abort();
        },
      });
      expect(first.outcome, `stopped at move ${stopAt}`).toBe('interrupted');
      expect(savedPosition!.done).toBe(false);
      const rest: DeadLetterRecord[] = [];
      const second = await runDiffUnit({ ...unit, cursor: savedPosition!.cursor! }, { client, onDeadLetter: (r) => rest.push(r) });
      expect(second.position).toEqual({ done: true });
      expect(lines([...saved, ...rest]), `stopped at move ${stopAt}`).toEqual(lines(all));
      const restCounts = (second.tally as UnitTally).counts!;
      for (const [name, n] of Object.entries(counts))
        expect(savedTally!.counts![name]! + restCounts[name]!, `${name}, stopped at move ${stopAt}`).toBe(n);
      expect(savedTally!.read + second.tally.read).toBe(whole.tally.read);
    }
    // and the segment's differences are planted ones, the other segment holding the rest
    const other = await runDiffUnit({ ...unit, segment: 0 }, { client, onDeadLetter: (r) => all.push(r) });
    expect(other.position).toEqual({ done: true });
    const records = all as DiffRecord[];
    expect(keysOf(records, 'missing')).toEqual(planted.missing);
    expect(keysOf(records, 'different')).toEqual(planted.different);
    expect(keysOf(records, 'extra')).toEqual(planted.extra);
    for (const r of records.filter((r) => r.kind === 'different')) expect(r.attributes).toEqual(planted.attributes[JSON.stringify(r.key)]);
  }, 120_000);
});

describe('rxjs-dynamodb submit diff / worker / status', () => {
  let a: string;
  let b: string;
  let planted: Planted;
  beforeAll(async () => {
    ({ a, b, planted } = await plantedTables('duCli', 3, 997));
  }, 120_000);

  it('should refuse a diff it cannot cut into units, naming why: other keys (2), a missing table (3), a flag of another job (2)', async () => {
    const queue = `diff-refuse-${Date.now().toString(36)}`;
    const other = uniqueTable('duOtherKey');
    await client.send(
      new CreateTableCommand({
        TableName: other,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      }),
    );
    const submit = (more: string[]) => runCli(['submit', 'diff', '--endpoint', endpoint, ...queueArgs(queue), ...more]);
    const keys = await submit(['--from', a, '--to', other]);
    expect(keys.code, keys.stderr).toBe(2);
    expect(keys.stderr).toContain(`${a} (pk:S, sk:N) and ${other} (pk:S) have different keys: give --transform`);
    const gone = await submit(['--from', a, '--to', 'noSuchTable']);
    expect(gone.code, gone.stderr).toBe(3);
    expect(gone.stderr).toContain('table noSuchTable does not exist');
    const filter = await submit(['--from', a, '--to', b, '--filter', 'attribute_exists(pk)']);
    expect(filter.code, filter.stderr).toBe(2);
    expect(filter.stderr).toContain('submit diff: --filter is not an option of a diff');
    const output = await submit(['--from', a, '--to', b, '--output', '/tmp/nowhere']);
    expect(output.code, output.stderr).toBe(2);
    expect(output.stderr).toContain('submit diff: --output is not an option of a diff');
    const to = await submit(['--from', a]);
    expect(to.code).toBe(2);
    expect(to.stderr).toContain('submit diff: needs --to');
    expect(await new Queue(queue, { connection: redis }).count()).toBe(0); // nothing was enqueued
  }, 60_000);

  it('should say equal (exit 0) of two equal tables, compared by 2 worker processes', async () => {
    const [a2, b2] = await Promise.all([table('duEqA'), table('duEqB')]);
    const items = Array.from({ length: ITEMS }, (_, i) => item(i));
    await Promise.all([writeRaw(a2, items), writeRaw(b2, items)]);
    const queue = `diff-eq-${Date.now().toString(36)}`;
    const workers = await Promise.all([startWorker(queue), startWorker(queue)]);
    const started = Date.now();
    const jobId = await submitDiff(a2, b2, queue, ['--segments', '16', '--page-size', '50']);
    expect(jobId).toMatch(/^diff-/);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.3', '--json']);
    process.stderr.write(
      `diff units: ${ITEMS} items of A and ${ITEMS} of B in 16 units on 2 workers: ${Date.now() - started} ms from submit to status\n`,
    );
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect((await w.done).code).toBe(0);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const summary = jsonSummary(status.stdout) as { done: number; failed: number; workers: number; diff: DiffStatusJson };
    expect(summary).toMatchObject({ done: 16, failed: 0, workers: 2 });
    expect(summary.diff).toMatchObject({ equal: true, complete: true, missing: 0, different: 0, extra: 0, failed: 0 });
    expect(summary.diff).toMatchObject({ read: ITEMS, compared: ITEMS, toRead: ITEMS, firstDifferences: [] });
    const human = await runCli(['status', jobId, ...queueArgs(queue)]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`diff ${a2} -> ${b2}: 16 units: 16 done, 0 running, 0 waiting, 0 failed; equal`);
  }, 120_000);

  it('should list exactly the planted differences (exit 1): missing, different in one attribute, extra', async () => {
    const queue = `diff-ne-${Date.now().toString(36)}`;
    const workers = await Promise.all([startWorker(queue), startWorker(queue)]);
    const jobId = await submitDiff(a, b, queue, ['--segments', '8', '--page-size', '100']);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.3', '--json']);
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) await w.done;
    expect(status.code, status.stdout + status.stderr).toBe(1);
    const { diff, done } = jsonSummary(status.stdout) as { done: number; diff: DiffStatusJson };
    expect(done).toBe(8); // differences do not fail a unit
    expect(diff).toMatchObject({ equal: false, complete: true, missing: 3, different: 3, extra: 3, failed: 0 });
    expect(diff).toMatchObject({ read: ITEMS, compared: ITEMS, toRead: ITEMS });
    expect(diff.firstDifferences).toHaveLength(9);
    expect(keysOf(diff.firstDifferences, 'missing')).toEqual(planted.missing);
    expect(keysOf(diff.firstDifferences, 'different')).toEqual(planted.different);
    expect(keysOf(diff.firstDifferences, 'extra')).toEqual(planted.extra);
    const attributes = Object.fromEntries(
      diff.firstDifferences.filter((d) => d.kind === 'different').map((d) => [JSON.stringify(d.key), d.attributes]),
    );
    expect(attributes).toEqual(planted.attributes);
    expect(Object.values(attributes).sort()).toEqual([['n38'], ['ns'], ['ss']]);

    const human = await runCli(['status', jobId, ...queueArgs(queue)]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('not equal: 3 missing, 3 extra, 3 different');
    for (const key of [...planted.missing, ...planted.different, ...planted.extra]) expect(human.stdout).toContain(key);
  }, 120_000);

  it('should finish the units of a diff whose transform throws for an item, counting extras without keys', async () => {
    const dir = tempDir();
    const transform = join(dir, 'transform.mjs');
    const bad = String(TWO_63 + 5n);
    // the item of A is what B should hold, except that one throws (its sort key, a bigint, by its digits)
    writeFileSync(
      transform,
      `export default (item) => { if (String(item.sk) === '${bad}') throw new Error('refused ${bad}'); return item; };\n`,
    );
    const queue = `diff-tr-${Date.now().toString(36)}`;
    const workers = await Promise.all([startWorker(queue), startWorker(queue)]);
    const jobId = await submitDiff(a, b, queue, ['--segments', '4', '--page-size', '200', '--transform', transform]);
    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.3', '--json']);
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) await w.done;
    expect(status.code, status.stdout + status.stderr).toBe(1);
    const { diff, done, failed } = jsonSummary(status.stdout) as { done: number; failed: number; diff: DiffStatusJson };
    // an item that could not be compared is a finding of the diff, not a failure of its unit
    expect({ done, failed }).toEqual({ done: 4, failed: 0 });
    // B's 3000 items less the 2996 found: the 3 extras, and the item of the one that threw (as diff counts them)
    expect(diff).toMatchObject({ missing: 3, different: 3, failed: 1, extra: 4, extraKeysListed: false, compared: ITEMS - 1 });
    const thrown = diff.firstDifferences.filter((d) => d.kind === 'failed');
    expect(thrown.map((d) => JSON.stringify(d.key))).toEqual([JSON.stringify({ pk: { S: 'p5-😀𝄞' }, sk: { N: bad } })]);
    expect(thrown[0]!.error.message).toContain(`the transform threw: refused ${bad}`);
    expect(keysOf(diff.firstDifferences, 'extra')).toEqual([]);
  }, 120_000);

  it('should find exactly the same differences when a worker is SIGKILLed mid-unit and the unit goes on from its cursor', async () => {
    const { a: a3, b: b3, planted: dense } = await plantedTables('duKill', 40, 23);
    const queue = `diff-kill-${Date.now().toString(36)}`;
    const workers = await Promise.all([startWorker(queue), startWorker(queue)]);
    const jobId = await submitDiff(a3, b3, queue, ['--segments', '2', '--page-size', '20', '--capacity', '400']);
    const bull = new Queue<UnitData>(queue, { connection: redis });
    const pids = new Set(workers.map((w) => w.child.pid!));
    let victim: { segment: number; pid: number; cursor: unknown } | undefined;
    const deadline = Date.now() + 60_000;
    while (!victim && Date.now() < deadline) {
      for (const job of await bull.getJobs(['active'])) {
        const run = job.data.runs?.at(-1);
        const counts = run?.counts;
        // well into phase A, with some differences kept already
        if (job.data.cursor && run && pids.has(run.pid) && run.read > 300 && counts && counts.missing! + counts.different! > 0) {
          victim = { segment: job.data.segment, pid: run.pid, cursor: job.data.cursor };
          break;
        }
      }
      if (!victim) await sleep(10);
    }
    if (!victim) throw new Error('no diff unit well under way to kill within 60 s');
    const killed = workers.find((w) => w.child.pid === victim!.pid)!;
    killed.child.kill('SIGKILL');
    expect((await killed.done).signal).toBe('SIGKILL');

    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.3', '--json']);
    for (const w of workers) if (w !== killed) w.child.kill('SIGTERM');
    for (const w of workers) await w.done;
    await bull.close();
    expect(status.code, status.stdout + status.stderr).toBe(1);
    const summary = jsonSummary(status.stdout) as {
      diff: DiffStatusJson;
      unitStatus: Array<{ segment: number; runs: NonNullable<UnitData['runs']> }>;
    };
    // counted once each: the killed run's counts end at its saved cursor, the next run's start there
    expect(summary.diff).toMatchObject({ missing: 40, different: 40, extra: 40, failed: 0, read: ITEMS, compared: ITEMS });
    expect(summary.diff.toRead).toBe(ITEMS);
    const runs = summary.unitStatus.find((u) => u.segment === victim!.segment)!.runs;
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]!.pid).toBe(victim.pid);
    expect(runs[1]!.startCursor).not.toBeNull();
    // the lists hold exactly the planted differences (a line kept twice by a worker killed between the list and the
    // cursor would be the same line: status shows each once)
    const records = (await Promise.all([0, 1].map((s) => redis.lrange(deadLetterKey(queue, jobId, s), 0, -1)))).flat();
    const unique = [...new Set(records)].map((l) => JSON.parse(l) as DiffRecord);
    expect(keysOf(unique, 'missing')).toEqual(dense.missing);
    expect(keysOf(unique, 'different')).toEqual(dense.different);
    expect(keysOf(unique, 'extra')).toEqual(dense.extra);
    const scanned = await client.send(new ScanCommand({ TableName: b3, Select: 'COUNT' }));
    expect(scanned.Count).toBe(ITEMS);
  }, 180_000);
});
