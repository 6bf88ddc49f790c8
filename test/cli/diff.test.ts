/**
 * `rxjs-dynamodb diff`: the comparison itself (input/output tables), then the binary against DynamoDB Local with
 * tables holding real values — integer keys beyond 2^53, 38-digit decimals, string, number and binary sets, binary
 * keys, characters beyond the BMP, nested maps and lists — written raw (AttributeValues), so that what is planted is
 * exactly what DynamoDB holds. Several planted differences vanish through a JavaScript `number` (2^53 + 1 and 2^53,
 * neighbours above 2^60, the 38th digit), so a comparison that went through one would miss them.
 *
 * DynamoDB Local stores numbers normalised (`1.0` as `1`) and returns set elements sorted, so tables written with
 * other spellings and orders come back alike; the transform test is where the diff itself must see `2.50` as `2.5`
 * and a Set in another order as the same set (the transform's values are compared as it returns them).
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
  type ScalarAttributeType,
} from '@aws-sdk/client-dynamodb';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DiffLedger, differingAttributes, sameValue, samplePoint } from '../../src/cli/diff.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, removeTempDirs, ROOT, runCli, tempDir } from './helpers.js';

type Raw = Record<string, AttributeValue>;
type Line = { kind?: string; key?: Raw; attributes?: string[]; error?: string } & Record<string, unknown>;

const bin = (...bytes: number[]) => Uint8Array.from(bytes);
const b64 = (...bytes: number[]) => Buffer.from(bytes).toString('base64');
const TWO_53 = 2n ** 53n;

describe('diff: the comparison', () => {
  it.each([
    ['1.0 and 1', { N: '1.0' }, { N: '1' }, true],
    ['1E2 and 100', { N: '1E2' }, { N: '100' }, true],
    ['.50 and 0.5', { N: '.50' }, { N: '0.5' }, true],
    ['the 38th digit', { N: '1234567890123456789.0123456789012345678' }, { N: '1234567890123456789.0123456789012345679' }, false],
    ['2^53 + 1 and 2^53 (one number in JavaScript)', { N: String(TWO_53 + 1n) }, { N: String(TWO_53) }, false],
    ['a number and the same text as a string', { N: '1' }, { S: '1' }, false],
    ['strings beyond the BMP', { S: '𝄞😀' }, { S: '𝄞😀' }, true],
    ['strings differing beyond the BMP', { S: '𝄞' }, { S: '𝄢' }, false],
    ['string sets in another order', { SS: ['a', 'b', '𝄞'] }, { SS: ['𝄞', 'b', 'a'] }, true],
    ['string sets of other elements', { SS: ['a', 'b'] }, { SS: ['a', 'c'] }, false],
    ['string sets of other sizes', { SS: ['a', 'b'] }, { SS: ['a', 'b', 'c'] }, false],
    ['number sets in another order, 1.0 and 1', { NS: ['1.0', String(TWO_53 + 1n)] }, { NS: [String(TWO_53 + 1n), '1'] }, true],
    ['number sets beyond 2^53', { NS: [String(TWO_53 + 1n)] }, { NS: [String(TWO_53)] }, false],
    ['binary sets in another order', { BS: [bin(1, 2), bin(3)] }, { BS: [bin(3), bin(1, 2)] }, true],
    ['binary sets of other bytes', { BS: [bin(1, 2)] }, { BS: [bin(1, 3)] }, false],
    ['the same bytes in other buffers', { B: Buffer.from([0, 255]) }, { B: bin(0, 255) }, true],
    ['other bytes', { B: bin(0, 255) }, { B: bin(0, 254) }, false],
    ['lists in another order', { L: [{ N: '1' }, { S: 'a' }] }, { L: [{ S: 'a' }, { N: '1' }] }, false],
    [
      'nested maps, 1.0 and 1 deep down',
      { M: { a: { L: [{ M: { n: { N: '1.0' } } }] } } },
      { M: { a: { L: [{ M: { n: { N: '1' } } }] } } },
      true,
    ],
    ['maps with one more attribute', { M: { a: { NULL: true } } }, { M: { a: { NULL: true }, b: { BOOL: false } } }, false],
    ['booleans', { BOOL: true }, { BOOL: false }, false],
    ['null and false', { NULL: true }, { BOOL: false }, false],
  ] as Array<[string, AttributeValue, AttributeValue, boolean]>)('should compare %s exactly', (_, a, b, same) => {
    expect(sameValue(a, b)).toBe(same);
    expect(sameValue(b, a)).toBe(same);
  });

  it('should name the attributes that differ, are missing or are extra, sorted', () => {
    const expected: Raw = { pk: { S: 'a' }, n: { N: '1' }, gone: { S: 'x' }, same: { SS: ['a', 'b'] } };
    const actual: Raw = { pk: { S: 'a' }, n: { N: '2' }, added: { S: 'y' }, same: { SS: ['b', 'a'] } };
    expect(differingAttributes(expected, actual)).toEqual(['added', 'gone', 'n']);
    expect(differingAttributes(expected, expected)).toEqual([]);
  });

  it('should count every answer and keep only the first `show` keys of each kind', () => {
    const ledger = new DiffLedger(2);
    const item: Raw = { pk: { S: 'a' }, n: { N: '1' } };
    expect(ledger.answer({ pk: 'm1' }, false)).toBe('missing');
    expect(ledger.answer({ pk: 'm2' }, false)).toBe('missing');
    expect(ledger.answer({ pk: 'm3' }, false)).toBe('missing');
    expect(ledger.answer({ pk: 'e1' }, true, item, { ...item, n: { N: '1.0' } })).toBe('equal');
    expect(ledger.answer({ pk: 'd1' }, true, item, { ...item, n: { N: '2' } })).toBe('different');
    expect(ledger.answer({ pk: 'k1' }, true)).toBe('equal'); // keys only: presence
    ledger.fail({ pk: 'f1' }, 'why');
    expect(ledger.counts).toMatchObject({ compared: 6, found: 3, missing: 3, different: 1, failed: 1 });
    expect(ledger.firstMissing).toEqual([{ pk: 'm1' }, { pk: 'm2' }]);
    expect(ledger.firstDifferent).toEqual([{ pk: 'd1' }]);
    expect(ledger.differentAttributes).toEqual([['n']]);
    expect(ledger.firstFailed).toEqual([{ key: { pk: 'f1' }, error: 'why' }]);
    expect(ledger.extra(10)).toBe(7);
    expect(ledger.extra(2)).toBe(0); // B changed meanwhile: never below 0
    expect(ledger.extra(undefined)).toBeNull();
  });

  it('should place a key in [0, 1) by its canonical value, the same every time', () => {
    const point = samplePoint({ pk: { N: '1.0' } }, ['pk']);
    expect(point).toBeGreaterThanOrEqual(0);
    expect(point).toBeLessThan(1);
    expect(samplePoint({ pk: { N: '1' } }, ['pk'])).toBe(point);
    expect(samplePoint({ pk: { S: '1' } }, ['pk'])).not.toBe(point);
    const points = Array.from({ length: 1_000 }, (_, i) => samplePoint({ pk: { S: `k${i}` } }, ['pk']));
    expect(points.filter((p) => p < 0.25).length).toBeGreaterThan(200);
    expect(points.filter((p) => p < 0.25).length).toBeLessThan(300);
  });
});

/** A table with this key (partition key first), on-demand. */
async function rawTable(client: DynamoDBClient, prefix: string, key: Array<[string, ScalarAttributeType]>): Promise<string> {
  const table = uniqueTable(prefix);
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: key.map(([name], i) => ({ AttributeName: name, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
      AttributeDefinitions: key.map(([name, type]) => ({ AttributeName: name, AttributeType: type })),
    }),
  );
  return table;
}

/** Puts (items) or deletes (keys, `{ delete }`) exactly these AttributeValues, 25 a call. */
async function writeRaw(client: DynamoDBClient, table: string, items: Raw[], remove = false): Promise<void> {
  for (let i = 0; i < items.length; i += 25)
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table]: items.slice(i, i + 25).map((item) => (remove ? { DeleteRequest: { Key: item } } : { PutRequest: { Item: item } })),
        },
      }),
    );
}

/** The output of `--json`: the key lines and the summary (the last line). */
function parseJson(stdout: string): { lines: Line[]; summary: Line } {
  const all = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
  return { lines: all.slice(0, -1), summary: all.at(-1)! };
}

/** The keys of the lines of one kind, sorted (their order depends on the scan and the calls). */
const keysOf = (lines: Line[], kind: string) =>
  lines
    .filter((l) => l.kind === kind)
    .map((l) => JSON.stringify(l.key))
    .sort();
const sortedJson = (keys: Raw[]) => keys.map((k) => JSON.stringify(k)).sort();

/** Odd integers from 2^60: a JavaScript number rounds each to a multiple of 256, so neighbours collide there. */
const id = (i: number) => String(2n ** 60n + 2n * BigInt(i) + 1n);
const PRICE = '12345678901234567890.123456789012345678'; // 38 significant digits

/** An item of the 64-bit table as A holds it. */
const item = (i: number): Raw => ({
  pk: { N: id(i) },
  price: { N: PRICE },
  tags: { SS: ['red', 'green', '𝄞 clef'] },
  ids: { NS: [String(TWO_53 + 1n), String(TWO_53 + 3n), '0.1'] },
  blobs: { BS: [bin(0, 255, i % 256), bin(1, 2, 3)] },
  name: { S: `item ${i} 😀𝄞` },
  doc: {
    M: {
      list: { L: [{ N: '1' }, { S: 'two' }, { M: { deep: { N: id(i) }, flag: { BOOL: true }, nothing: { NULL: true } } }] },
      raw: { B: bin(i % 256, 7) },
    },
  },
});

/** The same item as B is given it: sets in another order, numbers in other spellings of the same value. */
const respelled = (i: number): Raw => ({
  ...item(i),
  tags: { SS: ['𝄞 clef', 'green', 'red'] },
  ids: { NS: ['0.10', String(TWO_53 + 3n), String(TWO_53 + 1n)] },
  blobs: { BS: [bin(1, 2, 3), bin(0, 255, i % 256)] },
  doc: {
    M: {
      raw: { B: bin(i % 256, 7) },
      list: { L: [{ N: '1.0' }, { S: 'two' }, { M: { nothing: { NULL: true }, flag: { BOOL: true }, deep: { N: `${id(i)}.000` } } }] },
    },
  },
});

const ITEMS = 40;
const MISSING = [3, 17, 29];
const EXTRA = [1000, 1001];
/** What is changed in B, by item, and the attribute that differs then. */
const CHANGES: Record<number, [string, (raw: Raw) => void]> = {
  5: ['price', (r) => (r.price = { N: '12345678901234567890.123456789012345679' })],
  8: ['ids', (r) => (r.ids = { NS: [String(TWO_53), String(TWO_53 + 3n), '0.1'] })],
  11: ['blobs', (r) => (r.blobs = { BS: [bin(0, 254, 11), bin(1, 2, 3)] })],
  14: ['tags', (r) => (r.tags = { SS: ['red', 'green', '𝄢 clef'] })],
  20: ['doc', (r) => r.doc!.M!.list!.L!.reverse()],
  23: ['doc', (r) => (r.doc!.M!.list!.L![2]!.M!.deep = { N: String(2n ** 60n + 2n * 23n + 3n) })],
  26: ['name', (r) => delete r.name],
  31: ['note', (r) => (r.note = { S: 'only in B' })],
  35: ['price', (r) => (r.price = { S: PRICE })],
};

describe('rxjs-dynamodb diff', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];
  const diff = (from: string, to: string, ...args: string[]) => runCli(['diff', '--from', from, '--to', to, ...args, ...connection]);

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  /** A: 40 items; B: the same, respelled, less 3, plus 2, 9 changed. */
  const planted = async () => {
    const from = await rawTable(client, 'DiffFrom', [['pk', 'N']]);
    const to = await rawTable(client, 'DiffTo', [['pk', 'N']]);
    await writeRaw(
      client,
      from,
      Array.from({ length: ITEMS }, (_, i) => item(i)),
    );
    const b = Array.from({ length: ITEMS }, (_, i) => i)
      .filter((i) => !MISSING.includes(i))
      .map((i) => {
        const raw = respelled(i);
        CHANGES[i]?.[1](raw);
        return raw;
      });
    await writeRaw(client, to, [...b, ...EXTRA.map((i) => item(i))]);
    return { from, to };
  };
  const pk = (i: number) => ({ pk: { N: id(i) } });

  it('should report exactly the missing, extra and different items, keys to the last digit, the same with 1 or 4 segments', async () => {
    const { from, to } = await planted();
    const runs = [];
    for (const segments of ['1', '4']) {
      const run = await diff(from, to, '--json', '--show', '20', '--segments', segments);
      expect(run.code).toBe(1);
      const { lines, summary } = parseJson(run.stdout);
      expect(summary).toMatchObject({
        command: 'diff',
        ok: true,
        equal: false,
        complete: true,
        scanned: ITEMS,
        compared: ITEMS,
        found: ITEMS - 3,
        missing: 3,
        extra: 2,
        different: 9,
        failed: 0,
        itemsInTo: ITEMS - 3 + 2,
        extraChecked: true,
        extraKeysListed: true,
        totalSegments: Number(segments),
        exitCode: 1,
      });
      expect(keysOf(lines, 'missing')).toEqual(sortedJson(MISSING.map(pk)));
      expect(keysOf(lines, 'extra')).toEqual(sortedJson(EXTRA.map(pk)));
      expect(keysOf(lines, 'different')).toEqual(sortedJson(Object.keys(CHANGES).map((i) => pk(Number(i)))));
      for (const [i, [attribute]] of Object.entries(CHANGES))
        expect(lines.find((l) => l.kind === 'different' && l.key!.pk!.N === id(Number(i)))?.attributes).toEqual([attribute]);
      expect(lines).toHaveLength(3 + 2 + 9);
      runs.push({
        ...summary,
        elapsedMs: 0,
        totalSegments: 0,
        calls: 0,
        scanCalls: 0,
        batchGetCalls: 0,
        unitsConsumed: 0,
        batchGetUnits: 0,
      });
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('should show the first --show keys of each kind to people, with every digit', async () => {
    const { from, to } = await planted();
    const run = await diff(from, to, '--show', '2');
    expect(run.code).toBe(1);
    const out = run.stdout;
    expect(out).toContain(`diff ${from} -> ${to}: not equal: 3 missing, 2 extra, 9 different\n`);
    expect(out).toContain(`  ${ITEMS} items of ${from} read, ${ITEMS} compared; ${ITEMS - 1} items in ${to}\n`);
    expect(out).toContain(`missing from ${to} (first 2 of 3):\n`);
    expect(out).toContain(`extra in ${to} (2):\n`);
    expect(out).toContain('different (first 2 of 9):\n');
    const shownKeys = [...out.matchAll(/^ {2}\{"pk":(\d+)\}/gm)].map((m) => m[1]!);
    expect(shownKeys).toHaveLength(6);
    const all = [...MISSING, ...EXTRA, ...Object.keys(CHANGES).map(Number)].map(id);
    for (const k of shownKeys) expect(all).toContain(k);
    expect(out).toContain(`{"pk":${id(1000)}}`); // both extras are shown, digit for digit
    expect(out).toContain(`{"pk":${id(1001)}}`);
  });

  it('should ignore value differences with --keys-only', async () => {
    const { from, to } = await planted();
    const run = await diff(from, to, '--keys-only', '--json');
    expect(run.code).toBe(1);
    const { lines, summary } = parseJson(run.stdout);
    expect(summary).toMatchObject({ keysOnly: true, compared: ITEMS, missing: 3, extra: 2, different: 0, equal: false });
    expect(keysOf(lines, 'missing')).toEqual(sortedJson(MISSING.map(pk)));
    expect(keysOf(lines, 'extra')).toEqual(sortedJson(EXTRA.map(pk)));
    expect(keysOf(lines, 'different')).toEqual([]);
  });

  it('should exit 0 for equal tables whose sets and numbers were written in other orders and spellings', async () => {
    const from = await rawTable(client, 'DiffEqFrom', [['pk', 'N']]);
    const to = await rawTable(client, 'DiffEqTo', [['pk', 'N']]);
    await writeRaw(
      client,
      from,
      Array.from({ length: ITEMS }, (_, i) => item(i)),
    );
    await writeRaw(
      client,
      to,
      Array.from({ length: ITEMS }, (_, i) => respelled(i)),
    );
    for (const extra of [[], ['--keys-only'], ['--segments', '3']]) {
      const run = await diff(from, to, '--json', ...extra);
      expect(run.code).toBe(0);
      const { lines, summary } = parseJson(run.stdout);
      expect(lines).toEqual([]);
      expect(summary).toMatchObject({ ok: true, equal: true, compared: ITEMS, missing: 0, extra: 0, different: 0, exitCode: 0 });
    }
    const human = await diff(from, to);
    expect(human).toMatchObject({ code: 0 });
    expect(human.stdout).toBe(
      `diff ${from} -> ${to}: equal: 0 missing, 0 extra, 0 different\n  ${ITEMS} items of ${from} read, ${ITEMS} compared; ${ITEMS} items in ${to}\n`,
    );
  });

  it('should name binary keys and sort keys beyond the BMP exactly (base64, every character)', async () => {
    const key: Array<[string, ScalarAttributeType]> = [
      ['pk', 'B'],
      ['sk', 'S'],
    ];
    const from = await rawTable(client, 'DiffBinFrom', key);
    const to = await rawTable(client, 'DiffBinTo', key);
    const binItem = (i: number): Raw => ({ pk: { B: bin(0, i, 255) }, sk: { S: `𝄞-${i}` }, v: { NS: ['1', String(TWO_53 + BigInt(i))] } });
    const items = Array.from({ length: 12 }, (_, i) => binItem(i));
    await writeRaw(client, from, items);
    const extra: Raw = { pk: { B: bin(9, 9, 9) }, sk: { S: '😀' } };
    await writeRaw(client, to, [...items.filter((_, i) => i !== 4), extra]);

    const run = await diff(from, to, '--json');
    expect(run.code).toBe(1);
    const { lines, summary } = parseJson(run.stdout);
    expect(lines).toEqual([
      { kind: 'missing', key: { pk: { B: b64(0, 4, 255) }, sk: { S: '𝄞-4' } } },
      { kind: 'extra', key: { pk: { B: b64(9, 9, 9) }, sk: { S: '😀' } } },
    ]);
    expect(summary).toMatchObject({ missing: 1, extra: 1, different: 0, equal: false });

    // made equal: exit 0
    await writeRaw(client, to, [items[4]!]);
    await writeRaw(client, to, [extra], true);
    const again = await diff(from, to, '--json');
    expect(again.code).toBe(0);
    expect(parseJson(again.stdout)).toMatchObject({ lines: [], summary: { equal: true, compared: 12, extra: 0 } });
  });

  it('should compare through --transform: dropped items not expected, a throw counted as failed, extras counted only', async () => {
    const from = await rawTable(client, 'DiffTxFrom', [['pk', 'S']]);
    const to = await rawTable(client, 'DiffTxTo', [['id', 'S']]);
    const source = Array.from({ length: 20 }, (_, i) => ({
      pk: { S: `o#${i}` },
      title: { S: `title ${i} 𝄞` },
      status: { S: i % 4 === 0 ? 'closed' : 'open' },
    }));
    await writeRaw(client, from, source);
    const transform = join(tempDir(), 'transform.mjs');
    // a Set in another order than B holds, a NumberValue of 2.50 (B holds 2.5), a bigint beyond 2^53
    writeFileSync(
      transform,
      `import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});
const { NumberValueImpl: NumberValue } = require('@aws-sdk/util-dynamodb');
export default async (item) => {
  if (item.status === 'closed') return undefined;
  if (item.pk === 'o#13' && process.env.DIFF_TEST_THROW) throw new Error('cannot map o#13');
  return { id: item.pk, title: item.title.toUpperCase(), price: NumberValue.from('2.50'), big: 2n ** 53n + 1n, tags: new Set(['z', 'a', 'm']) };
};
`,
    );
    const expected = (i: number): Raw => ({
      id: { S: `o#${i}` },
      title: { S: `TITLE ${i} 𝄞` },
      price: { N: '2.5' },
      big: { N: String(TWO_53 + 1n) },
      tags: { SS: ['a', 'm', 'z'] },
    });
    const open = source.map((_, i) => i).filter((i) => i % 4 !== 0); // 15
    const changed = { ...expected(3), big: { N: String(TWO_53) } }; // the same as 2^53 + 1 through a number
    // B lacks o#2 (missing) and o#13 (the transform throws for it), holds o#3 changed, and x#1 (an extra)
    await writeRaw(client, to, [...open.filter((i) => ![2, 3, 13].includes(i)).map(expected), changed, { id: { S: 'x#1' } }]);

    const run = await runCli(['diff', '--from', from, '--to', to, '--transform', transform, '--json', ...connection], {
      env: { DIFF_TEST_THROW: '1' },
    });
    expect(run.code).toBe(1);
    const { lines, summary } = parseJson(run.stdout);
    expect(summary).toMatchObject({
      scanned: 20,
      dropped: 5,
      failed: 1,
      compared: 14,
      found: 13,
      missing: 1,
      different: 1,
      extra: 1,
      itemsInTo: 14,
      extraChecked: true,
      extraKeysListed: false,
      equal: false,
      transform,
    });
    expect(summary.extraNote).toMatch(/transform/);
    expect(lines).toEqual([
      { kind: 'missing', key: { id: { S: 'o#2' } } },
      { kind: 'different', key: { id: { S: 'o#3' } }, attributes: ['big'] },
      { kind: 'failed', key: { pk: { S: 'o#13' } }, error: 'the transform threw: cannot map o#13' },
    ]);

    // B fixed, and the transform no longer throws: equal, though B holds 2.5 and the sets in another order
    await writeRaw(client, to, [expected(2), expected(3), expected(13)]);
    await writeRaw(client, to, [{ id: { S: 'x#1' } }], true);
    const again = await diff(from, to, '--transform', transform, '--json');
    expect(again.code).toBe(0);
    expect(parseJson(again.stdout)).toMatchObject({ lines: [], summary: { equal: true, compared: 15, dropped: 5, extra: 0 } });
  });

  it('should check the same sample on every run (--sample), by a hash of the key, and say that extras are not checked', async () => {
    const from = await rawTable(client, 'DiffSampleFrom', [['pk', 'S']]);
    const to = await rawTable(client, 'DiffSampleTo', [['pk', 'S']]);
    const row = (i: number, n: string): Raw => ({ pk: { S: `s#${i}` }, n: { N: n } });
    await writeRaw(
      client,
      from,
      Array.from({ length: 400 }, (_, i) => row(i, String(TWO_53 + 1n))),
    );
    // every fifth item differs (invisibly through a number), and B has 3 extras
    await writeRaw(client, to, [
      ...Array.from({ length: 400 }, (_, i) => row(i, String(i % 5 === 0 ? TWO_53 : TWO_53 + 1n))),
      ...[900, 901, 902].map((i) => row(i, '0')),
    ]);
    const inSample = Array.from({ length: 400 }, (_, i) => i).filter((i) => samplePoint({ pk: { S: `s#${i}` } }, ['pk']) < 0.25);
    const different = inSample.filter((i) => i % 5 === 0);
    expect(inSample.length).toBeGreaterThan(50); // the sample is a real fraction of the table
    expect(different.length).toBeGreaterThan(5);

    const results = [];
    for (const segments of ['1', '4', '1']) {
      const run = await diff(from, to, '--sample', '0.25', '--segments', segments, '--show', '1000', '--json');
      expect(run.code).toBe(1);
      const { lines, summary } = parseJson(run.stdout);
      expect(summary).toMatchObject({
        scanned: 400,
        outOfSample: 400 - inSample.length,
        compared: inSample.length,
        different: different.length,
        missing: 0,
        extra: null,
        itemsInTo: null,
        extraChecked: false,
        sample: 0.25,
      });
      expect(keysOf(lines, 'different')).toEqual(sortedJson(different.map((i) => ({ pk: { S: `s#${i}` } }))));
      results.push(keysOf(lines, 'different'));
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);

    const human = await diff(from, to, '--sample', '0.25');
    expect(human.stdout).toContain(`: not equal: 0 missing, extras not checked, ${different.length} different\n`);
    expect(human.stdout).toContain(`note: --sample compares a sample of ${from} only: extras in ${to} are not checked\n`);
    const whole = await diff(from, to, '--sample', '1', '--json');
    expect(parseJson(whole.stdout).summary).toMatchObject({ compared: 400, different: 80, extra: null });
    const full = await diff(from, to, '--json');
    expect(parseJson(full.stdout).summary).toMatchObject({ compared: 400, different: 80, extra: 3, extraKeysListed: true });
  });

  it('should exit 3 naming a missing table, and 2 on a bad --sample or --show', async () => {
    const table = await rawTable(client, 'DiffOne', [['pk', 'S']]);
    const noFrom = await diff(`${table}-missing`, table);
    expect(noFrom.code).toBe(3);
    expect(noFrom.stderr).toContain(`table ${table}-missing does not exist (check --from, --endpoint and --region)`);
    const noTo = await diff(table, `${table}-missing`, '--json');
    expect(noTo.code).toBe(3);
    expect(noTo.stderr).toContain(`table ${table}-missing does not exist (check --to, --endpoint and --region)`);
    expect(parseJson(noTo.stdout).summary).toMatchObject({ command: 'diff', ok: false, exitCode: 3 });
    for (const bad of [
      ['--sample', '0'],
      ['--sample', '1.5'],
      ['--sample', 'x'],
      ['--show', '-1'],
    ]) {
      const run = await diff(table, table, ...bad);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`option '${bad[0]} `);
    }
  });
});
