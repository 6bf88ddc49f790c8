import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type BatchWriteResult,
  type DynamoDBSender,
  dynamoBatchWrite,
  dynamoBatchWriteRequests,
  type Item,
  type WriteRequest,
} from '../../src/index.js';
import { faultStats, withFaults } from '../../src/testing/index.js';
import { seededRandom } from '../../src/internal/random.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { byKey, run, sorted, total } from '../helpers/results.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

/**
 * What the tables must hold after `requests`, applied one by one in input order to `initial`: a put replaces the item
 * with its key, a delete removes it. `keys` names each table's key attributes.
 */
function expectedState(initial: Record<string, Item[]>, requests: WriteRequest[], keys: Record<string, string[]>): Record<string, Item[]> {
  const id = (table: string, item: Item) => keys[table]!.map((a) => String(item[a])).join('\u0000');
  const state = new Map(Object.entries(initial).map(([table, items]) => [table, new Map(items.map((item) => [id(table, item), item]))]));
  for (const r of requests) {
    const items = state.get(r.table)!;
    if ('put' in r) items.set(id(r.table, r.put), r.put);
    else items.delete(id(r.table, r.delete));
  }
  return Object.fromEntries([...state].map(([table, items]) => [table, [...items.values()]]));
}

/**
 * A sender in front of `c` that records, for every BatchWriteItem call made through it, the number of requests, whether
 * one table got the same key twice, and the error if the call failed.
 */
function recordCalls(c: DynamoDBSender) {
  const record = { sizes: [] as number[], withDuplicates: 0, errors: [] as unknown[], sender: undefined as unknown as DynamoDBSender };
  record.sender = {
    send: async (command: object, options?: { abortSignal?: AbortSignal }) => {
      if (command instanceof BatchWriteItemCommand) {
        const lists = Object.values(command.input.RequestItems ?? {});
        record.sizes.push(lists.reduce((sum, list) => sum + list.length, 0));
        for (const list of lists) {
          const keys = list.map((r) => JSON.stringify(r.DeleteRequest?.Key ?? { pk: r.PutRequest!.Item!.pk, sk: r.PutRequest!.Item!.sk }));
          if (new Set(keys).size !== keys.length) record.withDuplicates++;
        }
      }
      try {
        return await lastValueFrom(from(c.send(command, options)));
      } catch (error) {
        if ((error as Error).name !== 'AbortError') record.errors.push(error);
        throw error;
      }
    },
  };
  return record;
}

describe('dynamoBatchWriteRequests against DynamoDB Local', () => {
  it('should apply puts and deletes mixed across two tables, deleting by whole items', async () => {
    const tickets = await createTable(client, uniqueTable('Tickets'));
    const events = await createTable(client, uniqueTable('Events'), { sortKey: 'N' });
    const initialTickets = Array.from({ length: 1_000 }, (_, i) => ({ pk: `t#${i}`, status: 'open', n: i }));
    const initialEvents = Array.from({ length: 1_000 }, (_, i) => ({ pk: `e#${i % 10}`, sk: Math.floor(i / 10), what: `event ${i}` }));
    await run(from(initialTickets).pipe(dynamoBatchWrite(client, tickets, { concurrency: 8 })));
    await run(from(initialEvents).pipe(dynamoBatchWrite(client, events, { concurrency: 8 })));

    const requests: WriteRequest[] = [];
    for (let i = 0; i < 1_000; i++) {
      // Deletes carry the whole item: only the key attributes may be sent.
      if (i % 4 === 0) requests.push({ table: tickets, delete: initialTickets[i]! });
      if (i % 4 === 1) requests.push({ table: tickets, put: { pk: `t#${i}`, status: 'closed', n: -i, history: [{ at: i }] } });
      if (i % 3 === 0) requests.push({ table: events, delete: initialEvents[i]! });
      if (i % 5 === 0) requests.push({ table: events, put: { pk: `e#new${i % 7}`, sk: i, what: 'new' } });
      if (i % 50 === 0) requests.push({ table: tickets, put: { pk: `t#new${i}`, status: 'new' } });
    }

    const results = await run(from(requests).pipe(dynamoBatchWriteRequests(DynamoDBDocumentClient.from(client), { concurrency: 8 })));

    expect(total(results)).toBe(requests.length);
    expect(results.every((r) => r.requests.length >= 1 && r.requests.length <= 25 && r.failed === undefined)).toBe(true);
    const expected = expectedState({ [tickets]: initialTickets, [events]: initialEvents }, requests, {
      [tickets]: ['pk'],
      [events]: ['pk', 'sk'],
    });
    expect(sorted(await scanAll(client, tickets))).toEqual(sorted(expected[tickets]!));
    expect(sorted(await scanAll(client, events))).toEqual(sorted(expected[events]!));
  });

  it('should write the same key value to two tables (not duplicates: keys are per table)', async () => {
    const a = await createTable(client, uniqueTable('SameKeyA'));
    const b = await createTable(client, uniqueTable('SameKeyB'));
    const requests: WriteRequest[] = Array.from({ length: 20 }, (_, i) => [
      { table: a, put: { pk: `k#${i}`, in: 'a' } },
      { table: b, put: { pk: `k#${i}`, in: 'b' } },
    ]).flat();

    const results = await run(from(requests).pipe(dynamoBatchWriteRequests(client, { keyAttributes: { [a]: ['pk'], [b]: ['pk'] } })));

    expect(total(results)).toBe(40);
    // each table has its own lane, so each call carries one table's requests
    for (const r of results) expect(new Set(r.requests.map((q) => q.table)).size).toBe(1);
    expect(sorted(await scanAll(client, a))).toEqual(Array.from({ length: 20 }, (_, i) => ({ pk: `k#${i}`, in: 'a' })).sort(byKey));
    expect(sorted(await scanAll(client, b))).toEqual(Array.from({ length: 20 }, (_, i) => ({ pk: `k#${i}`, in: 'b' })).sort(byKey));
  });

  it('should leave each key in the state of its last request when 2,000 requests repeat 100 keys under latency and unprocessed items', async () => {
    const table = await createTable(client, uniqueTable('Repeated'));
    const other = await createTable(client, uniqueTable('RepeatedOther'), { sortKey: 'N' });
    const random = seededRandom(2024);
    const versions = new Map<string, number>();
    const requests: WriteRequest[] = Array.from({ length: 2_000 }, (_, i): WriteRequest => {
      const k = Math.floor(random() * 100);
      const [t, key] = k < 70 ? [table, { pk: `k#${k}` }] : [other, { pk: `k#${k % 3}`, sk: k }];
      const version = (versions.get(`${t}/${k}`) ?? 0) + 1;
      versions.set(`${t}/${k}`, version);
      return random() < 0.2 ? { table: t, delete: key } : { table: t, put: { ...key, version, seq: i } };
    });
    const faulty = withFaults(client, { latencyMs: [0, 20], unprocessedRate: 0.2, seed: 11 });
    const calls = recordCalls(faulty);

    const results = await run(
      from(requests).pipe(dynamoBatchWriteRequests(calls.sender, { concurrency: 8, backoff: { baseDelayMs: 1, maxDelayMs: 20 } })),
    );

    // The stream completed: no call failed (a call carrying one key twice would be a ValidationException).
    expect(calls.errors).toEqual([]);
    expect(calls.withDuplicates).toBe(0);
    expect(calls.sizes.every((n) => n >= 1 && n <= 25)).toBe(true);
    // A result counts the requests a later one for the same key replaced before sending, so it may stand for more than 25.
    expect(total(results)).toBe(2_000);
    expect(results.every((r) => r.failed === undefined)).toBe(true);
    expect(results.some((r) => r.attempts > 1)).toBe(true);
    expect(faultStats(faulty).requestsUnprocessed).toBeGreaterThan(0);
    const expected = expectedState({ [table]: [], [other]: [] }, requests, { [table]: ['pk'], [other]: ['pk', 'sk'] });
    expect(expected[table]!.length).toBeGreaterThan(0);
    expect(sorted(await scanAll(client, table))).toEqual(sorted(expected[table]!));
    expect(sorted(await scanAll(client, other))).toEqual(sorted(expected[other]!));
  });

  it('should leave each key in the state of its last request when keys repeat at high concurrency without faults', async () => {
    const table = await createTable(client, uniqueTable('RepeatedFast'));
    const requests: WriteRequest[] = Array.from({ length: 3_000 }, (_, i): WriteRequest => {
      const pk = `k#${(i * 7) % 60}`;
      return i % 11 === 0 ? { table, delete: { pk } } : { table, put: { pk, seq: i } };
    });

    const results = await run(from(requests).pipe(dynamoBatchWriteRequests(client, { concurrency: 16, batchSize: 10 })));

    expect(total(results)).toBe(3_000);
    // a batch is at most 10 keys; requests replaced before they were sent are reported with the one that replaced them
    const keysOf = (r: (typeof results)[number]) => new Set(r.requests.map((q) => ('put' in q ? q.put.pk : q.delete.pk)));
    expect(results.every((r) => keysOf(r).size <= 10)).toBe(true);
    const expected = expectedState({ [table]: [] }, requests, { [table]: ['pk'] });
    expect(sorted(await scanAll(client, table))).toEqual(sorted(expected[table]!));
  });
});
