/**
 * The CLI's file formats round-trip every DynamoDB value (issue 8): export → import through DynamoDB JSON and plain
 * JSON, gzipped files and the folder of a DynamoDB export, compared attribute by attribute on the raw AttributeValues
 * DynamoDB Local holds (numbers by their canonical value: DynamoDB rewrites number text).
 */
import { type AttributeValue, BatchWriteItemCommand, CreateTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalNumber } from '../../src/internal/numbers.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, tempDir } from './helpers.js';

type Raw = Record<string, AttributeValue>;

const bytes = (...b: number[]) => new Uint8Array(b);
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
/** A map with an ordinary attribute named __proto__ (an object literal would set the prototype instead). */
const withProto = (value: AttributeValue, rest: Raw): Raw => Object.defineProperty({ ...rest }, '__proto__', { value, enumerable: true });

/** Items of every type, as AttributeValues: what a table written by any tool may hold. */
function everyType(pk: (i: number) => AttributeValue, sk?: (i: number) => AttributeValue): Raw[] {
  return Array.from({ length: 6 }, (_, i) => ({
    pk: pk(i),
    ...(sk ? { sk: sk(i) } : {}),
    name: { S: `ticket ${i} 🦄𝄞 naïve` },
    empty: { S: '' },
    digits38: { N: `${i + 1}2345678901234567890123456789012345678`.slice(0, 38) },
    tiny: { N: '1E-130' },
    huge: { N: '9.9999999999999999999999999999999999999E+125' },
    negative: { N: `-${i}.000000000000000000000000000000000001` },
    u64: { N: '18446744073709551615' },
    i64: { N: `-9223372036854775${800 + i}` },
    decimal: { N: '0.12345678901234567890123' },
    price: { N: '19.99' },
    blob: { B: bytes(0, 255, i, 0x80) },
    emptyBlob: { B: bytes() },
    open: { BOOL: i % 2 === 0 },
    nothing: { NULL: true },
    tags: { SS: ['urgent', '🦄', `t${i}`] },
    ids: { NS: ['18446744073709551615', '-1.5', '12345678901234567890123456789012345678', `${i}`] },
    blobs: { BS: [bytes(1), bytes(2, 3), bytes(i + 10)] },
    history: { L: [{ N: '1' }, { S: 'opened' }, { M: { at: { N: '1700000000123' }, by: { L: [{ NULL: true }, { BOOL: false }] } } }] },
    meta: {
      M: withProto(
        { S: 'an attribute named __proto__' },
        { nested: { M: { pi: { N: '3.1415926535897932384626433832795028841' } } }, empty: { M: {} } },
      ),
    },
  }));
}

/** An AttributeValue as DynamoDB compares it: numbers canonical, sets sorted, binary as base64. */
function canonical(v: AttributeValue): unknown {
  if (v.N !== undefined) return { N: canonicalNumber(v.N) };
  if (v.B !== undefined) return { B: b64(v.B) };
  if (v.NS) return { NS: v.NS.map(canonicalNumber).sort() };
  if (v.SS) return { SS: [...v.SS].sort() };
  if (v.BS) return { BS: v.BS.map(b64).sort() };
  if (v.L) return { L: v.L.map(canonical) };
  if (v.M) return { M: canonicalItem(v.M) };
  return v;
}
const canonicalItem = (item: Raw) => Object.fromEntries(Object.keys(item).map((k) => [k, canonical(item[k]!)]));

/** What plain JSON keeps of a value (README): sets become lists, binary becomes a base64 string. */
function plain(v: AttributeValue): AttributeValue {
  if (v.B !== undefined) return { S: b64(v.B) };
  if (v.SS) return { L: v.SS.map((S) => ({ S })) };
  if (v.NS) return { L: v.NS.map((N) => ({ N })) };
  if (v.BS) return { L: v.BS.map((b) => ({ S: b64(b) })) };
  if (v.L) return { L: v.L.map(plain) };
  if (v.M) return { M: Object.fromEntries(Object.keys(v.M).map((k) => [k, plain(v.M![k]!)])) };
  return v;
}

/** Every item of a table as DynamoDB holds it (low-level Scan), keyed by its key. */
async function rawItems(client: DynamoDBClient, table: string): Promise<Map<string, Raw>> {
  const items = new Map<string, Raw>();
  let ExclusiveStartKey: Raw | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    for (const item of page.Items ?? []) items.set(JSON.stringify([canonical(item.pk!), item.sk && canonical(item.sk)]), item);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** Expects two tables to hold the same items, attribute by attribute (after `expected` maps the first's values). */
async function expectSameItems(
  client: DynamoDBClient,
  from: string,
  to: string,
  expected: (v: AttributeValue) => AttributeValue = (v) => v,
) {
  const source = await rawItems(client, from);
  const target = await rawItems(client, to);
  expect([...target.keys()].sort()).toEqual([...source.keys()].sort());
  for (const [key, item] of source) {
    const copy = target.get(key)!;
    expect(Object.keys(copy).sort(), key).toEqual(Object.keys(item).sort());
    for (const name of Object.keys(item)) expect(canonical(copy[name]!), `${key} ${name}`).toEqual(canonical(expected(item[name]!)));
  }
  return source.size;
}

async function createRawTable(client: DynamoDBClient, name: string, key: Array<[string, 'S' | 'N' | 'B']>, items: Raw[]) {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: key.map(([AttributeName], i) => ({ AttributeName, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
      AttributeDefinitions: key.map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    }),
  );
  await client.send(new BatchWriteItemCommand({ RequestItems: { [name]: items.map((Item) => ({ PutRequest: { Item } })) } }));
  return name;
}

describe('rxjs-dynamodb file formats (issue 8: every value survives every path)', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];
  const dir = tempDir();
  let stringKeyed: string;
  let binaryKeyed: string;

  beforeAll(async () => {
    await ensureBuilt();
    // a string partition key with a 38-digit number sort key, and a binary partition key
    stringKeyed = await createRawTable(
      client,
      uniqueTable('CliEveryType'),
      [
        ['pk', 'S'],
        ['sk', 'N'],
      ],
      everyType(
        (i) => ({ S: `tenant#${i % 2} 𝄞` }),
        (i) => ({ N: `1234567890123456789012345678901234567${i}` }),
      ),
    );
    binaryKeyed = await createRawTable(
      client,
      uniqueTable('CliEveryTypeB'),
      [['pk', 'B']],
      everyType((i) => ({ B: bytes(0xff, i, 0) })),
    );
  }, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should export DynamoDB JSON lines as DynamoDB exports them and import them back exactly, string and binary keys', async () => {
    for (const [table, key] of [
      [stringKeyed, 'pk:S,sk:N'],
      [binaryKeyed, 'pk:B'],
    ] as const) {
      const file = join(dir, `${table}.ddb.json`);
      const exported = await runCli([
        'export',
        '--table',
        table,
        '--format',
        'dynamodb-json',
        '--output',
        file,
        '--page-size',
        '4',
        '--json',
        ...connection,
      ]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toBe(''); // the lines went to the file
      expect(exported.stderr).not.toMatch(/warning/);
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(6);
      for (const line of lines) {
        const parsed = JSON.parse(line) as { Item: Record<string, Record<string, unknown>> };
        expect(Object.keys(parsed)).toEqual(['Item']);
        expect(typeof parsed.Item.u64!.N).toBe('string'); // numbers as text, binary as base64, sets as arrays
        expect(parsed.Item.ids!.NS).toHaveLength(4);
        expect(Array.isArray(parsed.Item.blobs!.BS)).toBe(true);
        expect(parsed.Item.emptyBlob).toEqual({ B: '' });
      }

      const copy = uniqueTable('CliEveryTypeCopy');
      const imported = await runCli([
        'import',
        file,
        '--table',
        copy,
        '--format',
        'dynamodb-json',
        '--create-table',
        '--key',
        key,
        '--json',
        ...connection,
      ]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(jsonSummary(imported.stdout)).toMatchObject({ format: 'dynamodb-json', written: 6, failed: 0 });
      expect(await expectSameItems(client, table, copy)).toBe(6);
      const [one] = (await rawItems(client, copy)).values();
      expect(Object.keys(one!.meta!.M!)).toContain('__proto__'); // compared above like any other attribute
    }
  });

  it('should import the folder of a DynamoDB export (manifest-files.json, gzipped data files) without --format', async () => {
    const file = join(dir, 'for-folder.ddb.json');
    await runCli(['export', '--table', stringKeyed, '--format', 'dynamodb-json', '--output', file, ...connection]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const id = '01700000000000-abcd1234';
    const root = join(dir, 'download', 'AWSDynamoDB', id);
    mkdirSync(join(root, 'data'), { recursive: true });
    const parts = [lines.slice(0, 4), lines.slice(4)];
    const manifest = parts.map((part, i) => {
      writeFileSync(join(root, 'data', `part${i}.json.gz`), gzipSync(`${part.join('\n')}\n`));
      return JSON.stringify({
        itemCount: part.length,
        md5Checksum: 'x',
        etag: 'y',
        dataFileS3Key: `exports/AWSDynamoDB/${id}/data/part${i}.json.gz`,
      });
    });
    writeFileSync(join(root, 'manifest-files.json'), `${manifest.join('\n')}\n`);

    const copy = uniqueTable('CliFromExportFolder');
    const imported = await runCli([
      'import',
      join(dir, 'download'),
      '--table',
      copy,
      '--create-table',
      '--key',
      'pk:S,sk:N',
      '--json',
      ...connection,
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(jsonSummary(imported.stdout)).toMatchObject({ format: 'dynamodb-json', lines: 6, written: 6 });
    expect(await expectSameItems(client, stringKeyed, copy)).toBe(6);
  });

  it('should keep every digit in plain JSON, lose only what the README says (sets to lists, binary to base64), and warn once', async () => {
    const file = join(dir, 'plain.ndjson');
    const exported = await runCli(['export', '--table', stringKeyed, '--output', file, ...connection]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr.match(/warning/g)).toHaveLength(1);
    expect(exported.stderr).toMatch(/export: warning: plain JSON has no (sets|binary) .* --format dynamodb-json keeps them/);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"u64":18446744073709551615');
    expect(text).toContain('"decimal":0.12345678901234567890123');

    // gzipped, and read without --format (by the magic bytes, whatever the name)
    writeFileSync(`${file}.gz`, gzipSync(text));
    const copy = uniqueTable('CliPlainCopy');
    const imported = await runCli([
      'import',
      `${file}.gz`,
      '--table',
      copy,
      '--create-table',
      '--key',
      'pk:S,sk:N',
      '--json',
      ...connection,
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(jsonSummary(imported.stdout)).toMatchObject({ format: 'ndjson', written: 6, failed: 0 });
    expect(await expectSameItems(client, stringKeyed, copy, plain)).toBe(6);
  });

  it('should store long decimals and 64-bit integers exactly from NDJSON, and dead-letter bad lines as their original text', async () => {
    const table = uniqueTable('CliNdjsonExact');
    const file = join(dir, 'exact.ndjson');
    const badUtf8 = Buffer.concat([Buffer.from('{"pk":"caf'), Buffer.from([0xe9]), Buffer.from('","n":1}')]);
    const lines = [
      '{"pk":"t#1","amount":0.12345678901234567890123,"id":18446744073709551615,"neg":-9223372036854775808}',
      '{"pk":"t#2","n":123456789012345678901234567890123456789}', // 39 digits
      badUtf8,
      '{"pk":"t#4","meta":{"__proto__":{"kept":true}},"big":[1e125,1e-130]}',
      '{"__proto__":"top-level","pk":"t#5"}', // the SDK could not read it back: refused
      '{"pk":"t#6","tiny":1e-400}',
      '{"pk":"t#7","unicode":"🦄𝄞","ok":true}',
    ];
    writeFileSync(file, Buffer.concat(lines.flatMap((l) => [typeof l === 'string' ? Buffer.from(l) : l, Buffer.from('\n')])));
    const deadLetter = join(dir, 'exact.dead-letter.ndjson');

    const run = await runCli([
      'import',
      file,
      '--table',
      table,
      '--create-table',
      '--key',
      'pk',
      '--dead-letter',
      deadLetter,
      '--json',
      ...connection,
    ]);

    expect(run.code).toBe(1);
    expect(jsonSummary(run.stdout)).toMatchObject({ written: 3, failed: 4 });
    expect(run.stderr).toMatch(/line 2: attribute n: 123456789012345678901234567890123456789 has 39 significant digits/);
    expect(run.stderr).toMatch(/line 3: not valid UTF-8/);
    expect(run.stderr).toMatch(/line 5: .*__proto__/);
    expect(run.stderr).toMatch(/line 6: attribute tiny: 1e-400 is smaller than/);
    const dead = readFileSync(deadLetter, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; text: string; base64?: string });
    expect(dead.map((d) => d.line).sort()).toEqual([2, 3, 5, 6]);
    expect(dead.find((d) => d.line === 2)!.text).toBe(lines[1]); // the original digits, not a rounded number
    expect(Buffer.from(dead.find((d) => d.line === 3)!.base64!, 'base64')).toEqual(badUtf8);
    expect(dead.find((d) => d.line === 5)!.text).toBe(lines[4]);

    const stored = await rawItems(client, table);
    expect(stored.size).toBe(3);
    const t1 = [...stored.values()].find((i) => i.pk!.S === 't#1')!;
    expect(t1.amount).toEqual({ N: '0.12345678901234567890123' });
    expect(t1.id).toEqual({ N: '18446744073709551615' });
    expect(t1.neg).toEqual({ N: '-9223372036854775808' });
    const t4 = [...stored.values()].find((i) => i.pk!.S === 't#4')!;
    expect(Object.keys(t4.meta!.M!)).toEqual(['__proto__']);
    expect(canonical(t4.big!)).toEqual(canonical({ L: [{ N: '1E+125' }, { N: '1E-130' }] }));
  });

  it('should copy every type exactly, string and binary keys, through copy --create-table (issue 8)', async () => {
    for (const source of [stringKeyed, binaryKeyed]) {
      const target = uniqueTable('CliEveryTypeCopy');
      const run = await runCli(['copy', '--from', source, '--to', target, '--create-table', '--json', ...connection]);
      expect(run.code, run.stderr).toBe(0);
      expect(jsonSummary(run.stdout)).toMatchObject({ ok: true, written: 6, failed: 0 });
      expect(await expectSameItems(client, source, target)).toBe(6);
    }
  });
});
