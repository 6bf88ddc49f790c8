import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, NumberValue, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { from, lastValueFrom, type Observable, toArray } from 'rxjs';
import { backpressure } from '../../src/backpressure.js';
import { ItemWriteError } from '../../src/errors.js';
import { dynamoDelete, type DeleteItemRequest } from '../../src/operators/dynamoDelete.js';
import { dynamoPut, type PutItemRequest } from '../../src/operators/dynamoPut.js';
import { dynamoUpdate, type UpdateItemRequest } from '../../src/operators/dynamoUpdate.js';
import type { ItemWriteResult } from '../../src/operators/itemWriteInternals.js';
import { fromAsyncIterable } from '../../src/sources/fromAsyncIterable.js';
import { faultStats, withFaults } from '../../src/testing/index.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

const fast = { baseDelayMs: 1, maxDelayMs: 20 };
const all = <T>(results$: Observable<T>) => lastValueFrom(results$.pipe(toArray()));
const pkOf = (r: ItemWriteResult<{ key: Record<string, unknown> } | { item: Record<string, unknown> }>) =>
  'key' in r.request ? r.request.key.pk : r.request.item.pk;
/** The item as DynamoDB holds it, AttributeValues and all: numbers as their digits. */
const raw = async (table: string, Key: Record<string, AttributeValue>) =>
  (await client.send(new GetItemCommand({ TableName: table, Key, ConsistentRead: true }))).Item;

describe('dynamoUpdate, dynamoPut, dynamoDelete against DynamoDB Local', () => {
  it('should add up 10,000 increments over 100 counters exactly, at concurrency 16, through injected throttling', async () => {
    const table = await createTable(client, uniqueTable('Counters'));
    const faulty = withFaults(client, { throttleRate: 0.2, seed: 12 });
    const requests: UpdateItemRequest[] = Array.from({ length: 10_000 }, (_, i) => ({ key: { pk: `c${i % 100}` }, add: { n: 1, sum: i } }));

    const results = await all(from(requests).pipe(dynamoUpdate(faulty, table, { concurrency: 16, backoff: fast })));

    expect(results).toHaveLength(10_000);
    expect(results.filter((r) => r.status !== 'written')).toEqual([]);
    // every call the operator made went through the injector; each throttled one was retried
    const stats = faultStats(faulty);
    const attempts = results.reduce((sum, r) => sum + r.attempts, 0);
    expect(stats.callsThrottled).toBeGreaterThan(1_000);
    expect(attempts).toBe(stats.calls);
    expect(attempts - results.length).toBe(stats.callsThrottled);
    const counters = (await scanAll(client, table)).sort((a, b) => Number(String(a.pk).slice(1)) - Number(String(b.pk).slice(1)));
    expect(counters).toHaveLength(100);
    // counter c holds i = c, c + 100, …, c + 9,900: 100 of them, summing to 100c + 495,000
    expect(counters).toEqual(Array.from({ length: 100 }, (_, c) => ({ pk: `c${c}`, n: 100, sum: 100 * c + 495_000 })));
  }, 180_000); // about 10,000 UpdateItem calls: DynamoDB Local answers some 300 a second on 2 cores

  it('should report each failed condition per item, with the values it had (returnCurrentOnConditionFailure)', async () => {
    const table = await createTable(client, uniqueTable('Versions'));
    const stored = Array.from({ length: 20 }, (_, i) => ({ pk: `v${i}`, version: i % 3, title: `t${i}` }));
    await all(from(stored.map((item) => ({ item }))).pipe(dynamoPut(client, table, { keyAttributes: ['pk'] })));
    // each update expects version 1: it holds for v1, v4, v7, …
    const updates: UpdateItemRequest[] = stored.map((s) => ({
      key: { pk: s.pk },
      set: { title: `new ${s.pk}` },
      add: { version: 1 },
      condition: { version: 1 },
      returnValues: 'ALL_NEW',
    }));

    const results = await all(from(updates).pipe(dynamoUpdate(client, table, { returnCurrentOnConditionFailure: true })));

    const byPk = new Map(results.map((r) => [pkOf(r), r]));
    for (const s of stored) {
      const r = byPk.get(s.pk)!;
      if (s.version === 1)
        expect(r).toEqual({
          request: updates[stored.indexOf(s)],
          status: 'written',
          attempts: 1,
          attributes: { ...s, version: 2, title: `new ${s.pk}` },
        });
      else expect(r).toEqual({ request: updates[stored.indexOf(s)], status: 'conditionFailed', attempts: 1, current: s });
    }
    const after = new Map((await scanAll(client, table)).map((item) => [item.pk, item]));
    for (const s of stored) expect(after.get(s.pk)).toEqual(s.version === 1 ? { ...s, version: 2, title: `new ${s.pk}` } : s);
  });

  it('should fail only the item DynamoDB rejects with a ValidationException, naming its table and key', async () => {
    const table = await createTable(client, uniqueTable('Validation'));
    const updates = [
      { key: { pk: 'a' }, set: { x: 1 } },
      { key: { pk: 5 }, set: { x: 2 } }, // a number for an S key
      { key: { pk: 'b' }, set: { pk: 'renamed' } }, // the key cannot be updated
      { key: { pk: 'c' }, set: { x: 3 } },
    ] as UpdateItemRequest[];

    const results = await all(from(updates).pipe(dynamoUpdate(client, table, { concurrency: 2 })));

    const failed = results.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.request).sort((a, b) => String(a.key.pk).localeCompare(String(b.key.pk)))).toEqual([updates[1], updates[2]]);
    for (const r of failed) {
      expect(r.error).toBeInstanceOf(ItemWriteError);
      expect(r.error!.code).toBe('itemWrite.nonRetryable');
      expect((r.error!.cause as Error).name).toBe('ValidationException');
      expect(r.error!.message).toContain(
        `UpdateItem on table ${table}, key pk=${r.request.key.pk === 5 ? '5' : '"b"'} failed with ValidationException`,
      );
      expect(r.attempts).toBe(1);
    }
    expect((await scanAll(client, table)).sort((a, b) => String(a.pk).localeCompare(String(b.pk)))).toEqual([
      { pk: 'a', x: 1 },
      { pk: 'c', x: 3 },
    ]);
  });

  it('should put only if absent, and only if not newer, in input order per key', async () => {
    const table = await createTable(client, uniqueTable('ConditionalPut'));
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' }, version: { N: '2' }, v: { S: 'stored' } } }));
    const ifAbsent = (item: { pk: string; version: number; v: string }): PutItemRequest => ({
      item,
      condition: { attributeNotExists: 'pk' },
    });
    const ifNotNewer = (item: { pk: string; version: number; v: string }): PutItemRequest => ({
      item,
      condition: { or: [{ attributeNotExists: 'pk' }, { version: { lt: item.version } }] },
      returnValues: 'ALL_OLD',
    });
    const requests = [
      ifAbsent({ pk: 'a', version: 9, v: 'absent?' }), // a exists: refused
      ifAbsent({ pk: 'b', version: 1, v: 'first' }), // written
      ifNotNewer({ pk: 'a', version: 1, v: 'older' }), // stored version 2 is newer: refused
      ifNotNewer({ pk: 'a', version: 3, v: 'newer' }), // written, replacing version 2
      ifNotNewer({ pk: 'c', version: 5, v: 'absent' }), // written
      ifAbsent({ pk: 'b', version: 7, v: 'again' }), // b was written just before: refused
    ];

    const results = await all(from(requests).pipe(dynamoPut(client, table, { concurrency: 4, returnCurrentOnConditionFailure: true })));

    const outcome = (request: PutItemRequest) => results.find((r) => r.request === request)!;
    expect(requests.map((r) => outcome(r).status)).toEqual([
      'conditionFailed',
      'written',
      'conditionFailed',
      'written',
      'written',
      'conditionFailed',
    ]);
    expect(outcome(requests[0]!).current).toEqual({ pk: 'a', version: 2, v: 'stored' });
    expect(outcome(requests[2]!).current).toEqual({ pk: 'a', version: 2, v: 'stored' });
    expect(outcome(requests[3]!).attributes).toEqual({ pk: 'a', version: 2, v: 'stored' });
    expect(outcome(requests[4]!).attributes).toBeUndefined();
    expect(outcome(requests[5]!).current).toEqual({ pk: 'b', version: 1, v: 'first' });
    expect((await scanAll(client, table)).sort((x, y) => String(x.pk).localeCompare(String(y.pk)))).toEqual([
      { pk: 'a', version: 3, v: 'newer' },
      { pk: 'b', version: 1, v: 'first' },
      { pk: 'c', version: 5, v: 'absent' },
    ]);
  });

  it('should delete only where the condition holds, returning the deleted item', async () => {
    const table = await createTable(client, uniqueTable('ConditionalDelete'));
    for (const [pk, status] of [
      ['x', 'closed'],
      ['y', 'open'],
    ])
      await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk! }, status: { S: status! } } }));
    const requests: DeleteItemRequest[] = ['x', 'y', 'z'].map((pk) => ({
      key: { pk },
      condition: { status: 'closed' },
      returnValues: 'ALL_OLD',
    }));

    const results = await all(from(requests).pipe(dynamoDelete(client, table, { returnCurrentOnConditionFailure: true })));

    const byPk = new Map(results.map((r) => [r.request.key.pk, r]));
    expect(byPk.get('x')).toEqual({ request: requests[0], status: 'written', attempts: 1, attributes: { pk: 'x', status: 'closed' } });
    expect(byPk.get('y')).toEqual({ request: requests[1], status: 'conditionFailed', attempts: 1, current: { pk: 'y', status: 'open' } });
    // no item: the condition on its status is false, and there is nothing to return
    expect(byPk.get('z')).toEqual({ request: requests[2], status: 'conditionFailed', attempts: 1 });
    expect(await scanAll(client, table)).toEqual([{ pk: 'y', status: 'open' }]);
  });

  it('should keep 38-digit numbers and bigint values exact, in keys, values, conditions and returned attributes', async () => {
    const table = await createTable(client, uniqueTable('Exact'), { partitionKeyType: 'N' });
    const key = 12345678901234567890123456789012345678n; // 38 digits
    const decimal = '1.2345678901234567890123456789012345678';
    await all(
      from<PutItemRequest[]>([{ item: { pk: key, big: 10n ** 37n, dec: new NumberValue(decimal) } }]).pipe(
        dynamoPut(client, table, { keyAttributes: ['pk'] }),
      ),
    );
    const updates: UpdateItemRequest[] = [
      {
        key: { pk: new NumberValue(String(key)) },
        add: { big: 99999999999999999999999999999999999n },
        set: { neg: new NumberValue('-0.00000000000000000000000000000000000123') },
        condition: { dec: new NumberValue(decimal) },
        returnValues: 'ALL_NEW',
      },
    ];

    const [result] = await all(from(updates).pipe(dynamoUpdate(client, table)));

    const big = 10n ** 37n + 99999999999999999999999999999999999n;
    expect(result!.status).toBe('written');
    expect(result!.attributes).toEqual({
      pk: key,
      big,
      dec: new NumberValue(decimal),
      neg: -1.23e-36, // exact as a number: it comes back as one
    });
    expect(await raw(table, { pk: { N: String(key) } })).toEqual({
      pk: { N: String(key) },
      big: { N: String(big) },
      dec: { N: decimal },
      neg: { N: '-0.00000000000000000000000000000000000123' },
    });
    const [deleted] = await all(
      from<DeleteItemRequest[]>([{ key: { pk: key }, condition: { big: { eq: big } } }]).pipe(dynamoDelete(client, table)),
    );
    expect(deleted!.status).toBe('written');
    expect(await raw(table, { pk: { N: String(key) } })).toBeUndefined();
  });

  it('should send binary, binary sets, empty strings and non-BMP text exactly on the body it writes itself (with a binary key)', async () => {
    const table = await createTable(client, uniqueTable('ItemBinary'), { partitionKeyType: 'B' });
    const key = { pk: Uint8Array.from([0, 255, 1, 254]) };
    const item = { ...key, b: Uint8Array.from([9, 8, 7]), bs: new Set([Uint8Array.from([1]), Uint8Array.from([2, 3])]), s: '', u: '🦄𝄞' };
    const put = await all(from([{ item }]).pipe(dynamoPut(client, table, { keyAttributes: ['pk'] })));
    expect(put.map((r) => r.status)).toEqual(['written']);
    const updated = await all(
      from([
        { key, set: { c: Uint8Array.from([42]) }, delete: { bs: new Set([Uint8Array.from([1])]) }, returnValues: 'ALL_NEW' as const },
      ]).pipe(dynamoUpdate(client, table)),
    );
    expect(updated.map((r) => r.status)).toEqual(['written']);
    expect(await raw(table, { pk: { B: key.pk } })).toEqual({
      pk: { B: key.pk },
      b: { B: Uint8Array.from([9, 8, 7]) },
      bs: { BS: [Uint8Array.from([2, 3])] },
      c: { B: Uint8Array.from([42]) },
      s: { S: '' },
      u: { S: '🦄𝄞' },
    });
    const deleted = await all(from([{ key, condition: { u: '🦄𝄞' } }]).pipe(dynamoDelete(client, table)));
    expect(deleted.map((r) => r.status)).toEqual(['written']);
    expect(await raw(table, { pk: { B: key.pk } })).toBeUndefined();
  });

  it('should write and test reserved-word attribute names, through a document client too', async () => {
    const table = await createTable(client, uniqueTable('Reserved'));
    const doc = DynamoDBDocumentClient.from(client);
    await all(from([{ item: { pk: 'r', size: 3, status: 'open', data: { name: 'n' } } }]).pipe(dynamoPut(doc, table)));
    const updates: UpdateItemRequest[] = [
      {
        key: { pk: 'r' },
        set: { name: 'Ticket', 'data.name': 'renamed', comment: 'c' },
        add: { count: 2 },
        remove: ['size'],
        condition: { status: { ne: 'closed' }, and: [{ attributeNotExists: 'timestamp' }, { size: { between: [1, 5] } }] },
      },
    ];

    const [result] = await all(from(updates).pipe(dynamoUpdate(doc, table)));

    expect(result!.status).toBe('written');
    expect(await scanAll(client, table)).toEqual([
      { pk: 'r', status: 'open', data: { name: 'renamed' }, name: 'Ticket', comment: 'c', count: 2 },
    ]);
  });

  it('should release the backpressure link as requests settle, so that the source runs at most highWaterMark ahead', async () => {
    const table = await createTable(client, uniqueTable('Backpressure'));
    const link = backpressure({ highWaterMark: 20 });
    let most = 0;
    async function* requests() {
      for (let i = 0; i < 500; i++) {
        most = Math.max(most, link.pending);
        yield { item: { pk: `p${i}`, i } };
      }
    }

    const results = await all(
      fromAsyncIterable(requests(), { backpressure: link }).pipe(
        dynamoPut(client, table, { backpressure: link, keyAttributes: ['pk'], concurrency: 4 }),
      ),
    );

    expect(results.every((r) => r.status === 'written')).toBe(true);
    expect(most).toBeGreaterThanOrEqual(19); // the sink was behind: the source waited on the link
    expect(most).toBeLessThanOrEqual(20);
    expect(link.pending).toBe(0);
    expect((await scanAll(client, table)).length).toBe(500);
  });

  it('should give up on a request after maxAttempts throttled calls, writing nothing, and withFaults should throttle every single-item write', async () => {
    const table = await createTable(client, uniqueTable('AlwaysThrottled'));
    const faulty = withFaults(client, { throttleRate: 1 });
    const results = await all(
      from<UpdateItemRequest[]>([{ key: { pk: 'a' }, add: { n: 1 } }]).pipe(dynamoUpdate(faulty, table, { maxAttempts: 4, backoff: fast })),
    );
    expect(results).toHaveLength(1);
    expect(results[0]!.status).toBe('failed');
    expect(results[0]!.attempts).toBe(4);
    expect(results[0]!.error!.code).toBe('itemWrite.attemptsExhausted');
    expect(results[0]!.error!.cause).toBeInstanceOf(ProvisionedThroughputExceededException);

    // the low-level commands and the document client's
    const doc = withFaults(DynamoDBDocumentClient.from(client), { throttleRate: 1 });
    const key = { pk: { S: 'b' } };
    await expect(faulty.send(new PutItemCommand({ TableName: table, Item: key }))).rejects.toBeInstanceOf(
      ProvisionedThroughputExceededException,
    );
    await expect(faulty.send(new DeleteItemCommand({ TableName: table, Key: key }))).rejects.toBeInstanceOf(
      ProvisionedThroughputExceededException,
    );
    await expect(
      faulty.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: 'SET n = :n',
          ExpressionAttributeValues: { ':n': { N: '1' } },
        }),
      ),
    ).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
    await expect(doc.send(new PutCommand({ TableName: table, Item: { pk: 'c' } }))).rejects.toBeInstanceOf(
      ProvisionedThroughputExceededException,
    );
    await expect(
      doc.send(
        new UpdateCommand({ TableName: table, Key: { pk: 'c' }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': 1 } }),
      ),
    ).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(faultStats(faulty)).toEqual({ calls: 7, batchCalls: 0, callsThrottled: 7, requestsUnprocessed: 0 });
    expect(faultStats(doc).callsThrottled).toBe(2);
    expect(await scanAll(client, table)).toEqual([]);
  });
});
