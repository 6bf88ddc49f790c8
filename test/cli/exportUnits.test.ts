/**
 * Issue 14 for export: a table's parallel-scan segments, each a work unit writing its own part file, its cursor the
 * segment's key and the part's length together. First `runExportUnit` itself against DynamoDB Local (stopped, its part
 * grown past the cursor as a SIGKILL in the middle of a write leaves it, then run again); then whole jobs on BullMQ,
 * against DynamoDB Local and the Redis of the global setup, one worker SIGKILLed mid-unit.
 */
import { type AttributeValue, BatchWriteItemCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { isLosslessNumber, type LosslessNumber, parse } from 'lossless-json';
import { capacity } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDynamoJsonItem } from '../../src/cli/dynamoJson.js';
import { CLAIM_FILE, partCursor, partName, readPartCursor, runExportUnit } from '../../src/cli/exportUnits.js';
import { parseJsonItem, toJsonLine } from '../../src/cli/json.js';
import type { UnitData } from '../../src/cli/unitQueue.js';
import { advanceUnit, makeUnits, runUnit, type UnitPosition, type WorkUnit } from '../../src/cli/units.js';
import { canonicalNumber } from '../../src/internal/numbers.js';
import { exactUnmarshall } from '../../src/internal/unmarshal.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

type Raw = Record<string, AttributeValue>;
type Format = 'ndjson' | 'dynamodb-json';

afterAll(() => removeTempDirs());

/** 38 significant digits, an integer (a sort key: the cursor must keep every digit). */
const sk38 = (i: number) => (3n * 10n ** 37n + BigInt(i) * 1_000_003n).toString();
/** 38 significant digits with a decimal point, none of them a zero at either end. */
const dec38 = (i: number) => `${1 + (i % 9)}${String(i).padStart(27, '7')}.${String(i * 31).padStart(9, '3')}1`;
/** An item of every type: non-BMP text in the key, 64-bit and 38-digit numbers, sets, binary, nesting. */
const itemOf = (i: number): Raw => ({
  pk: { S: `𝄞 part ${i % 300} 😀` },
  sk: { N: sk38(i) },
  id: { N: (2n ** 63n + BigInt(i) * 7919n).toString() },
  dec: { N: dec38(i) },
  neg: { N: `-${dec38(i + 1)}` },
  small: { N: '-0.5' },
  text: { S: `héllo 😀 𝄞 "q" \\ \u0001 ${i} ${'x'.repeat(i % 300)}` },
  tags: { SS: ['a😀', `t${i}`, 'z'] },
  nums: { NS: ['1', sk38(i), '-0.5'] },
  bin: { B: Uint8Array.from({ length: 1 + (i % 40) }, (_, k) => (i * 7 + k * 13) & 255) },
  bins: { BS: [Uint8Array.of(0, i & 255), Uint8Array.of(255, 1, 2, (i >> 8) & 255)] },
  nested: { M: { l: { L: [{ N: dec38(i) }, { S: '𝄞' }, { BOOL: true }, { NULL: true }] }, empty: { S: '' } } },
});
const SETS = ['tags', 'nums', 'bins'];
const keyText = (item: { pk?: unknown; sk?: unknown }) => `${String(item.pk)}|${String(item.sk)}`;
const rawKey = (item: Raw) => keyText({ pk: item.pk!.S, sk: canonicalNumber(item.sk!.N!) });

/** `count` items written as raw AttributeValues (every digit as written), 8 calls at once. */
async function seed(client: DynamoDBClient, table: string, count: number): Promise<void> {
  const batches = Array.from({ length: Math.ceil(count / 25) }, (_, b) =>
    Array.from({ length: Math.min(25, count - b * 25) }, (_, k) => itemOf(b * 25 + k)),
  );
  for (let at = 0; at < batches.length; at += 8)
    await Promise.all(
      batches.slice(at, at + 8).map(async (batch) => {
        const out = await client.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: batch.map((Item) => ({ PutRequest: { Item } })) } }),
        );
        expect(Object.keys(out.UnprocessedItems ?? {})).toHaveLength(0);
      }),
    );
}

/** The raw items of a table (or of one segment, from `start`), as DynamoDB holds them. */
async function scanRaw(client: DynamoDBClient, table: string, segment?: { segment: number; total: number; start?: Raw }) {
  const items: Raw[] = [];
  let ExclusiveStartKey = segment?.start;
  const segments = segment && segment.total > 1 ? { Segment: segment.segment, TotalSegments: segment.total } : {};
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ...segments, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

const b64 = (b: Uint8Array | string) => (typeof b === 'string' ? b : Buffer.from(b).toString('base64'));

/** An AttributeValue (raw, or DynamoDB JSON's with base64 binary) as comparable JSON: numbers canonical, sets sorted. */
function canon(av: Record<string, unknown>): unknown {
  const [type, v] = Object.entries(av)[0]!;
  switch (type) {
    case 'N':
      return { N: canonicalNumber(v as string) };
    case 'B':
      return { B: b64(v as Uint8Array) };
    case 'SS':
      return { SS: [...(v as string[])].sort() };
    case 'NS':
      return { NS: (v as string[]).map(canonicalNumber).sort() };
    case 'BS':
      return { BS: (v as Uint8Array[]).map(b64).sort() };
    case 'M':
      return { M: canonItem(v as Record<string, Record<string, unknown>>) };
    case 'L':
      return { L: (v as Record<string, unknown>[]).map(canon) };
    default:
      return { [type]: v };
  }
}
const canonItem = (item: Record<string, Record<string, unknown>>) =>
  Object.fromEntries(Object.entries(item).map(([k, v]) => [k, canon(v)]));

/** What plain JSON of a raw value is: numbers as their canonical digits, sets as sorted arrays, binary as base64. */
function plainOf(av: AttributeValue): unknown {
  if (av.N !== undefined) return `#N ${canonicalNumber(av.N)}`;
  if (av.B !== undefined) return b64(av.B);
  if (av.SS) return [...av.SS].sort();
  if (av.NS) return av.NS.map((n) => `#N ${canonicalNumber(n)}`).sort();
  if (av.BS) return av.BS.map(b64).sort();
  if (av.M) return Object.fromEntries(Object.entries(av.M).map(([k, v]) => [k, plainOf(v)]));
  if (av.L) return av.L.map(plainOf);
  if (av.NULL) return null;
  return av.S ?? av.BOOL;
}
/** A line of plain JSON as the same comparable value (lossless-json: each number's digits as written). */
function plainLine(line: string): Record<string, unknown> {
  const walk = (v: unknown): unknown =>
    isLosslessNumber(v)
      ? `#N ${canonicalNumber((v as LosslessNumber).value)}`
      : Array.isArray(v)
        ? v.map(walk)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, e]) => [k, walk(e)]))
          : v;
  const item = walk(parse(line)) as Record<string, unknown>;
  for (const name of SETS) if (Array.isArray(item[name])) (item[name] as unknown[]).sort();
  return item;
}

/**
 * Checks that `lines` hold each of `expected` exactly once and nothing else, each equal to the table's item: by its
 * text (numbers' digits, sets, binary) and by the project's own readers (what `import` gives back).
 */
function expectExactly(lines: string[], expected: Raw[], format: Format): void {
  const byKey = new Map(expected.map((item) => [rawKey(item), item]));
  expect(byKey.size).toBe(expected.length);
  const seen = new Set<string>();
  for (const line of lines) {
    if (format === 'dynamodb-json') {
      const { Item } = JSON.parse(line) as { Item: Record<string, Record<string, unknown>> };
      const key = keyText({ pk: Item.pk!.S, sk: canonicalNumber(Item.sk!.N as string) });
      const raw = byKey.get(key);
      expect(raw, `an item not in the table: ${line.slice(0, 80)}`).toBeDefined();
      expect(seen.has(key), `twice: ${key}`).toBe(false);
      seen.add(key);
      expect(canonItem(Item)).toEqual(canonItem(raw as unknown as Record<string, Record<string, unknown>>));
      expect(Item.sk!.N).toBe(raw!.sk!.N); // the 38 digits as DynamoDB holds them
      expect(parseDynamoJsonItem(line)).toEqual(exactUnmarshall(raw!));
    } else {
      const item = plainLine(line);
      const key = keyText({ pk: item.pk, sk: String(item.sk).slice(3) });
      const raw = byKey.get(key);
      expect(raw, `an item not in the table: ${line.slice(0, 80)}`).toBeDefined();
      expect(seen.has(key), `twice: ${key}`).toBe(false);
      seen.add(key);
      expect(item).toEqual(Object.fromEntries(Object.entries(raw!).map(([k, v]) => [k, plainOf(v)])));
      expect(toJsonLine(parseJsonItem(line))).toBe(line); // import's reader gives back what was written
    }
  }
  expect(seen.size).toBe(expected.length);
}

const linesOf = (path: string) => {
  const text = readFileSync(path, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true); // whole lines
  return text.split('\n').filter((l) => l !== '');
};

/** DIR claimed for an export of `table`, as submit does. */
function claim(dir: string, table: string, format: Format): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CLAIM_FILE), JSON.stringify({ command: 'export', table, format, createdAt: new Date().toISOString() }));
}

describe('export units: part files and cursors (issue 14)', () => {
  it('should name a part by its segment, zero-padded to the width of the number of units, and by its format', () => {
    expect(partName(3, 8, 'ndjson')).toBe('part-3.ndjson');
    expect(partName(3, 10, 'ndjson')).toBe('part-03.ndjson');
    expect(partName(31, 32, 'dynamodb-json')).toBe('part-31.json');
    expect(partName(7, 1000, 'dynamodb-json')).toBe('part-0007.json');
  });

  it("should keep a cursor's key (38 digits, binary, non-BMP text) and the part's length exactly, and refuse one that is not", () => {
    const key = { pk: { S: '𝄞😀' }, sk: { N: '12345678901234567890123456789012345678' }, b: { B: 'AP8=' } };
    const cursor = partCursor({ key, bytes: 2 ** 40 });
    expect(cursor).toEqual({ key: { M: key }, bytes: { N: '1099511627776' } });
    expect(readPartCursor(JSON.parse(JSON.stringify(cursor)))).toEqual({ key, bytes: 2 ** 40 });
    expect(readPartCursor(undefined)).toBeUndefined();
    expect(() => partCursor({ key, bytes: -1 })).toThrow('got -1');
    for (const bad of [{ offset: { N: '5' } }, { key: { M: key }, bytes: { N: '1.5' } }, { key: { S: 'x' }, bytes: { N: '5' } }, key])
      expect(() => readPartCursor(bad as never, 'unit 4')).toThrow(/the cursor of unit 4 must be/);
  });
});

describe('runExportUnit on DynamoDB Local (issue 14)', () => {
  const ITEMS = 3_000;
  let client: DynamoDBClient;
  let table: string;
  beforeAll(async () => {
    client = localClient(inject('dynamoEndpoint'));
    table = await createTable(client, uniqueTable('exportUnit'), { sortKey: 'N' });
    await seed(client, table, ITEMS);
  }, 120_000);
  afterAll(() => client?.destroy());

  const unitFor = (dir: string, format: Format, jobId = `export-${format}`): WorkUnit =>
    makeUnits({ jobId, kind: 'export', from: table, to: dir, totalSegments: 3, options: { key: ['pk', 'sk'], pageSize: 40, format } })[1]!;

  for (const format of ['ndjson', 'dynamodb-json'] as const)
    it(`should stop at a cursor, then cut its part back to the cursor's length and go on: each item of its segment once, exactly (${format})`, async () => {
      const dir = join(tempDir(), 'out');
      claim(dir, table, format);
      const unit = unitFor(dir, format);
      const part = join(dir, partName(1, 3, format));
      const stop = new AbortController();
      const saved: UnitPosition[] = [];
      const first = await runUnit(unit, {
        client,
        signal: stop.signal,
        onCursor: (position) => {
          saved.push(position);
          if (saved.length === 6) stop.abort();
        },
      });
      expect(first.outcome).toBe('interrupted');
      expect(first.position).toEqual(saved.at(-1));
      const at = readPartCursor(first.position.cursor)!;
      expect(at.key.sk).toEqual({ N: expect.stringMatching(/^\d{38}$/) }); // the LastEvaluatedKey, every digit
      expect(at.bytes).toBeGreaterThan(0);
      expect(first.tally.written).toBe(6 * 40);
      expect(statSync(part).size).toBe(at.bytes);
      // each cursor: the part's length when its key was reached
      expect(saved.map((p) => readPartCursor(p.cursor)!.bytes)).toEqual(
        [...saved.map((p) => readPartCursor(p.cursor)!.bytes)].sort((a, b) => a - b),
      );

      // a SIGKILL in the middle of a write leaves the lines of a page past the cursor, the last one cut
      appendFileSync(part, `${readFileSync(part, 'utf8').split('\n')[0]}\n{"pk":"𝄞 half`);
      const second = await runUnit(advanceUnit(unit, first.position), { client });
      expect(second).toMatchObject({ outcome: 'complete', position: { done: true } });
      const segment = await scanRaw(client, table, { segment: 1, total: 3 });
      const after = await scanRaw(client, table, { segment: 1, total: 3, start: at.key as Raw });
      expect(after.length).toBeLessThan(segment.length);
      expect(second.tally).toMatchObject({ read: after.length, written: after.length }); // nothing before the cursor again
      expectExactly(linesOf(part), segment, format);
      // another unit's part is not touched
      expect(readdirSync(dir).sort()).toEqual([CLAIM_FILE, partName(1, 3, format)].sort());
    });

  it('should start a unit without a cursor on an empty part, and write a part shorter than its cursor again from the start', async () => {
    const dir = join(tempDir(), 'out');
    claim(dir, table, 'ndjson');
    const unit = unitFor(dir, 'ndjson');
    const part = join(dir, partName(1, 3, 'ndjson'));
    writeFileSync(part, '{"pk":"left over from an earlier run"}\n');
    const segment = await scanRaw(client, table, { segment: 1, total: 3 });
    const whole = await runExportUnit(unit, { client });
    expect(whole).toMatchObject({ outcome: 'complete', tally: { read: segment.length, written: segment.length } });
    expectExactly(linesOf(part), segment, 'ndjson');

    let cursor: UnitPosition | undefined;
    const stop = new AbortController();
    await runExportUnit(unit, {
      client,
      signal: stop.signal,
      onCursor: (p) => {
        cursor = p;
        stop.abort();
      },
    });
    const { bytes } = readPartCursor(cursor!.cursor)!;
    truncateSync(part, bytes - 10); // the part lost writes the cursor counts on
    const again = await runExportUnit(advanceUnit(unit, cursor!), { client });
    expect(again).toMatchObject({ outcome: 'complete', tally: { written: segment.length } });
    expectExactly(linesOf(part), segment, 'ndjson');
  });

  it("should scan no faster than the shared read budget (capacity.read), else the unit's own capacity", async () => {
    // what the segment's pages cost: the same Scan, Limit 40, with ReturnConsumedCapacity
    let units = 0;
    let most = 0;
    let ExclusiveStartKey: Raw | undefined;
    do {
      const page = await client.send(
        new ScanCommand({ TableName: table, Segment: 1, TotalSegments: 3, Limit: 40, ReturnConsumedCapacity: 'TOTAL', ExclusiveStartKey }),
      );
      units += page.ConsumedCapacity!.CapacityUnits!;
      most = Math.max(most, page.ConsumedCapacity!.CapacityUnits!);
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    const rate = Math.ceil(units / 3); // about 3 s of reading
    const least = ((units - most) / rate) * 1000 * 0.9;
    // a budget made by the unit itself (`capacity()`'s default) may spend 1 s of unspent units at once
    const leastOwn = least - 1000;
    const timed = async (unit: WorkUnit, read?: ReturnType<typeof capacity>) => {
      const t = Date.now();
      const result = await runExportUnit(unit, { client, ...(read ? { capacity: { read } } : {}) });
      expect(result.outcome).toBe('complete');
      return Date.now() - t;
    };
    const dir = join(tempDir(), 'out');
    claim(dir, table, 'ndjson');
    const unit = unitFor(dir, 'ndjson');
    const free = await timed(unit);
    const shared = await timed(unit, capacity({ unitsPerSecond: rate, burstSeconds: 0 }));
    const own = await timed({ ...unit, options: { ...unit.options, capacity: rate } });
    expect(shared).toBeGreaterThanOrEqual(least);
    expect(own).toBeGreaterThanOrEqual(leastOwn);
    expect(free).toBeLessThan(shared); // the budget is what takes the time
    process.stderr.write(
      `export unit: ${units} read units; ${free} ms unlimited, ${shared} ms shared budget, ${own} ms own (${rate} u/s)\n`,
    );
  });

  it('should export only the items its filter matches, the values every digit kept', async () => {
    const dir = join(tempDir(), 'out');
    claim(dir, table, 'dynamodb-json');
    const k = sk38(1_234);
    const unit = unitFor(dir, 'dynamodb-json');
    const filtered = { ...unit, options: { ...unit.options, filter: '#s < :k', names: { '#s': 'sk' }, values: `{":k":${k}}` } };
    const result = await runExportUnit(filtered, { client });
    const expected = (await scanRaw(client, table, { segment: 1, total: 3 })).filter((item) => BigInt(item.sk!.N!) < BigInt(k));
    expect(expected.length).toBeGreaterThan(100);
    expect(result.tally.written).toBe(expected.length);
    expectExactly(linesOf(join(dir, partName(1, 3, 'dynamodb-json'))), expected, 'dynamodb-json');
  });

  it('should refuse a unit whose folder submit did not claim (not shared with this worker), or claimed for another export, naming it', async () => {
    const dir = join(tempDir(), 'out');
    mkdirSync(dir);
    const unit = unitFor(dir, 'ndjson', 'export-x');
    await expect(runExportUnit(unit, { client })).rejects.toThrow(
      `export unit 1 of export-x: ${join(dir, CLAIM_FILE)} is not on this worker: the --output folder of an export job (made by submit) must be one folder shared by every worker`,
    );
    claim(dir, 'anotherTable', 'ndjson');
    await expect(runExportUnit(unit, { client })).rejects.toThrow(`was claimed for an export of anotherTable (ndjson), not of ${table}`);
    claim(dir, table, 'dynamodb-json');
    await expect(runExportUnit(unit, { client })).rejects.toThrow('another export uses that folder');
    expect(existsSync(join(dir, partName(1, 3, 'ndjson')))).toBe(false);
    await expect(runExportUnit({ ...unit, cursor: { offset: { N: '5' } } }, { client })).rejects.toThrow('the cursor of export unit 1');
  });
});

describe('rxjs-dynamodb submit export / worker / status (issue 14)', () => {
  const ITEMS = Number(process.env.EXPORT_UNITS_ITEMS ?? 4_000);
  const UNITS = 8;
  let client: DynamoDBClient;
  let endpoint: string;
  let redisUrl: string;
  let redis: Redis;
  let table: string;
  beforeAll(async () => {
    endpoint = inject('dynamoEndpoint');
    redisUrl = inject('redisUrl');
    client = localClient(endpoint);
    redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    table = await createTable(client, uniqueTable('exportUnits'), { sortKey: 'N' });
    await Promise.all([seed(client, table, ITEMS), ensureBuilt()]);
  }, 180_000);
  afterAll(() => {
    client?.destroy();
    redis?.disconnect();
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const queueArgs = (queue: string) => ['--redis', redisUrl, '--queue', queue];

  it('should refuse bad flags with exit 2, saying what is wrong, before anything is made', async () => {
    const dir = tempDir();
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const used = join(dir, 'used');
    mkdirSync(used);
    writeFileSync(join(used, 'part-03.ndjson'), '{}\n');
    const base = ['submit', 'export', '--endpoint', endpoint, ...queueArgs('export-refused')];
    for (const [args, why] of [
      [['--table', table], 'needs --output <dir>'],
      [['--output', join(dir, 'x')], 'needs --table <name>'],
      [['--table', table, '--output', join(dir, 'out.ndjson.gz')], 'uncompressed'],
      [['--table', table, '--output', file], `--output ${file} is a file`],
      [['--table', table, '--output', used], `--output ${used} holds the files of another export (part-03.ndjson)`],
      [['--table', table, '--output', join(dir, 'x'), '--from', 'A'], '--from is not an option of an export'],
      [['--table', table, '--output', join(dir, 'x'), '--transform', file], '--transform is not an option of an export'],
      [['--table', table, '--output', join(dir, 'x'), '--format', 'csv'], '--format must be ndjson or dynamodb-json, got csv'],
      // a count refused before the folder is claimed: a corrected submit is not refused for a claim left behind
      [['--table', table, '--output', join(dir, 'x'), '--segments', '2000000'], 'must be an integer from 1 to 1000000, got 2000000'],
    ] as const) {
      const run = await runCli([...base, ...args]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(why);
    }
    expect(existsSync(join(dir, 'x'))).toBe(false); // refused before DIR is made
    const missing = await runCli([...base, '--table', 'noSuchTable', '--output', join(dir, 'y')]);
    expect(missing.code, missing.stderr).toBe(3);
    expect(missing.stderr).toContain('table noSuchTable does not exist');
  });

  for (const format of ['ndjson', 'dynamodb-json'] as const) {
    const kill = format === 'ndjson';
    it(`should export ${ITEMS} items in ${UNITS} units on 2 workers${kill ? ', one SIGKILLed mid-unit,' : ''} into part files holding each item once, exactly (${format})`, async () => {
      const cwd = tempDir();
      const dir = join(cwd, 'export'); // made by submit
      const queue = `export-units-${format}-${Date.now().toString(36)}`;
      const submit = [
        'submit',
        'export',
        '--table',
        table,
        '--output',
        'export', // relative: stored absolute
        '--format',
        format,
        '--segments',
        String(UNITS),
        '--page-size',
        '20',
        '--capacity',
        '60', // read units per second, the whole job: slow enough to catch a unit in the middle
        '--endpoint',
        endpoint,
        ...queueArgs(queue),
      ];
      const submitted = await runCli([...submit, '--json'], { cwd });
      expect(submitted.code, submitted.stderr).toBe(0);
      const { jobId } = jsonSummary(submitted.stdout) as { jobId: string };
      expect(jobId).toMatch(/^export-/);
      expect(submitted.stderr).toContain(`cat ${join(dir, 'part-*')}`);
      const t = Date.now();
      const queued = new Queue<UnitData>(queue, { connection: redis });
      expect((await queued.getJob(`${jobId}-0`))!.data).toMatchObject({ kind: 'export', from: table, to: dir, options: { format } });
      await queued.close();

      const workers = Array.from({ length: 2 }, () =>
        startCli(['worker', ...queueArgs(queue), '--endpoint', endpoint, '--concurrency', '2', '--lock-seconds', '4', '--save-ms', '1000']),
      );
      const bull = new Queue<UnitData>(queue, { connection: redis });
      let victim: { segment: number; pid: number; bytes: number; size: number } | undefined;
      if (kill) {
        const pids = new Set(workers.map((w) => w.child.pid!));
        const deadline = Date.now() + 60_000;
        while (!victim && Date.now() < deadline) {
          for (const job of await bull.getJobs(['active'])) {
            const run = job.data.runs?.at(-1);
            if (!job.data.cursor || !run || !pids.has(run.pid)) continue;
            const part = join(dir, partName(job.data.segment, UNITS, format));
            // pages written past the cursor saved last (saved at most every second): what a SIGKILL leaves to cut back
            const past = existsSync(part) && statSync(part).size > readPartCursor(job.data.cursor)!.bytes;
            // (any point mid-unit: a narrower window was missed under load)
            if (past && run.written > 0 && run.written < ITEMS / UNITS) {
              victim = { segment: job.data.segment, pid: run.pid, bytes: 0, size: 0 };
              break;
            }
          }
          if (!victim) await sleep(10);
        }
        if (!victim) throw new Error('no unit with a saved cursor to kill within 60 s');
        const killed = workers.find((w) => w.child.pid === victim!.pid)!;
        killed.child.kill('SIGKILL');
        expect((await killed.done).signal).toBe('SIGKILL');
        // what the dead worker left: its part, longer than the cursor saved last says
        const left = (await bull.getJob(`${jobId}-${victim.segment}`))!.data;
        victim.bytes = readPartCursor(left.cursor)!.bytes;
        victim.size = statSync(join(dir, partName(victim.segment, UNITS, format))).size;
        expect(victim.size).toBeGreaterThan(victim.bytes);
      }

      const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.3', '--json']);
      const ms = Date.now() - t;
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      for (const w of workers) await w.done;
      await bull.close();
      expect(status.code, status.stdout + status.stderr).toBe(0);
      const summary = jsonSummary(status.stdout) as {
        done: number;
        failed: number;
        read: number;
        written: number;
        unitStatus: Array<{ segment: number; runs: NonNullable<UnitData['runs']> }>;
      };
      expect(summary).toMatchObject({ done: UNITS, failed: 0 });
      expect(summary.written).toBeGreaterThanOrEqual(ITEMS);

      // one part per unit, named in order; together, every item of the table once, exactly
      const names = readdirSync(dir)
        .filter((n) => n !== CLAIM_FILE)
        .sort();
      expect(names).toEqual(Array.from({ length: UNITS }, (_, s) => partName(s, UNITS, format)));
      const all = await scanRaw(client, table);
      expect(all).toHaveLength(ITEMS);
      expectExactly(
        names.flatMap((n) => linesOf(join(dir, n))),
        all,
        format,
      );
      // each part is its segment's
      for (const [s, n] of names.entries())
        expect(linesOf(join(dir, n))).toHaveLength((await scanRaw(client, table, { segment: s, total: UNITS })).length);

      if (victim) {
        // the killed unit went on, on the other worker, from its cursor: it wrote the items after it alone
        const runs = summary.unitStatus.find((u) => u.segment === victim!.segment)!.runs;
        expect(runs.length).toBeGreaterThanOrEqual(2);
        expect(runs[0]!.pid).toBe(victim.pid);
        const resumed = runs[1]!;
        expect(resumed.pid).not.toBe(victim.pid);
        const from = readPartCursor(resumed.startCursor as never)!;
        expect(from.bytes).toBe(victim.bytes);
        const after = await scanRaw(client, table, { segment: victim.segment, total: UNITS, start: from.key as Raw });
        expect(resumed.written).toBe(after.length);
      }
      if (format === 'dynamodb-json') {
        // one file is the parts together, read back by import (stdin), every value as it was: diff finds no difference
        const copy = uniqueTable('exportUnitsBack');
        const back = await runCli(
          ['import', '-', '--format', format, '--table', copy, '--create-table', '--key', 'pk:S,sk:N', '--endpoint', endpoint],
          { input: names.map((n) => readFileSync(join(dir, n), 'utf8')).join('') },
        );
        expect(back.code, back.stderr).toBe(0);
        const diff = await runCli(['diff', '--from', table, '--to', copy, '--endpoint', endpoint]);
        expect(diff.code, diff.stdout + diff.stderr).toBe(0);
      }
      const human = await runCli(['status', jobId, ...queueArgs(queue)]);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain(`export items of ${table}: ${UNITS} units: ${UNITS} done, 0 running, 0 waiting, 0 failed`);
      // the folder is this export's: another is refused
      const again = await runCli(submit, { cwd });
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('holds the files of another export');
      process.stderr.write(
        `export units (${format}): ${ITEMS} items, ${UNITS} units on 2 workers in ${ms} ms${
          victim
            ? `; killed unit ${victim.segment} at cursor ${victim.bytes} bytes, its part ${victim.size} bytes (cut back ${victim.size - victim.bytes})`
            : ''
        }\n`,
      );
    }, 300_000);
  }
});
