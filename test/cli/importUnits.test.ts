/**
 * Issue 14 for import: one large NDJSON file cut into byte ranges, each a work unit. The cutting is tested on files
 * of random bytes (fast-check): every line is read exactly once whatever the boundaries; then a whole job on BullMQ,
 * against DynamoDB Local and the Redis of the global setup, one worker killed mid-unit.
 */
import { gzipSync } from 'node:zlib';
import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { byteRanges, cursorOffset, offsetCursor, type OwnedLine, rangeLines } from '../../src/cli/importUnits.js';
import type { UnitData } from '../../src/cli/unitQueue.js';
import { advanceUnit, makeUnits, runUnit, type UnitPosition } from '../../src/cli/units.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

afterAll(() => removeTempDirs());

/** The lines of a file as the whole-file reader sees them: start, the offset after, the text without its line end. */
function linesOf(bytes: Buffer): Array<{ start: number; n: number; text: string }> {
  const lines = [];
  let start = 0;
  for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
    lines.push({ start, n: nl + 1, text: bytes.subarray(start, nl).toString('utf8').replace(/\r$/, '') });
    start = nl + 1;
  }
  if (start < bytes.length) lines.push({ start, n: bytes.length, text: bytes.subarray(start).toString('utf8').replace(/\r$/, '') });
  return lines;
}

async function read(path: string, range: { start: number; end: number }, cursor?: number, chunk?: number) {
  const out: OwnedLine[] = [];
  for await (const batch of rangeLines(path, range, cursor, chunk)) out.push(...batch);
  return out.map(({ start, n, text }) => ({ start, n, text }));
}

/** Each range's lines, one after the other. */
async function readAll(path: string, cuts: number[], chunk?: number) {
  const all = [];
  for (let i = 0; i + 1 < cuts.length; i++) all.push(...(await read(path, { start: cuts[i]!, end: cuts[i + 1]! }, undefined, chunk)));
  return all;
}

describe('import units: cutting a file into byte ranges (issue 14)', () => {
  const dir = tempDir();
  let files = 0;
  const file = (content: string | Buffer) => {
    const path = join(dir, `f${++files}.ndjson`);
    writeFileSync(path, content);
    return path;
  };

  it('should cut a size into ranges that cover it in order, exactly', () => {
    expect(byteRanges(10, 3)).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
      { start: 6, end: 10 },
    ]);
    expect(byteRanges(2, 4).map((r) => r.end - r.start)).toEqual([0, 1, 0, 1]);
    const big = byteRanges(2 ** 52, 7); // size * i passes 2^53: computed exactly
    expect(big[6]!.end).toBe(2 ** 52);
    expect(() => byteRanges(10, 0)).toThrow('got 0');
    expect(() => byteRanges(-1, 2)).toThrow('got -1');
  });

  it('should make one import unit per range, each from the start', () => {
    const units = makeUnits({
      jobId: 'import-1',
      kind: 'import',
      from: '/data/a.ndjson',
      to: 'T',
      totalSegments: 3,
      options: { key: ['pk'], size: 10 },
    });
    expect(units.map((u) => u.range)).toEqual(byteRanges(10, 3));
    expect(units.map((u) => u.segment)).toEqual([0, 1, 2]);
    expect(units.some((u) => 'cursor' in u)).toBe(false);
    expect(() => makeUnits({ jobId: 'i', kind: 'import', from: '/a', to: 'T', totalSegments: 2, options: { key: ['pk'] } })).toThrow(
      'options.size',
    );
  });

  it('should keep a cursor as the digits of a byte offset, and refuse one that is not', () => {
    expect(offsetCursor(12345)).toEqual({ offset: { N: '12345' } });
    expect(cursorOffset(offsetCursor(2 ** 40))).toBe(2 ** 40);
    expect(cursorOffset(undefined)).toBeUndefined();
    expect(() => cursorOffset({ pk: { S: 'x' } })).toThrow('offset');
  });

  it('should read each line once at boundaries inside a line, on a LF, inside a UTF-8 character, and without a final LF', async () => {
    const text = 'ab\n😀é\n\n{"x":1}\r\nlast';
    const path = file(text);
    const whole = linesOf(Buffer.from(text));
    expect(whole.map((l) => l.text)).toEqual(['ab', '😀é', '', '{"x":1}', 'last']);
    const size = Buffer.byteLength(text);
    // every single boundary, each with every chunk size from 1 byte
    for (let cut = 0; cut <= size; cut++)
      for (const chunk of [1, 2, 3, 64]) expect(await readAll(path, [0, cut, size], chunk)).toEqual(whole);
    // the 😀 is bytes 3-6: a boundary at 5 falls inside it, and the line belongs to the range it starts in
    expect((await read(path, { start: 0, end: 5 })).map((l) => l.text)).toEqual(['ab', '😀é']);
    expect((await read(path, { start: 5, end: size })).map((l) => l.text)).toEqual(['', '{"x":1}', 'last']);
    // a boundary right after a LF: the range starts a line itself
    expect((await read(path, { start: 3, end: 4 })).map((l) => l.start)).toEqual([3]);
    expect(await read(path, { start: 4, end: 9 })).toEqual([]);
  });

  it('should read every line of any file exactly once, however it is cut and read (property)', async () => {
    const piece = fc.constantFrom('a', '{"n":1}', ' ', 'é', '€', '😀', '\n', '\n', '\r\n', '\r');
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 40 }).map((p) => p.join('')),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        async (text, points, chunk) => {
          const bytes = Buffer.from(text);
          const path = file(bytes);
          const cuts = [0, ...points.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
          const whole = linesOf(bytes);
          expect(await readAll(path, cuts, chunk)).toEqual(whole);
          // from any line start as a cursor: that line and those after it in the range, nothing before
          const range = { start: cuts[1] ?? 0, end: bytes.length };
          const mine = await read(path, range, undefined, chunk);
          for (const [i, line] of mine.entries()) expect(await read(path, range, line.start, chunk)).toEqual(mine.slice(i));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('rxjs-dynamodb submit import / worker / status (issue 14)', () => {
  const LINES = 20_000;
  const UNITS = 8;
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
    client?.destroy();
    redis?.disconnect();
  });

  const pk = (i: number) => `item#${String(i).padStart(6, '0')}`;
  const id = (i: number) => (2n ** 63n + BigInt(i) * 7919n).toString(); // 64-bit, above 2^53
  /** 38 significant digits, none at either end a zero (DynamoDB keeps them as written). */
  const dec = (i: number) => `${(1 + (i % 9)).toString()}${String(i).padStart(27, '7')}.${String(i * 31).padStart(9, '3')}1`;
  const text = (i: number) => `héllo 😀 𝄞 ${i} ${'x'.repeat(i % 50)}`;
  const good = (i: number) => `{"pk":"${pk(i)}","id":${id(i)},"dec":${dec(i)},"text":${JSON.stringify(text(i))},"n":${i}}`;
  const BAD: Record<number, string> = {
    1_234: '{"pk":"item#bad1","n": }',
    9_876: '[1, 2, 3]',
    17_001: `{"pk":"item#bad3","n":${'9'.repeat(40)}}`,
  };
  /** Items in a table (not unmarshalled: their numbers have more digits than a JavaScript number). */
  const count = async (table: string) => {
    let n = 0;
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey }));
      n += page.Count ?? 0;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return n;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const queueArgs = (queue: string) => ['--redis', redisUrl, '--queue', queue];

  it('should refuse stdin, a folder that is not an export, a cut gzip file, a bad CSV header and a file given twice, saying why', async () => {
    const dir = tempDir();
    const csv = join(dir, 'a.csv');
    writeFileSync(csv, 'pk,pk\nx,y\n');
    const gz = join(dir, 'a.ndjson');
    writeFileSync(gz, Buffer.from([0x1f, 0x8b, 0, 0]));
    const ok = join(dir, 'b.ndjson');
    writeFileSync(ok, '{"pk":"x"}\n');
    // a gzip whose header and first MB are good, cut short at its end (a copy that stopped): refused too
    const whole = gzipSync(Array.from({ length: 50_000 }, (_, i) => `{"pk":"p${i}","n":${i}}\n`).join(''));
    const cut = join(dir, 'cut.ndjson.gz');
    writeFileSync(cut, whole.subarray(0, whole.length - 200));
    const args = ['--table', 'T', '--endpoint', 'http://127.0.0.1:1', ...queueArgs('refused')];
    for (const [inputs, why] of [
      [[csv], `${csv}: the CSV header (its first line) is bad: column pk appears twice`],
      [[gz], `${gz} starts as gzip but cannot be gunzipped`],
      [[cut], `${cut} is gzipped but does not gunzip to its end`],
      [[dir], 'without manifest-files.json'],
      [['-'], 'stdin'],
      [[ok, join(dir, '.', 'b.ndjson')], `${ok} is given twice`],
      [[join(dir, 'none.ndjson')], 'no such file'],
      [[], 'give the files'],
    ] as const) {
      const run = await runCli(['submit', 'import', ...inputs, ...args]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(why);
    }
    const copyWithFile = await runCli(['submit', 'copy', csv, '--from', 'A', '--to', 'B', ...queueArgs('refused')]);
    expect(copyWithFile.code).toBe(2);
    expect(copyWithFile.stderr).toContain('takes no file');
    // nor those of a copy an import's
    const importWithFrom = await runCli(['submit', 'import', ok, '--from', 'A', ...args]);
    expect(importWithFrom.code).toBe(2);
    expect(importWithFrom.stderr).toContain('submit import: --from is not an option of an import');
    // the flags of an export are not a copy's (they would be ignored)
    const copyWithOutput = await runCli(['submit', 'copy', '--from', 'A', '--to', 'B', '--output', dir, ...queueArgs('refused')]);
    expect(copyWithOutput.code).toBe(2);
    expect(copyWithOutput.stderr).toContain('--output is not an option of a copy');
  });

  it('should run an import unit with runUnit: stopped by its signal at a cursor, it goes on from there, writing nothing before it again', async () => {
    const dir = tempDir();
    const path = join(dir, 'unit.ndjson');
    const body = `${Array.from({ length: 3_000 }, (_, i) => good(i)).join('\n')}\n`;
    writeFileSync(path, body);
    const size = Buffer.byteLength(body);
    const table = await createTable(client, uniqueTable('importUnit'));
    const [unit] = makeUnits({
      jobId: 'import-t',
      kind: 'import',
      from: path,
      to: table,
      totalSegments: 2,
      options: { key: ['pk'], size, concurrency: 1 },
    }).slice(1);
    const stop = new AbortController();
    let saved: UnitPosition | undefined;
    const first = await runUnit(unit!, {
      client,
      signal: stop.signal,
      onCursor: (position) => {
        saved = position;
        if (cursorOffset(position.cursor)! > unit!.range!.start + 20_000) stop.abort();
      },
    });
    expect(first.outcome).toBe('interrupted');
    expect(first.position).toEqual(saved);
    const from = cursorOffset(saved!.cursor)!;
    const bytes = Buffer.from(body);
    expect(bytes[from - 1]).toBe(10); // a line start: after a LF
    const second = await runUnit(advanceUnit(unit!, saved!), { client });
    expect(second).toMatchObject({ outcome: 'complete', position: { done: true } });
    const lineStarts = [0];
    for (let at = bytes.indexOf(10); at >= 0 && at + 1 < bytes.length; at = bytes.indexOf(10, at + 1)) lineStarts.push(at + 1);
    const owned = (a: number, b: number) => lineStarts.filter((s) => s >= a && s < b).length;
    expect(second.tally.written).toBe(owned(from, unit!.range!.end));
    expect(first.tally.written).toBeGreaterThanOrEqual(owned(unit!.range!.start, from));
    expect(await count(table)).toBe(owned(unit!.range!.start, unit!.range!.end));
    // the file changed after submit: refused, naming it
    await expect(runUnit({ ...unit!, options: { ...unit!.options, size: size + 1 } }, { client })).rejects.toThrow(
      `${path} is ${size} bytes`,
    );
  });

  it(`should import ${LINES} lines in ${UNITS} byte-range units on 2 workers exactly, a killed worker's unit going on from its cursor`, async () => {
    const dir = tempDir();
    const path = join(dir, 'big.ndjson');
    const lines = Array.from({ length: LINES }, (_, i) => BAD[i] ?? good(i));
    lines.splice(5_000, 0, ''); // an empty line
    const body = `${lines.join('\n')}\n`;
    writeFileSync(path, body);
    const bytes = Buffer.from(body);
    const starts: number[] = [];
    for (let at = 0; at < bytes.length; at = bytes.indexOf(10, at) + 1) starts.push(at);
    const ranges = byteRanges(bytes.length, UNITS);
    const unitOf = (offset: number) => ranges.findIndex((r) => offset >= r.start && offset < r.end);
    const badStarts = lines.flatMap((l, i) => (Object.values(BAD).includes(l) ? [starts[i]!] : []));
    expect(badStarts).toHaveLength(3);
    const badUnits = new Set(badStarts.map(unitOf));

    const table = uniqueTable('importUnits');
    const queue = `import-units-${Date.now().toString(36)}`;
    const submitted = await runCli(
      [
        'submit',
        'import',
        'big.ndjson', // relative: stored absolute
        '--table',
        table,
        '--create-table',
        '--key',
        'pk',
        '--units',
        String(UNITS),
        '--concurrency',
        '1',
        '--endpoint',
        endpoint,
        '--json',
        ...queueArgs(queue),
      ],
      { cwd: dir },
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const { jobId } = jsonSummary(submitted.stdout) as { jobId: string };
    expect(jobId).toMatch(/^import-/);

    const bull = new Queue<UnitData>(queue, { connection: redis });
    const first = await bull.getJob(`${jobId}-0`);
    expect(first!.data.from).toBe(path);
    expect(first!.data.range).toEqual(ranges[0]);

    const workers = Array.from({ length: 2 }, () =>
      startCli(['worker', ...queueArgs(queue), '--endpoint', endpoint, '--lock-seconds', '4', '--save-ms', '50', '--json']),
    );
    const pids = new Set(workers.map((w) => w.child.pid!));
    // a unit well under way, its cursor saved past its range's start, no bad line in it: kill its worker
    let victim: { segment: number; pid: number } | undefined;
    const deadline = Date.now() + 60_000;
    while (!victim && Date.now() < deadline) {
      for (const job of await bull.getJobs(['active'])) {
        const run = job.data.runs?.at(-1);
        const { segment, range, cursor } = job.data;
        if (badUnits.has(segment) || !cursor || !run || !pids.has(run.pid)) continue;
        if (cursorOffset(cursor)! > range!.start + (range!.end - range!.start) / 8 && run.written < LINES / UNITS / 2) {
          victim = { segment, pid: run.pid };
          break;
        }
      }
      if (!victim) await sleep(10);
    }
    if (!victim) throw new Error('no unit with a saved cursor to kill within 60 s');
    const killed = workers.find((w) => w.child.pid === victim!.pid)!;
    killed.child.kill('SIGKILL');
    expect((await killed.done).signal).toBe('SIGKILL');

    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.5', '--json']);
    const survivor = workers.find((w) => w !== killed)!;
    survivor.child.kill('SIGTERM');
    expect((await survivor.done).code).toBe(0);
    await bull.close();
    type Letter = { file: string; offset: number; segment: number; text: string; error: { name: string; message: string } };
    const summary = jsonSummary(status.stdout) as {
      done: number;
      failed: number;
      itemsFailed: number;
      unitStatus: Array<{ segment: number; state: string; runs: NonNullable<UnitData['runs']>; deadLetters?: Letter[] }>;
    };
    // the units with a bad line fail for good with their dead letters; every other one is done
    expect(status.code, status.stdout + status.stderr).toBe(1);
    expect(summary).toMatchObject({ done: UNITS - badUnits.size, failed: badUnits.size, itemsFailed: 3 });
    for (const u of summary.unitStatus) expect(u.state).toBe(badUnits.has(u.segment) ? 'failed' : 'done');
    const dead = summary.unitStatus.flatMap((u) => u.deadLetters ?? []).sort((a, b) => a.offset - b.offset);
    expect(dead.map(({ file, offset, segment, text }) => ({ file, offset, segment, text }))).toEqual(
      badStarts.map((offset) => ({ file: path, offset, segment: unitOf(offset), text: lines[starts.indexOf(offset)] })),
    );
    expect(dead.every((d) => d.error.name === 'InputError')).toBe(true);

    // the killed unit went on from a cursor past its start, and wrote the lines from there alone
    const runs = summary.unitStatus.find((u) => u.segment === victim!.segment)!.runs;
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]!.pid).toBe(victim.pid);
    const resumed = runs[1]!;
    const from = cursorOffset(resumed.startCursor as Record<string, { N: string }>)!;
    const range = ranges[victim.segment]!;
    expect(from).toBeGreaterThan(range.start);
    expect(from).toBeGreaterThan(0);
    expect(starts).toContain(from); // a line start
    const isGood = (i: number) => lines[i] !== '' && !Object.values(BAD).includes(lines[i]!);
    const goodIn = (a: number, b: number) => starts.filter((s, i) => s >= a && s < b && isGood(i)).length;
    expect(resumed.written).toBe(goodIn(from, range.end)); // nothing before the cursor was written again
    expect(runs[0]!.written).toBeGreaterThanOrEqual(goodIn(range.start, from));

    // the table holds exactly the good lines' items, every digit and character as written
    const items: Record<string, AttributeValue>[] = [];
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    const expected = Array.from({ length: LINES }, (_, i) => i)
      .filter((i) => BAD[i] === undefined)
      .map((i) => ({ pk: { S: pk(i) }, id: { N: id(i) }, dec: { N: dec(i) }, text: { S: text(i) }, n: { N: String(i) } }));
    const byKey = (a: Record<string, AttributeValue>, b: Record<string, AttributeValue>) => (a.pk!.S! < b.pk!.S! ? -1 : 1);
    expect(items.sort(byKey)).toEqual(expected.sort(byKey));
    process.stderr.write(
      `import units: killed unit ${victim.segment} [${range.start}, ${range.end}) went on from byte ${from}: ${runs[0]!.written} then ${resumed.written} written\n`,
    );
  }, 300_000);
});
