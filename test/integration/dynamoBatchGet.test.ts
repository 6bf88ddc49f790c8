import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { BatchGetItemCommand, type BatchGetItemCommandOutput, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  BatchGetError,
  BatchGetFailure,
  type DynamoDBSender,
  dynamoBatchGet,
  dynamoBatchGetRequests,
  dynamoBatchWrite,
  type GetResponse,
  type Item,
  itemSize,
  type Key,
} from 'rxjs-dynamodb';
import { capacityStats, faultStats, withFaults, withSimulatedCapacity } from 'rxjs-dynamodb/testing';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
/** 5,000 items written once in `beforeAll`; every test here only reads them. */
let table: string;
const items: Item[] = Array.from({ length: 5_000 }, (_, i) => ({
  pk: `t#${i}`,
  n: i,
  name: `ticket ${i}`,
  status: i % 3 === 0 ? 'open' : 'closed',
  tags: [`q${i % 7}`, 'all'],
  detail: { priority: i % 5, note: `note ${i} ✓` },
}));
const itemByPk = new Map(items.map((item) => [item.pk as string, item]));

const fast = { baseDelayMs: 1, maxDelayMs: 20 };
const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a.pk).localeCompare(String(b.pk)) || Number(a.sk ?? 0) - Number(b.sk ?? 0);
const sorted = <T extends Record<string, unknown>>(list: T[]) => [...list].sort(byKey);
const run = <T>(values$: Observable<T>) => lastValueFrom(values$.pipe(toArray()), { defaultValue: [] as T[] });
const failureOf = <T>(values$: Observable<T>) =>
  run(values$).then(
    (values) => {
      throw new Error(`expected the stream to error, it completed with ${values.length} values`);
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(BatchGetError);
      return error as BatchGetError;
    },
  );

/** Every present key once, 300 missing keys, and 100 present keys asked a second time (some in the same batch), shuffled. */
const askedKeys: Key[] = (() => {
  const keys: Key[] = items.map((item) => ({ pk: item.pk }));
  for (let i = 0; i < 300; i++) keys.push({ pk: `missing#${i}` });
  for (let i = 0; i < 100; i++) keys.push({ pk: `t#${i * 37}` });
  // a deterministic shuffle, so that repeats land both in the same batch as their first ask and in other batches
  let seed = 12345;
  for (let i = keys.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  keys.push({ pk: 't#4999' }, { pk: 't#4999' }); // the same key twice more, in a row
  return keys;
})();
/** What reading `askedKeys` must give: each present key's item once per time it was asked. */
const expectedItems = sorted(askedKeys.flatMap((key) => (itemByPk.has(key.pk as string) ? [itemByPk.get(key.pk as string)!] : [])));

beforeAll(async () => {
  client = localClient(inject('dynamoEndpoint'));
  table = await createTable(client, uniqueTable('BatchGet'));
  await run(from(items).pipe(dynamoBatchWrite(client, table, { concurrency: 8 })));
  expect(sorted(await scanAll(client, table))).toEqual(sorted(items));
});
afterAll(() => client.destroy());

/** A sender in front of `c` that records the input and output of every BatchGetItem call made through it. */
function recording(c: DynamoDBSender) {
  const calls: Array<{ input: BatchGetItemCommand['input']; output?: BatchGetItemCommandOutput }> = [];
  const sender: DynamoDBSender = {
    send: async (command, options) => {
      const result = await (c.send(command, options) as Promise<unknown>);
      if (command instanceof BatchGetItemCommand) calls.push({ input: command.input, output: result as BatchGetItemCommandOutput });
      return result;
    },
  };
  return { calls, sender };
}

const clientKinds = [
  ['a DynamoDBClient', (c: DynamoDBClient): DynamoDBSender => c],
  ['a DynamoDBDocumentClient', (c: DynamoDBClient): DynamoDBSender => DynamoDBDocumentClient.from(c)],
] as const;

describe('dynamoBatchGet against DynamoDB Local', () => {
  it.each(clientKinds)(
    'should read back 5,000 items with %s: once per ask, a repeated key twice, missing keys nothing',
    async (_, wrap) => {
      expect(askedKeys.length).toBe(5_402);

      const got = await run(from(askedKeys).pipe(dynamoBatchGet(wrap(client), table)));

      expect(got.length).toBe(5_102);
      expect(got.filter((item) => item.pk === 't#4999')).toHaveLength(3); // once among all keys, then twice in a row
      expect(got.filter((item) => item.pk === 't#0')).toHaveLength(2); // 0 * 37
      expect(got.filter((item) => item.pk === 't#1')).toHaveLength(1);
      expect(got.some((item) => String(item.pk).startsWith('missing#'))).toBe(false);
      expect(sorted(got)).toEqual(expectedItems);
    },
  );

  it.each(clientKinds)('should read back the same items with %s when 30% of the keys come back unprocessed', async (_, wrap) => {
    const faulty = withFaults(wrap(client), { unprocessedRate: 0.3, seed: 7 });

    const got = await run(from(askedKeys).pipe(dynamoBatchGet(faulty, table, { maxAttempts: 25, backoff: fast })));

    expect(sorted(got)).toEqual(expectedItems);
    const stats = faultStats(faulty);
    expect(stats.requestsUnprocessed).toBeGreaterThan(1_000);
    expect(stats.batchCalls).toBeGreaterThan(Math.ceil(askedKeys.length / 100));
  });

  it('should read back the same items through a simulated 2,000 read units per second', async () => {
    // 5,402 keys of items under 4 KB cost about 2,700 units of eventual reads; a quarter-second bucket (500 units) runs dry
    const limited = withSimulatedCapacity(client, { readUnitsPerSecond: 2_000, burstSeconds: 0.25 });

    const got = await run(
      from(askedKeys).pipe(dynamoBatchGet(limited, table, { maxAttempts: 40, backoff: { baseDelayMs: 10, maxDelayMs: 200 } })),
    );

    expect(sorted(got)).toEqual(expectedItems);
    const stats = capacityStats(limited);
    expect(stats.readKeysThrottled).toBeGreaterThan(0);
    expect(stats.readUnitsConsumed).toBeGreaterThan(2_500); // every key was paid for, so every key was really read
  });

  it('should send ConsistentRead with consistentRead: true and read the same items', async () => {
    const recorder = recording(client);
    const keys = askedKeys.slice(0, 700);

    const got = await run(from(keys).pipe(dynamoBatchGet(recorder.sender, table, { consistentRead: true })));

    expect(sorted(got)).toEqual(sorted(keys.flatMap((key) => (itemByPk.has(key.pk as string) ? [itemByPk.get(key.pk as string)!] : []))));
    expect(recorder.calls.length).toBeGreaterThanOrEqual(7);
    expect(recorder.calls.every((call) => call.input.RequestItems?.[table]?.ConsistentRead === true)).toBe(true);
  });

  it("should return only the key and the projected attributes with projection: ['name', 'status'] (reserved words)", async () => {
    const keys = askedKeys.slice(0, 1_000);

    const got = await run(from(keys).pipe(dynamoBatchGet(client, table, { projection: ['name', 'status'] })));

    const expected = keys.flatMap((key) => {
      const item = itemByPk.get(key.pk as string);
      return item ? [{ pk: item.pk, name: item.name, status: item.status }] : [];
    });
    expect(expected.length).toBeGreaterThan(900);
    expect(sorted(got)).toEqual(sorted(expected));
  });

  it('should read a table with a number sort key, whole items accepted as keys', async () => {
    const withSk = await createTable(client, uniqueTable('BatchGetSk'), { sortKey: 'N' });
    const rows = Array.from({ length: 600 }, (_, i) => ({ pk: `p#${i % 12}`, sk: Math.floor(i / 12) - 10, body: `b${i}` }));
    await run(from(rows).pipe(dynamoBatchWrite(client, withSk)));
    // every other row by its key, every fifth row by the whole item, and keys that match on pk or sk alone
    const keys: Key[] = [
      ...rows.filter((_, i) => i % 2 === 0).map(({ pk, sk }) => ({ pk, sk })),
      ...rows.filter((_, i) => i % 5 === 0),
      { pk: 'p#0', sk: 1_000 },
      { pk: 'p#99', sk: 0 },
    ];
    const expected = [...rows.filter((_, i) => i % 2 === 0), ...rows.filter((_, i) => i % 5 === 0)];

    const got = await run(from(keys).pipe(dynamoBatchGet(client, withSk)));

    expect(got.length).toBe(expected.length);
    expect(sorted(got)).toEqual(sorted(expected));
  });

  it('should error with batchGet.attemptsExhausted, listing every key asked, when nothing is ever processed', async () => {
    const faulty = withFaults(client, { unprocessedRate: 1 });
    const keys: Key[] = [...Array.from({ length: 150 }, (_, i) => ({ pk: `t#${i}` })), { pk: 'missing#1' }, { pk: 't#3' }];

    const error = await failureOf(from(keys).pipe(dynamoBatchGet(faulty, table, { maxAttempts: 3, backoff: fast })));

    expect(error.code).toBe('batchGet.attemptsExhausted');
    expect(error.attempts).toBe(3);
    expect(sorted(error.unprocessed.map((r) => ({ ...r.key, table: r.table })))).toEqual(sorted(keys.map((key) => ({ ...key, table }))));
    expect(faultStats(faulty).requestsUnprocessed).toBeGreaterThan(0);
  });

  it("should emit a BatchGetFailure per key asked and complete with onFailure: 'emit' when attempts run out", async () => {
    const faulty = withFaults(client, { unprocessedRate: 1 });
    const keys: Key[] = [...Array.from({ length: 150 }, (_, i) => ({ pk: `t#${i}` })), { pk: 'missing#1' }, { pk: 't#3' }];

    const got = await run(from(keys).pipe(dynamoBatchGet(faulty, table, { maxAttempts: 2, backoff: fast, onFailure: 'emit' })));

    expect(got.length).toBe(keys.length);
    expect(got.every((value) => value instanceof BatchGetFailure)).toBe(true);
    const failures = got as BatchGetFailure[];
    expect(failures.every((f) => f.table === table && f.error.name === 'BatchGetError')).toBe(true);
    expect(failures.every((f) => (f.error as BatchGetError).code === 'batchGet.attemptsExhausted')).toBe(true);
    expect(sorted(failures.map((f) => f.key))).toEqual(sorted(keys));
  });

  it.each([
    ['read from DescribeTable', undefined],
    ['given as keyAttributes', ['pk']],
  ])('should error with batchGet.nonRetryable for a missing table (key %s)', async (_, keyAttributes) => {
    const missing = uniqueTable('Missing');
    const keys = Array.from({ length: 120 }, (_, i) => ({ pk: `m#${i}` }));

    const error = await failureOf(from(keys).pipe(dynamoBatchGet(client, missing, { keyAttributes, backoff: fast })));

    expect(error.code).toBe('batchGet.nonRetryable');
    expect((error.cause as Error).name).toBe('ResourceNotFoundException');
    expect(error.message).toContain(missing);
    expect(error.unprocessed.every((r) => r.table === missing)).toBe(true);
    expect(sorted(error.unprocessed.map((r) => r.key))).toEqual(sorted(keys));
  });
});

describe('dynamoBatchGetRequests against DynamoDB Local', () => {
  it('should answer one { table, key, item } per request across two tables, item undefined for missing keys', async () => {
    const other = await createTable(client, uniqueTable('BatchGetOther'), { sortKey: 'S' });
    const rows = Array.from({ length: 300 }, (_, i) => ({ pk: `o#${i % 10}`, sk: `s#${i}`, v: i }));
    await run(from(rows).pipe(dynamoBatchWrite(client, other)));
    const requests = [
      ...Array.from({ length: 250 }, (_, i) => ({ table, key: { pk: `t#${i * 3}` } })),
      ...Array.from({ length: 20 }, (_, i) => ({ table, key: { pk: `gone#${i}` } })),
      ...rows.filter((_, i) => i % 2 === 1).map(({ pk, sk }) => ({ table: other, key: { pk, sk } })),
      ...Array.from({ length: 20 }, (_, i) => ({ table: other, key: { pk: 'o#1', sk: `none#${i}` } })),
      { table, key: { pk: 't#3' } },
      { table: other, key: { pk: 'o#1', sk: 's#1' } },
    ];
    // interleave the two tables
    requests.sort((a, b) => JSON.stringify(a.key).length - JSON.stringify(b.key).length || a.table.localeCompare(b.table));
    const rowByKey = new Map(rows.map((row) => [`${row.pk}|${row.sk}`, row]));
    const expected: GetResponse[] = requests.map(({ table: t, key }) => ({
      table: t,
      key,
      item: t === table ? itemByPk.get(key.pk) : rowByKey.get(`${key.pk}|${(key as { sk?: string }).sk}`),
    }));

    const got = await run(from(requests).pipe(dynamoBatchGetRequests(client)));

    const order = (r: GetResponse) => `${r.table}|${JSON.stringify(r.key)}`;
    const bySort = (a: GetResponse, b: GetResponse) => order(a).localeCompare(order(b));
    expect(got.length).toBe(requests.length);
    expect([...got].sort(bySort)).toEqual([...expected].sort(bySort));
    expect(got.filter((r) => r.item === undefined)).toHaveLength(40);
    expect(got.filter((r) => r.table === other && r.item !== undefined)).toHaveLength(151);
  });
});

describe('dynamoBatchGet with responses over 16 MB', () => {
  it('should read back 100 items of 399 KB although DynamoDB Local answers the first call only in part', async () => {
    const big = await createTable(client, uniqueTable('BatchGetBig'));
    const padded = (i: number): Item => {
      const item = { pk: `big#${i}`, pad: '' };
      item.pad = String.fromCharCode(97 + (i % 26)).repeat(399 * 1024 - itemSize(item));
      return item;
    };
    const rows = Array.from({ length: 100 }, (_, i) => padded(i));
    await run(from(rows).pipe(dynamoBatchWrite(client, big, { concurrency: 2 })));
    const recorder = recording(client);

    const got = await run(from(rows.map(({ pk }) => ({ pk }))).pipe(dynamoBatchGet(recorder.sender, big)));

    expect(got.length).toBe(100);
    expect(sorted(got).map((item) => [item.pk, (item.pad as string).length, (item.pad as string)[0]])).toEqual(
      sorted(rows).map((item) => [item.pk, (item.pad as string).length, (item.pad as string)[0]]),
    );
    expect(sorted(got)).toEqual(sorted(rows));
    // the first call asked for all 100 keys, and DynamoDB Local itself left some unprocessed
    expect(recorder.calls[0]!.input.RequestItems![big]!.Keys).toHaveLength(100);
    const firstUnprocessed = recorder.calls[0]!.output!.UnprocessedKeys?.[big]?.Keys?.length ?? 0;
    expect(firstUnprocessed).toBeGreaterThan(0);
    expect(recorder.calls[0]!.output!.Responses![big]!.length + firstUnprocessed).toBe(100);
    expect(recorder.calls.length).toBeGreaterThan(1);
  });
});
