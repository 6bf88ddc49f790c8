import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, take, toArray, type Observable } from 'rxjs';
import { CreateTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type DynamoDBSender,
  dynamoBatchWrite,
  type Item,
  type Key,
  dynamoParallelScan,
  dynamoQuery,
  dynamoQueryPages,
  dynamoScan,
  dynamoScanPages,
} from 'rxjs-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
/** 2,000 items written once; the tests only read. */
let table: string;
const items: Item[] = Array.from({ length: 2_000 }, (_, i) => ({
  pk: `s#${i}`,
  n: i,
  kind: i % 2 === 0 ? 'even' : 'odd',
  name: `name ${i}`,
  status: ['open', 'closed', 'pending'][i % 3],
  detail: { tags: [`t${i % 5}`], score: i / 4 },
}));

const run = <T>(values$: Observable<T>) => lastValueFrom(values$.pipe(toArray()), { defaultValue: [] as T[] });
const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a.pk).localeCompare(String(b.pk)) || Number(a.sk ?? 0) - Number(b.sk ?? 0);
const sorted = <T extends Record<string, unknown>>(list: T[]) => [...list].sort(byKey);
const pks = (list: Item[]) => list.map((item) => item.pk as string);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sender in front of `c` counting its Scan calls; the first `failFirst` of them throw a throttling error instead. */
function countingScans(c: DynamoDBSender, failFirst = 0) {
  const counter = { scans: 0, throttled: 0, startKeys: [] as Array<unknown>, sender: undefined as unknown as DynamoDBSender };
  counter.sender = {
    send: (command, options) => {
      if (command instanceof ScanCommand) {
        counter.scans += 1;
        counter.startKeys.push(command.input.ExclusiveStartKey);
        if (counter.scans <= failFirst) {
          counter.throttled += 1;
          const error = Object.assign(new Error('Throughput exceeded (injected)'), {
            name: 'ProvisionedThroughputExceededException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
          });
          return Promise.reject(error);
        }
      }
      return c.send(command, options);
    },
  };
  return counter;
}

beforeAll(async () => {
  client = localClient(inject('dynamoEndpoint'));
  table = await createTable(client, uniqueTable('Sources'));
  await run(from(items).pipe(dynamoBatchWrite(client, table, { concurrency: 8 })));
  expect(sorted(await scanAll(client, table))).toEqual(sorted(items));
});
afterAll(() => client.destroy());

describe('scan against DynamoDB Local', () => {
  it.each([
    ['a DynamoDBClient', (c: DynamoDBClient): DynamoDBSender => c],
    ['a DynamoDBDocumentClient', (c: DynamoDBClient): DynamoDBSender => DynamoDBDocumentClient.from(c)],
  ])('should read every item with %s', async (_, wrap) => {
    const got = await run(dynamoScan(wrap(client), { TableName: table }));

    expect(got).toHaveLength(2_000);
    expect(sorted(got)).toEqual(sorted(items));
  });

  it('should filter with a FilterExpression and plain ExpressionAttributeValues', async () => {
    const got = await run(
      dynamoScan(client, {
        TableName: table,
        FilterExpression: 'n < :max AND kind = :kind AND #s IN (:a, :b)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':max': 900, ':kind': 'even', ':a': 'open', ':b': 'pending' },
        Limit: 400,
      }),
    );

    const expected = items.filter((item) => (item.n as number) < 900 && item.kind === 'even' && item.status !== 'closed');
    expect(expected.length).toBeGreaterThan(200);
    expect(sorted(got)).toEqual(sorted(expected));
  });

  it('should return only the projected attributes with a ProjectionExpression over ExpressionAttributeNames', async () => {
    const got = await run(
      dynamoScan(client, {
        TableName: table,
        ProjectionExpression: 'pk, #n, #s, detail.score',
        ExpressionAttributeNames: { '#n': 'name', '#s': 'status' },
      }),
    );

    expect(sorted(got)).toEqual(
      sorted(items.map((item) => ({ pk: item.pk, name: item.name, status: item.status, detail: { score: item.detail.score } }))),
    );
  });

  it('should page with Limit, each LastEvaluatedKey a plain object, the last page without one', async () => {
    const pages = await run(dynamoScanPages(client, { TableName: table, Limit: 300 }));

    expect(pages).toHaveLength(7); // 6 × 300 + 200
    expect(pages.map((page) => page.count)).toEqual([300, 300, 300, 300, 300, 300, 200]);
    for (const page of pages.slice(0, -1)) {
      expect(page.lastEvaluatedKey).toEqual({ pk: expect.any(String) });
      expect(page.lastEvaluatedKey!.pk).toBe(page.items.at(-1)!.pk);
    }
    expect(pages.at(-1)!.lastEvaluatedKey).toBeUndefined();
    expect(sorted(pages.flatMap((page) => page.items))).toEqual(sorted(items));
  });

  it('should resume with startKey after the first pages were taken and the scan stopped: the rest exactly', async () => {
    const counter = countingScans(client);
    const first = await run(dynamoScanPages(counter.sender, { TableName: table, Limit: 250 }).pipe(take(3)));
    const checkpoint = first.at(-1)!.lastEvaluatedKey;
    expect(checkpoint).toBeDefined();
    await sleep(100);
    const callsForFirst = counter.scans;
    expect(callsForFirst).toBe(3); // take(3) stopped the paging: no fourth page was asked for

    const rest = await run(dynamoScanPages(counter.sender, { TableName: table, Limit: 250 }, { startKey: checkpoint }));

    const before = pks(first.flatMap((page) => page.items));
    const after = pks(rest.flatMap((page) => page.items));
    expect(before).toHaveLength(750);
    expect(after).toHaveLength(1_250);
    expect(before.filter((pk) => after.includes(pk))).toEqual([]);
    expect([...before, ...after].sort()).toEqual(pks(items).sort());
    expect(counter.startKeys[callsForFirst]).toEqual({ pk: { S: checkpoint!.pk } }); // the resumed scan began at the checkpoint
  });

  it('should stop paging when unsubscribed after the first page', async () => {
    const counter = countingScans(client);
    let received = 0;

    const subscription = dynamoScan(counter.sender, { TableName: table, Limit: 100 }).subscribe(() => {
      received += 1;
      if (received === 100) subscription.unsubscribe();
    });
    await waitUntil(() => received >= 100);
    const callsAtUnsubscribe = counter.scans;
    await sleep(200);

    expect(received).toBe(100);
    expect(subscription.closed).toBe(true);
    expect(callsAtUnsubscribe).toBe(1);
    expect(counter.scans).toBe(callsAtUnsubscribe);
  });

  it('should abort the call in flight when unsubscribed mid-page', async () => {
    const signals: AbortSignal[] = [];
    const slow: DynamoDBSender = {
      send: async (command, options) => {
        if (command instanceof ScanCommand && options?.abortSignal) signals.push(options.abortSignal);
        await sleep(150);
        return client.send(command, options);
      },
    };
    const subscription = dynamoScan(slow, { TableName: table, Limit: 100 }).subscribe();
    await sleep(30);

    subscription.unsubscribe();

    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    await sleep(200);
    expect(signals).toHaveLength(1);
  });

  it('should fetch throttled pages again after the backoff and still read everything', async () => {
    const counter = countingScans(client, 2);

    const got = await run(dynamoScan(counter.sender, { TableName: table, Limit: 500 }, { backoff: { baseDelayMs: 1, maxDelayMs: 10 } }));

    expect(counter.throttled).toBe(2);
    expect(counter.scans).toBe(2 + 5); // 4 full pages, then the empty page after an exact division
    expect(got).toHaveLength(2_000);
    expect(sorted(got)).toEqual(sorted(items));
  });

  it('should give up a page after maxAttempts throttled calls with a SourceError whose cause is the throttling error', async () => {
    const counter = countingScans(client, 100);

    const error = await run(
      dynamoScan(counter.sender, { TableName: table }, { maxAttempts: 3, backoff: { baseDelayMs: 1, maxDelayMs: 5 } }),
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );

    expect(error?.name).toBe('SourceError');
    expect((error?.cause as Error).name).toBe('ProvisionedThroughputExceededException');
    expect((error as unknown as { startKey: unknown }).startKey).toBeUndefined(); // the first page: start again from the beginning
    expect(counter.scans).toBe(3);
  });
});

describe('parallelScan against DynamoDB Local', () => {
  it('should return every item exactly once over 4 segments', async () => {
    const got = await run(dynamoParallelScan(client, { TableName: table }, { totalSegments: 4 }));

    expect(got).toHaveLength(2_000);
    expect(new Set(pks(got)).size).toBe(2_000);
    expect(sorted(got)).toEqual(sorted(items));
  });

  it('should cover the table with no overlap from two calls on disjoint segments', async () => {
    const counter = countingScans(client);
    const low = await run(dynamoParallelScan(counter.sender, { TableName: table, Limit: 200 }, { totalSegments: 4, segments: [0, 1] }));
    const high = await run(dynamoParallelScan(counter.sender, { TableName: table, Limit: 200 }, { totalSegments: 4, segments: [2, 3] }));

    expect(low.length).toBeGreaterThan(0);
    expect(high.length).toBeGreaterThan(0);
    const lowKeys = new Set(pks(low));
    expect(lowKeys.size).toBe(low.length);
    expect(pks(high).filter((pk) => lowKeys.has(pk))).toEqual([]);
    expect(sorted([...low, ...high])).toEqual(sorted(items));
    expect(counter.scans).toBeGreaterThan(4); // segments were paged
  });
});

describe('query against DynamoDB Local', () => {
  let tickets: string;
  /** 5 partitions × 120 sort keys, with a GSI on (queue, created). */
  const rows: Item[] = Array.from({ length: 600 }, (_, i) => ({
    pk: `org#${i % 5}`,
    sk: Math.floor(i / 5),
    queue: ['billing', 'support', 'sales', 'legal'][i % 4],
    created: 1_000_000 - i * 7,
    title: `ticket ${i}`,
  }));

  beforeAll(async () => {
    tickets = uniqueTable('Query');
    await client.send(
      new CreateTableCommand({
        TableName: tickets,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
          { AttributeName: 'queue', AttributeType: 'S' },
          { AttributeName: 'created', AttributeType: 'N' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byQueue',
            KeySchema: [
              { AttributeName: 'queue', KeyType: 'HASH' },
              { AttributeName: 'created', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
    await run(from(rows).pipe(dynamoBatchWrite(client, tickets)));
  });

  it('should query the table key with a sort key condition, in sort key order', async () => {
    const got = await run(
      dynamoQuery(client, {
        TableName: tickets,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': 'org#2', ':from': 10, ':to': 59 },
        Limit: 15,
      }),
    );

    const expected = rows.filter((row) => row.pk === 'org#2' && (row.sk as number) >= 10 && (row.sk as number) <= 59);
    expect(expected).toHaveLength(50);
    expect(got).toEqual([...expected].sort((a, b) => (a.sk as number) - (b.sk as number)));
  });

  it('should query a global secondary index, in index sort key order', async () => {
    const got = await run(
      dynamoQuery(client, {
        TableName: tickets,
        IndexName: 'byQueue',
        KeyConditionExpression: '#q = :q AND created > :after',
        ExpressionAttributeNames: { '#q': 'queue' },
        ExpressionAttributeValues: { ':q': 'support', ':after': 999_000 },
      }),
    );

    const expected = rows.filter((row) => row.queue === 'support' && (row.created as number) > 999_000);
    expect(expected.length).toBeGreaterThan(20);
    expect(got).toEqual([...expected].sort((a, b) => (a.created as number) - (b.created as number)));
  });

  it('should page a GSI query and resume it from a LastEvaluatedKey', async () => {
    const input = {
      TableName: tickets,
      IndexName: 'byQueue',
      KeyConditionExpression: '#q = :q',
      ExpressionAttributeNames: { '#q': 'queue' },
      ExpressionAttributeValues: { ':q': 'billing' },
      ScanIndexForward: false,
      Limit: 40,
    };
    const first = await run(dynamoQueryPages(client, input).pipe(take(2)));
    const checkpoint: Key = first.at(-1)!.lastEvaluatedKey!;
    expect(Object.keys(checkpoint).sort()).toEqual(['created', 'pk', 'queue', 'sk']);

    const rest = await run(dynamoQueryPages(client, input, { startKey: checkpoint }));

    const expected = rows.filter((row) => row.queue === 'billing').sort((a, b) => (b.created as number) - (a.created as number));
    expect(expected).toHaveLength(150);
    expect([...first, ...rest].flatMap((page) => page.items)).toEqual(expected);
  });
});

/** Polls `condition` every 5 ms, for at most 5 s. */
async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await sleep(5);
  }
}
