/**
 * Issue 14 for every input of `import`: `submit import FILE...` with several files and folders — plain NDJSON cut into
 * byte ranges, a gzipped, a CSV or a DynamoDB JSON file (or each data file of an export folder) one whole-file unit,
 * whose cursor is the line up to which every record is settled. The planning is tested on files made here; the units
 * on DynamoDB Local (run in-process, stopped and run again from their cursor); then a whole job on BullMQ, on the
 * Redis of the global setup, by two worker processes, one of them killed mid-unit.
 */
import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cursorLine, lineCursor } from '../../src/cli/importFileUnits.js';
import { importInputs, importParts } from '../../src/cli/importPlan.js';
import { byteRanges } from '../../src/cli/importUnits.js';
import { InOrder } from '../../src/cli/importWrite.js';
import type { UnitData } from '../../src/cli/unitQueue.js';
import { advanceUnit, makeUnits, runUnit, type UnitPosition, type WorkUnit } from '../../src/cli/units.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

type Raw = Record<string, AttributeValue>;

let client: DynamoDBClient;
let endpoint: string;
beforeAll(() => {
  endpoint = inject('dynamoEndpoint');
  client = localClient(endpoint);
});
afterAll(() => {
  client?.destroy();
  removeTempDirs();
});

/** Every item of a table as DynamoDB holds it (not unmarshalled: numbers keep their digits). */
async function scanRaw(table: string): Promise<Raw[]> {
  const items: Raw[] = [];
  let ExclusiveStartKey: Raw | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** An AttributeValue comparable as JSON: binary as base64, the elements of a set in order (a set has none). */
function norm(value: AttributeValue): unknown {
  const v = value as unknown as Record<string, unknown>;
  if (v.B !== undefined) return { B: Buffer.from(v.B as Uint8Array).toString('base64') };
  if (v.BS !== undefined) return { BS: (v.BS as Uint8Array[]).map((b) => Buffer.from(b).toString('base64')).sort() };
  if (v.SS !== undefined) return { SS: [...(v.SS as string[])].sort() };
  if (v.NS !== undefined) return { NS: [...(v.NS as string[])].sort() };
  if (v.L !== undefined) return { L: (v.L as AttributeValue[]).map(norm) };
  if (v.M !== undefined) return { M: normItem(v.M as Raw) };
  return value;
}
const normItem = (item: Raw) => Object.fromEntries(Object.entries(item).map(([k, v]) => [k, norm(v)]));
/** Items by `pk`, each normalized: what to compare a table with. */
const byPk = (items: Raw[]) => new Map(items.map((i) => [i.pk!.S!, normItem(i)]));

// values that lose something in any careless step: 64-bit ids, 38 significant digits, characters beyond the BMP
const id = (i: number) => (2n ** 63n + BigInt(i) * 7919n).toString();
const dec = (i: number) => `${1 + (i % 9)}${String(i).padStart(27, '7')}.${String(i * 31).padStart(9, '3')}1`;
const text = (i: number) => `héllo 😀 𝄞 ${i} ${'x'.repeat(i % 40)}`;
/** A plain NDJSON line and the item DynamoDB must hold for it. */
const jsonLine = (prefix: string, i: number) =>
  `{"pk":"${prefix}#${String(i).padStart(6, '0')}","id":${id(i)},"dec":${dec(i)},"text":${JSON.stringify(text(i))},"n":${i}}`;
const jsonItem = (prefix: string, i: number): Raw => ({
  pk: { S: `${prefix}#${String(i).padStart(6, '0')}` },
  id: { N: id(i) },
  dec: { N: dec(i) },
  text: { S: text(i) },
  n: { N: String(i) },
});
/** A DynamoDB JSON line (sets, binary, 38 digits, nesting) and its item. */
const ddbItem = (prefix: string, i: number): Raw => ({
  pk: { S: `${prefix}#${String(i).padStart(6, '0')}` },
  big: { N: `-${dec(i)}` },
  ns: { NS: ['18446744073709551615', dec(i)] },
  bin: { B: new Uint8Array([0, 1, 2, 255, i % 256]) },
  bs: { BS: [new Uint8Array([i % 256]), new Uint8Array([255, 254])] },
  ss: { SS: ['𝄞', `😀 ${i}`] },
  m: { M: { deep: { L: [{ NULL: true }, { BOOL: i % 2 === 0 }, { S: 'é' }] } } },
});
const ddbLine = (prefix: string, i: number) => {
  const item = ddbItem(prefix, i);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  return JSON.stringify({
    Item: { ...item, bin: { B: b64(item.bin!.B!) }, bs: { BS: item.bs!.BS!.map(b64) } },
  });
};
/** A CSV header, a row and its item; `note` over two lines every 7th row. */
const CSV_HEADER = 'pk,id:N,tags:JSON,done:BOOL,note';
const csvRow = (i: number) =>
  `csv#${String(i).padStart(6, '0')},${dec(i)},"[""😀"",${id(i)}]",${i % 2 === 0},"${i % 7 === 0 ? `two\nlines 𝄞 ${i}` : `one 🦄 ${i}`}"`;
/** The item of `csvRow(i)` in a file whose lines end with `eol` (a quoted field keeps the line end it holds). */
const csvItem = (i: number, eol = '\n'): Raw => ({
  pk: { S: `csv#${String(i).padStart(6, '0')}` },
  id: { N: dec(i) },
  tags: { L: [{ S: '😀' }, { N: id(i) }] },
  done: { BOOL: i % 2 === 0 },
  note: { S: i % 7 === 0 ? `two${eol}lines 𝄞 ${i}` : `one 🦄 ${i}` },
});
const crlfItem = (i: number) => csvItem(i, '\r\n');

/** A DynamoDB export folder (manifest-files.json + gzipped data files) holding these parts; returns its download folder. */
function exportFolder(dir: string, parts: string[][]): { folder: string; files: string[] } {
  const exportId = '01700000000000-abcd1234';
  const root = join(dir, 'download', 'AWSDynamoDB', exportId);
  mkdirSync(join(root, 'data'), { recursive: true });
  const files: string[] = [];
  const manifest = parts.map((lines, i) => {
    const path = join(root, 'data', `part${i}.json.gz`);
    writeFileSync(path, gzipSync(`${lines.join('\n')}\n`));
    files.push(path);
    return JSON.stringify({ itemCount: lines.length, dataFileS3Key: `exports/AWSDynamoDB/${exportId}/data/part${i}.json.gz` });
  });
  writeFileSync(join(root, 'manifest-files.json'), `${manifest.join('\n')}\n`);
  return { folder: join(dir, 'download'), files };
}

describe('import units of many files: planning', () => {
  it('should tell each file its format and cut only plain NDJSON, about --units ranges in all', () => {
    const dir = tempDir();
    const plain = join(dir, 'a.ndjson');
    writeFileSync(plain, `${Array.from({ length: 300 }, (_, i) => jsonLine('a', i)).join('\n')}\n`);
    const small = join(dir, 'b.ndjson');
    writeFileSync(small, `${Array.from({ length: 100 }, (_, i) => jsonLine('b', i)).join('\n')}\n`);
    const gz = join(dir, 'c.ndjson.gz');
    writeFileSync(gz, gzipSync(`${jsonLine('c', 1)}\n`));
    const ddb = join(dir, 'd.json');
    writeFileSync(ddb, `\n${ddbLine('d', 1)}\n`); // a blank line first
    const ddbGz = join(dir, 'e.data'); // no telling name: gzip and DynamoDB JSON by content
    writeFileSync(ddbGz, gzipSync(`${ddbLine('e', 1)}\n`));
    const csv = join(dir, 'f.CSV');
    writeFileSync(csv, `\uFEFF${CSV_HEADER}\r\n${csvRow(1)}\r\n`);
    const { folder, files } = exportFolder(dir, [[ddbLine('x', 1)], [ddbLine('x', 2)]]);

    const inputs = importInputs([plain, gz, ddb, ddbGz, csv, folder, small]);
    expect(inputs.map(({ path, format, gzip }) => ({ path, format, gzip }))).toEqual([
      { path: plain, format: 'ndjson', gzip: false },
      { path: gz, format: 'ndjson', gzip: true },
      { path: ddb, format: 'dynamodb-json', gzip: false },
      { path: ddbGz, format: 'dynamodb-json', gzip: true },
      { path: csv, format: 'csv', gzip: false },
      { path: files[0], format: 'dynamodb-json', gzip: true },
      { path: files[1], format: 'dynamodb-json', gzip: true },
      { path: small, format: 'ndjson', gzip: false },
    ]);
    // an export's data files keep their manifest's item count
    expect(inputs.map((i) => i.itemCount)).toEqual([undefined, undefined, undefined, undefined, undefined, 1, 1, undefined]);
    const sizes = inputs.map((i) => i.size);
    const parts = importParts(inputs, { units: 8 });
    // the plain files share the 8 ranges by their bytes (about 3:1); every other file is one unit, with its format
    const plainParts = parts.filter((p) => p.range);
    expect(plainParts.filter((p) => p.from === plain).map((p) => p.range)).toEqual(byteRanges(sizes[0]!, 6));
    expect(plainParts.filter((p) => p.from === small).map((p) => p.range)).toEqual(byteRanges(sizes[7]!, 2));
    expect(parts.filter((p) => !p.range)).toEqual(
      // (an export's data files carry their manifest's item count, checked when the unit ends)
      inputs.slice(1, 7).map((i) => ({
        from: i.path,
        options: { size: i.size, format: i.format, ...(i.itemCount !== undefined ? { itemCount: i.itemCount } : {}) },
      })),
    );
    expect(parts.map((p) => p.from)).toEqual([...Array(6).fill(plain), ...inputs.slice(1, 7).map((i) => i.path), small, small]);
    // one plain file alone: exactly --units ranges, as before
    expect(importParts(importInputs([plain]), { units: 5 }).map((p) => p.range)).toEqual(byteRanges(sizes[0]!, 5));
    // --format for every file; a folder stays DynamoDB JSON and refuses another
    expect(importInputs([ddb], 'ndjson')[0]!.format).toBe('ndjson');
    expect(() => importInputs([folder], 'csv')).toThrow('--format csv cannot apply');
    expect(() => importInputs([folder, files[0]!])).toThrow(`${files[0]} is given twice`);

    // makeUnits keeps the parts: each unit its own file, range, size and format, over the job's options
    const units = makeUnits(
      { jobId: 'j', kind: 'import', from: 'many', to: 'T', totalSegments: parts.length, options: { key: ['pk'] } },
      parts,
    );
    expect(units.map((u) => [u.segment, u.from, u.range, u.options])).toEqual(
      parts.map((p, i) => [i, p.from, p.range, { key: ['pk'], ...p.options }]),
    );
    expect(() => makeUnits({ jobId: 'j', kind: 'import', from: 'm', to: 'T', totalSegments: 2, options: { key: ['pk'] } }, parts)).toThrow(
      `${parts.length} unit parts for totalSegments 2`,
    );
  });

  it('should keep a whole-file cursor as the digits of a line number, and refuse one that is not', () => {
    expect(lineCursor(123)).toEqual({ line: { N: '123' } });
    expect(cursorLine(lineCursor(2 ** 40))).toBe(2 ** 40);
    expect(cursorLine(undefined)).toBeUndefined();
    expect(() => cursorLine({ offset: { N: '12' } })).toThrow('{ "line": { "N": "<line>" } }');
  });
});

describe('dead letters in input order (InOrder)', () => {
  it('should tell each dead letter once, in input order, only when the ledger passes its record', () => {
    const told: string[] = [];
    const letters = new InOrder();
    const add = (line: number, endLine: number, name: string) => letters.add({ line, endLine }, () => told.push(name));
    // bad lines come in order; failed items of a later call may come before those of an earlier one
    add(3, 3, 'bad@3');
    add(9, 10, 'item@9-10');
    add(5, 5, 'item@5');
    add(12, 12, 'bad@12');
    const steps: Array<[number, string[]]> = [
      [2, []],
      [4, ['bad@3']],
      [9, ['bad@3', 'item@5']], // 9-10 is not passed before line 10
      [10, ['bad@3', 'item@5', 'item@9-10']],
      [11, ['bad@3', 'item@5', 'item@9-10']],
    ];
    for (const [line, expected] of steps) {
      letters.through(line);
      expect([line, told]).toEqual([line, expected]);
    }
    // a run stopped here never tells bad@12: the run that goes on from line 11 does, once
    expect(letters.size).toBe(1);
  });
});

describe('whole-file import units on DynamoDB Local', () => {
  /** The one unit of a job of one whole file. */
  const unitOf = (file: string, table: string): WorkUnit => {
    const parts = importParts(importInputs([file]), { units: 1 });
    expect(parts).toHaveLength(1);
    expect(parts[0]!.range).toBeUndefined();
    return makeUnits(
      { jobId: 'import-file', kind: 'import', from: file, to: table, totalSegments: 1, options: { key: ['pk'], concurrency: 1 } },
      parts,
    )[0]!;
  };

  /** Runs a unit until its cursor passes `line`, then stops it; returns the run and the cursor saved last. */
  async function runUntil(unit: WorkUnit, line: number) {
    const stop = new AbortController();
    let saved: UnitPosition | undefined;
    const result = await runUnit(unit, {
      client,
      signal: stop.signal,
      onCursor: (position) => {
        saved = position;
        if (cursorLine(position.cursor)! > line) stop.abort();
      },
    });
    return { result, saved: saved! };
  }

  it('should stop a gzipped NDJSON unit at a line cursor and go on from it, writing each line once', async () => {
    const LINES = 3_000;
    const dir = tempDir();
    const file = join(dir, 'data.ndjson.gz');
    writeFileSync(file, gzipSync(`${Array.from({ length: LINES }, (_, i) => jsonLine('gz', i)).join('\n')}\n`));
    const table = await createTable(client, uniqueTable('fileUnitGz'));
    const unit = unitOf(file, table);
    expect(unit.options).toMatchObject({ format: 'ndjson' });

    const { result: first, saved } = await runUntil(unit, 1_000);
    expect(first.outcome).toBe('interrupted');
    expect(first.position).toEqual(saved);
    const from = cursorLine(saved.cursor)!;
    expect(from).toBeGreaterThan(1_000);
    expect(from).toBeLessThan(LINES);
    // one batch call at a time: the lines up to the cursor are exactly those written
    expect(first.tally.written).toBe(from);

    const second = await runUnit(advanceUnit(unit, saved), { client });
    expect(second).toMatchObject({ outcome: 'complete', position: { done: true } });
    expect(second.tally.written).toBe(LINES - from); // nothing before the cursor again
    expect(second.tally.read).toBe(LINES - from);
    const expected = byPk(Array.from({ length: LINES }, (_, i) => jsonItem('gz', i)));
    expect(byPk(await scanRaw(table))).toEqual(expected);
    // a done unit does nothing
    expect(await runUnit({ ...unit, done: true }, { client })).toMatchObject({ outcome: 'complete', tally: { read: 0 } });
  });

  it('should skip the CSV records up to its cursor (a record over two lines included), and dead-letter bad rows by file and line', async () => {
    const ROWS = 1_500;
    const dir = tempDir();
    const file = join(dir, 'rows.csv');
    const bad = new Map([
      [100, 'csv#bad1,123456789012345678901234567890123456789,[],true,x'], // 39 digits
      [1_000, 'csv#bad2,1,[],true'], // a field short
    ]);
    const lines = [CSV_HEADER];
    const lineOf = new Map<number, { line: number; endLine: number }>();
    const badLines: Array<{ line: number; text: string }> = [];
    for (let i = 0; i < ROWS; i++) {
      const row = bad.get(i) ?? csvRow(i);
      const line = lines.length + 1;
      lines.push(...row.split('\n'));
      if (bad.has(i)) badLines.push({ line, text: row });
      else lineOf.set(i, { line, endLine: lines.length });
    }
    writeFileSync(file, `${lines.join('\r\n')}\r\n`);
    const good = [...lineOf.keys()];

    // from a cursor on the last line of a two-line record: that record and those before it are not read again
    const at = lineOf.get(700)!; // 700 = 7 × 100: two lines
    expect(at.endLine).toBe(at.line + 1);
    const table = await createTable(client, uniqueTable('fileUnitCsv'));
    const unit = unitOf(file, table);
    expect(unit.options.format).toBe('csv');
    const letters: unknown[] = [];
    const resumed = await runUnit(advanceUnit(unit, { cursor: lineCursor(at.endLine), done: false }), {
      client,
      onDeadLetter: (d) => letters.push(d),
    });
    expect(resumed).toMatchObject({ outcome: 'complete', position: { done: true } });
    expect(byPk(await scanRaw(table))).toEqual(byPk(good.filter((i) => i > 700).map(crlfItem)));
    expect(letters).toEqual([
      {
        file,
        line: badLines[1]!.line,
        segment: 0,
        text: badLines[1]!.text,
        error: { name: 'InputError', message: 'CSV: has 4 fields, the header has 5' },
      },
    ]);

    // from the start, stopped and run again: every record once, each bad row dead-lettered once, named by file and line
    const table2 = await createTable(client, uniqueTable('fileUnitCsv2'));
    const unit2 = unitOf(file, table2);
    const dead: Array<{ file: string; line: number; text: string }> = [];
    const onDeadLetter = (d: unknown) => dead.push(d as (typeof dead)[number]);
    const stop = new AbortController();
    let saved: UnitPosition | undefined;
    const first = await runUnit(unit2, {
      client,
      signal: stop.signal,
      onDeadLetter,
      onCursor: (p) => {
        saved = p;
        if (cursorLine(p.cursor)! > 600) stop.abort();
      },
    });
    expect(first.outcome).toBe('interrupted');
    const from = cursorLine(saved!.cursor)!;
    const second = await runUnit(advanceUnit(unit2, saved!), { client, onDeadLetter });
    expect(second.outcome).toBe('complete');
    const after = good.filter((i) => lineOf.get(i)!.endLine > from).length;
    expect(second.tally.written).toBe(after);
    expect(first.tally.written).toBe(good.length - after);
    expect(byPk(await scanRaw(table2))).toEqual(byPk(good.map(crlfItem)));
    expect(dead.map(({ file, line, text }) => ({ file, line, text }))).toEqual(badLines.map((b) => ({ file, ...b })));
    expect((dead[0] as unknown as { error: { message: string } }).error.message).toContain(
      'has 39 significant digits; DynamoDB keeps at most 38',
    );
  });

  it('should warn of a data file of an export that holds fewer items than its manifest says, as import does', async () => {
    const dir = tempDir();
    const { folder } = exportFolder(dir, [[ddbLine('m', 1), ddbLine('m', 2)], [ddbLine('m', 3)]]);
    // the manifest of the first file says 3 items: a partial copy of the export
    const manifest = join(dir, 'download', 'AWSDynamoDB', '01700000000000-abcd1234', 'manifest-files.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"itemCount":2', '"itemCount":3'));
    const table = await createTable(client, uniqueTable('fileUnitManifest'));
    const parts = importParts(importInputs([folder]), { units: 1 });
    const spec = { jobId: 'import-manifest', kind: 'import' as const, from: folder, to: table, totalSegments: 2, options: { key: ['pk'] } };
    const [short, whole] = makeUnits(spec, parts);
    const first = await runUnit(short!, { client });
    expect(first.outcome).toBe('complete');
    expect(first.warnings).toEqual([`${short!.from} holds 2 lines, its manifest entry says 3 items`]);
    expect((await runUnit(whole!, { client })).warnings).toBeUndefined();
  });

  it('should refuse a byte-offset cursor, and a file that changed since submit, naming the file', async () => {
    const dir = tempDir();
    const file = join(dir, 'small.csv');
    writeFileSync(file, `${CSV_HEADER}\n${csvRow(1)}\n`);
    const unit = unitOf(file, 'NoSuchTable');
    await expect(runUnit({ ...unit, cursor: { offset: { N: '10' } } }, { client })).rejects.toThrow('{ "line": { "N": "<line>" } }');
    await expect(runUnit({ ...unit, options: { ...unit.options, size: 1 } }, { client })).rejects.toThrow(
      `${file} is ${unit.options.size} bytes on this worker but was 1 at submit`,
    );
  });
});

describe('rxjs-dynamodb submit import FILE... / worker / status (issue 14)', () => {
  let redisUrl: string;
  let redis: Redis;
  beforeAll(async () => {
    redisUrl = inject('redisUrl');
    redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    await ensureBuilt();
  }, 180_000);
  afterAll(() => redis?.disconnect());
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const queueArgs = (queue: string) => ['--redis', redisUrl, '--queue', queue];

  it('should import a gzipped NDJSON, a CSV, a DynamoDB JSON file, an export folder and a large NDJSON cut in ranges, on 2 workers, one killed', async () => {
    const GZ = 30_000;
    const BIG = 12_000;
    const RANGES = 4;
    const dir = tempDir();
    const expected: Raw[] = [];
    /** Bad input: whole-file units name it by file and line; byte-range units by file and byte offset. */
    const badByLine: Array<{ file: string; line: number; text: string }> = [];
    const badByOffset: Array<{ file: string; offset: number; text: string }> = [];

    // the unit to kill: a gzipped NDJSON file, one unit, no bad line
    const gz = join(dir, 'events.ndjson.gz');
    writeFileSync(gz, gzipSync(`${Array.from({ length: GZ }, (_, i) => jsonLine('gz', i)).join('\n')}\n`));
    expected.push(...Array.from({ length: GZ }, (_, i) => jsonItem('gz', i)));

    const csv = join(dir, 'rows.csv');
    const csvLines = [CSV_HEADER];
    for (let i = 0; i < 200; i++) {
      const row = i === 50 ? 'csv#bad,1,[],maybe,x' : csvRow(i);
      if (i === 50) badByLine.push({ file: csv, line: csvLines.length + 1, text: row });
      else expected.push(csvItem(i));
      csvLines.push(...row.split('\n'));
    }
    writeFileSync(csv, `${csvLines.join('\n')}\n`);

    const ddb = join(dir, 'items.json');
    const ddbLines = Array.from({ length: 300 }, (_, i) => (i === 120 ? '{"Item":{"pk":{"S":"ddb#bad"},' : ddbLine('ddb', i)));
    badByLine.push({ file: ddb, line: 121, text: ddbLines[120]! });
    expected.push(
      ...Array.from({ length: 300 }, (_, i) => i)
        .filter((i) => i !== 120)
        .map((i) => ddbItem('ddb', i)),
    );
    writeFileSync(ddb, `${ddbLines.join('\n')}\n`);

    const part0 = Array.from({ length: 150 }, (_, i) => ddbLine('exp', i));
    const part1 = Array.from({ length: 150 }, (_, i) => (i === 2 ? 'not json' : ddbLine('exp', 150 + i)));
    const { folder, files } = exportFolder(dir, [part0, part1]);
    badByLine.push({ file: files[1]!, line: 3, text: 'not json' });
    expected.push(
      ...Array.from({ length: 300 }, (_, i) => i)
        .filter((i) => i !== 152)
        .map((i) => ddbItem('exp', i)),
    );

    const big = join(dir, 'big.ndjson');
    const bigLines = Array.from({ length: BIG }, (_, i) => (i === 777 || i === 9_000 ? `{"pk":"big#bad${i}","n":}` : jsonLine('big', i)));
    const bigBody = `${bigLines.join('\n')}\n`;
    writeFileSync(big, bigBody);
    let offset = 0;
    for (const line of bigLines) {
      if (line.includes('#bad')) badByOffset.push({ file: big, offset, text: line });
      offset += Buffer.byteLength(line) + 1;
    }
    expected.push(
      ...Array.from({ length: BIG }, (_, i) => i)
        .filter((i) => i !== 777 && i !== 9_000)
        .map((i) => jsonItem('big', i)),
    );

    const table = uniqueTable('importFiles');
    const queue = `import-files-${Date.now().toString(36)}`;
    const submitted = await runCli(
      [
        'submit',
        'import',
        'events.ndjson.gz', // relative paths: stored absolute
        'rows.csv',
        'items.json',
        'download',
        'big.ndjson',
        '--table',
        table,
        '--create-table',
        '--key',
        'pk',
        '--units',
        String(RANGES),
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
    const { jobId, units } = jsonSummary(submitted.stdout) as { jobId: string; units: number };
    const UNITS = 5 + RANGES; // gz, csv, ddb, 2 data files, and the ranges
    expect(units).toBe(UNITS);
    expect(submitted.stderr).toContain('6 files');

    const bull = new Queue<UnitData>(queue, { connection: redis });
    const stored = await Promise.all(Array.from({ length: UNITS }, (_, s) => bull.getJob(`${jobId}-${s}`)));
    const ranges = byteRanges(Buffer.byteLength(bigBody), RANGES);
    expect(stored.map((j) => [j!.data.from, j!.data.range, j!.data.options.format])).toEqual([
      [gz, undefined, 'ndjson'],
      [csv, undefined, 'csv'],
      [ddb, undefined, 'dynamodb-json'],
      [files[0], undefined, 'dynamodb-json'],
      [files[1], undefined, 'dynamodb-json'],
      ...ranges.map((r) => [big, r, undefined]),
    ]);
    const segmentOf = (file: string, offset?: number) =>
      stored.findIndex(
        (j) => j!.data.from === file && (offset === undefined || (offset >= j!.data.range!.start && offset < j!.data.range!.end)),
      );
    const badUnits = new Set([...badByLine.map((b) => segmentOf(b.file)), ...badByOffset.map((b) => segmentOf(b.file, b.offset))]);
    expect(badUnits.has(0)).toBe(false);

    const workers = Array.from({ length: 2 }, () =>
      startCli(['worker', ...queueArgs(queue), '--endpoint', endpoint, '--lock-seconds', '4', '--save-ms', '50', '--json']),
    );
    const pids = new Set(workers.map((w) => w.child.pid!));
    // the gzipped file's unit well under way, its cursor saved: kill its worker
    let victim: { pid: number; line: number } | undefined;
    const deadline = Date.now() + 60_000;
    while (!victim && Date.now() < deadline) {
      const job = await bull.getJob(`${jobId}-0`);
      const run = job?.data.runs?.at(-1);
      const line = job?.data.cursor ? cursorLine(job.data.cursor)! : 0;
      if (run && pids.has(run.pid) && line > 2_000 && run.written < GZ / 2) victim = { pid: run.pid, line };
      else await sleep(10);
    }
    if (!victim) throw new Error('the gzipped unit had no saved cursor to kill within 60 s');
    const killed = workers.find((w) => w.child.pid === victim!.pid)!;
    killed.child.kill('SIGKILL');
    expect((await killed.done).signal).toBe('SIGKILL');

    const status = await runCli(['status', jobId, ...queueArgs(queue), '--watch', '--interval', '0.5', '--json']);
    const survivor = workers.find((w) => w !== killed)!;
    survivor.child.kill('SIGTERM');
    expect((await survivor.done).code).toBe(0);
    await bull.close();
    type Letter = { file: string; line?: number; offset?: number; segment: number; text: string; error: { name: string } };
    const summary = jsonSummary(status.stdout) as {
      done: number;
      failed: number;
      itemsFailed: number;
      unitStatus: Array<{ segment: number; state: string; runs: NonNullable<UnitData['runs']>; deadLetters?: Letter[] }>;
    };
    // the units with bad input fail for good with their dead letters (exit 1); every other one is done
    expect(status.code, status.stdout + status.stderr).toBe(1);
    expect(summary).toMatchObject({
      done: UNITS - badUnits.size,
      failed: badUnits.size,
      itemsFailed: badByLine.length + badByOffset.length,
    });
    for (const u of summary.unitStatus) expect([u.segment, u.state]).toEqual([u.segment, badUnits.has(u.segment) ? 'failed' : 'done']);
    const dead = summary.unitStatus.flatMap((u) => u.deadLetters ?? []);
    expect(dead.every((d) => d.error.name === 'InputError')).toBe(true);
    const key = (d: { file: string; line?: number; offset?: number }) => `${d.file}:${d.line ?? `@${d.offset}`}`;
    expect(
      dead
        .map(({ file, line, offset, segment, text }) => ({ file, segment, text, ...(line !== undefined ? { line } : { offset }) }))
        .sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    ).toEqual(
      [
        ...badByLine.map((b) => ({ ...b, segment: segmentOf(b.file) })),
        ...badByOffset.map((b) => ({ ...b, segment: segmentOf(b.file, b.offset) })),
      ].sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    );

    // the killed unit went on from a line cursor, and wrote the lines after it alone
    const runs = summary.unitStatus[0]!.runs;
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]!.pid).toBe(victim.pid);
    const resumed = runs[1]!;
    const from = cursorLine(resumed.startCursor as Record<string, { N: string }>)!;
    expect(from).toBeGreaterThanOrEqual(victim.line);
    expect(resumed.written).toBe(GZ - from); // nothing before the cursor written again
    expect(runs[0]!.written).toBeGreaterThanOrEqual(from);

    // the table holds exactly the good records' items, every digit, byte and character as written
    const items = await scanRaw(table);
    expect(items).toHaveLength(expected.length);
    expect(byPk(items)).toEqual(byPk(expected));
    process.stderr.write(
      `import files: ${UNITS} units, ${expected.length} items; killed the gzipped unit at line ${victim.line}, went on from line ${from}: ${runs[0]!.written} then ${resumed.written} written\n`,
    );
  }, 300_000);
});
