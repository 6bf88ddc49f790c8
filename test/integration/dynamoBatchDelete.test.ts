import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type BatchWriteResult, type DynamoDBSender, dynamoBatchDelete, dynamoBatchWrite, type Item } from '../../src/index.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { byKey, run, sorted, total } from '../helpers/results.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

async function populate(table: string, items: Item[]): Promise<void> {
  await run(from(items).pipe(dynamoBatchWrite(client, table, { concurrency: 8 })));
  expect((await scanAll(client, table)).length).toBe(items.length);
}

describe('dynamoBatchDelete against DynamoDB Local', () => {
  it.each([
    ['a DynamoDBClient', (c: DynamoDBClient): DynamoDBSender => c],
    ['a DynamoDBDocumentClient', (c: DynamoDBClient): DynamoDBSender => DynamoDBDocumentClient.from(c)],
  ])('should delete 2,000 of 3,000 items by key with %s and leave the others untouched', async (_, wrap) => {
    const table = await createTable(client, uniqueTable('Delete'));
    const items = Array.from({ length: 3_000 }, (_, i) => ({ pk: `d#${i}`, n: i, tags: new Set(['a', `t${i % 5}`]) }));
    await populate(table, items);
    const doomed = items.filter((_, i) => i % 3 !== 0);

    const results = await run(
      from(doomed.map((item) => ({ pk: item.pk }))).pipe(dynamoBatchDelete(wrap(client), table, { concurrency: 8 })),
    );

    expect(total(results)).toBe(2_000);
    expect(results.every((r) => r.requests.length <= 25 && r.failed === undefined)).toBe(true);
    expect(results.flatMap((r) => r.requests).every((r) => r.table === table && 'delete' in r)).toBe(true);
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items.filter((_, i) => i % 3 === 0)));
  });

  it('should delete items passed whole, as a scan returns them, sending only their key attributes', async () => {
    const table = await createTable(client, uniqueTable('DeleteWhole'), { sortKey: 'N' });
    const items = Array.from({ length: 1_500 }, (_, i) => ({
      pk: `p#${i % 30}`,
      sk: Math.floor(i / 30),
      body: `item ${i}`,
      nested: { list: [i, { deep: true }] },
      bin: new Uint8Array([i & 255]),
    }));
    await populate(table, items);
    const scanned = await scanAll(client, table);
    const doomed = scanned.filter((item) => Number(item.sk) % 2 === 1);

    // No keyAttributes: the key schema is read from DescribeTable. A key with extra attributes would be a ValidationException.
    const results = await run(from(doomed).pipe(dynamoBatchDelete(client, table)));

    expect(total(results)).toBe(doomed.length);
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items.filter((item) => item.sk % 2 === 0)));
  });

  it('should accept deletes of keys that do not exist, and keys repeated in the stream', async () => {
    const table = await createTable(client, uniqueTable('DeleteMissing'));
    const items = Array.from({ length: 100 }, (_, i) => ({ pk: `m#${i}` }));
    await populate(table, items);
    const keys = [
      ...Array.from({ length: 200 }, (_, i) => ({ pk: `m#${i}` })),
      ...Array.from({ length: 200 }, (_, i) => ({ pk: `m#${i}` })),
    ];

    const results = await run(from(keys).pipe(dynamoBatchDelete(client, table, { keyAttributes: ['pk'], concurrency: 4 })));

    expect(total(results)).toBe(400);
    expect(await scanAll(client, table)).toEqual([]);
  });

  it('should delete from a table with a number partition key when given its key attributes', async () => {
    const table = await createTable(client, uniqueTable('DeleteNumeric'), { partitionKeyType: 'N' });
    const items = Array.from({ length: 500 }, (_, i) => ({ pk: i, label: `n${i}` }));
    await populate(table, items);

    const results = await run(
      from(items.filter((item) => item.pk >= 100)).pipe(dynamoBatchDelete(client, table, { keyAttributes: ['pk'] })),
    );

    expect(total(results)).toBe(400);
    const left = (await scanAll(client, table)).sort((a, b) => Number(a.pk) - Number(b.pk));
    expect(left).toEqual(items.slice(0, 100));
  });
});
