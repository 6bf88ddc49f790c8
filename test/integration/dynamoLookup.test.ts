import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoBatchDelete, dynamoBatchWrite, dynamoLookup, type Item, type Key, type Lookup } from 'rxjs-dynamodb';
import { faultStats, withFaults } from 'rxjs-dynamodb/testing';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
/** 400 tickets written, then every seventh deleted; the tests only read. */
let table: string;
const tickets: Item[] = Array.from({ length: 400 }, (_, i) => ({
  pk: `ticket#${i}`,
  title: `Ticket ${i}`,
  queue: ['billing', 'support', 'sales'][i % 3],
  priority: i % 4,
}));
const isDeleted = (i: number) => i % 7 === 3;
const live = new Map(tickets.filter((_, i) => !isDeleted(i)).map((t) => [t.pk as string, t]));

const run = <T>(values$: Observable<T>) => lastValueFrom(values$.pipe(toArray()), { defaultValue: [] as T[] });

/** A seeded Fisher–Yates shuffle. */
function shuffled<T>(list: T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** What a lookup of `keys` must give: one `{ key, item }` per key, in the same order. */
const expectedFor = (keys: Key[]): Lookup[] => keys.map((key) => ({ key, item: live.get(key.pk as string) }));

beforeAll(async () => {
  client = localClient(inject('dynamoEndpoint'));
  table = await createTable(client, uniqueTable('Lookup'));
  await run(from(tickets).pipe(dynamoBatchWrite(client, table)));
  await run(from(tickets.filter((_, i) => isDeleted(i)).map(({ pk }) => ({ pk }))).pipe(dynamoBatchDelete(client, table)));
  const stored = await scanAll(client, table);
  expect(stored.length).toBe(live.size);
});
afterAll(() => client.destroy());

describe('dynamoLookup against DynamoDB Local', () => {
  it('should answer 50 tickets in queue order, item undefined for the deleted ones', async () => {
    const queue = shuffled(
      tickets.slice(0, 50).map(({ pk }) => ({ pk })),
      42,
    );
    expect(queue.filter((key) => !live.has(key.pk as string)).length).toBeGreaterThanOrEqual(5);

    const got = await run(from(queue).pipe(dynamoLookup(client, table)));

    expect(got).toHaveLength(50);
    expect(got).toEqual(expectedFor(queue));
    expect(got.filter((l) => l.item === undefined).map((l) => l.key.pk)).toEqual(
      queue.filter((key) => !live.has(key.pk as string)).map((key) => key.pk),
    );
  });

  it('should answer a key asked twice at both of its places, with a document client too', async () => {
    const queue: Key[] = [
      { pk: 'ticket#12' },
      { pk: 'ticket#3' }, // deleted
      { pk: 'ticket#12' },
      { pk: 'never#1' },
      { pk: 'ticket#3' },
      { pk: 'ticket#11' },
      { pk: 'ticket#12' },
    ];

    const low = await run(from(queue).pipe(dynamoLookup(client, table)));
    const doc = await run(from(queue).pipe(dynamoLookup(DynamoDBDocumentClient.from(client), table)));

    expect(low).toEqual(expectedFor(queue));
    expect(doc).toEqual(expectedFor(queue));
    expect(low.map((l) => l.item?.title)).toEqual(['Ticket 12', undefined, 'Ticket 12', undefined, undefined, 'Ticket 11', 'Ticket 12']);
  });

  it('should keep the exact input order for 250 keys over many batches under latency and unprocessed keys', async () => {
    const keys = shuffled(
      [
        ...tickets.slice(0, 230).map(({ pk }) => ({ pk })),
        ...Array.from({ length: 10 }, (_, i) => ({ pk: `never#${i}` })),
        ...Array.from({ length: 10 }, (_, i) => ({ pk: `ticket#${i * 20}` })), // asked twice
      ],
      7,
    );
    expect(keys).toHaveLength(250);
    const faulty = withFaults(client, { latencyMs: [1, 30], unprocessedRate: 0.3, seed: 3 });

    // small batches with random latency, so that later batches often finish before earlier ones
    const got = await run(
      from(keys).pipe(
        dynamoLookup(faulty, table, { batchSize: 20, concurrency: 6, maxAttempts: 25, backoff: { baseDelayMs: 1, maxDelayMs: 20 } }),
      ),
    );

    expect(got).toHaveLength(250);
    expect(got.map((l) => l.key.pk)).toEqual(keys.map((key) => key.pk));
    expect(got).toEqual(expectedFor(keys));
    expect(faultStats(faulty).requestsUnprocessed).toBeGreaterThan(0);
  });

  it('should keep the exact input order for 250 keys in batches of 100 under latency and unprocessed keys', async () => {
    const keys = shuffled(
      [...tickets.slice(100, 345).map(({ pk }) => ({ pk })), ...Array.from({ length: 5 }, (_, i) => ({ pk: `never#${i}` }))],
      11,
    );
    const faulty = withFaults(client, { latencyMs: [5, 40], unprocessedRate: 0.3, seed: 5 });

    const got = await run(from(keys).pipe(dynamoLookup(faulty, table, { maxAttempts: 25, backoff: { baseDelayMs: 1, maxDelayMs: 20 } })));

    expect(got).toEqual(expectedFor(keys));
    expect(faultStats(faulty).batchCalls).toBeGreaterThan(3);
  });
});
