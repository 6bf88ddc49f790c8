import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { capacityStats, withSimulatedCapacity } from '../../src/testing/index.js';

let raw: DynamoDBClient;
const tables: string[] = [];

/** A fresh on-demand table with an S key `pk`, deleted after the tests. */
async function freshTable(): Promise<string> {
  const table = await createTable(raw, uniqueTable('Capacity'));
  tables.push(table);
  return table;
}

async function scanKeys(table: string): Promise<string[]> {
  return (await scanAll(raw, table)).map((item) => item.pk as string).sort();
}

/** A marshalled put of `pk` whose item is exactly `bytes` long by DynamoDB's rules (pad attribute `p`). */
function put(pk: string, bytes = 0): WriteRequest {
  const item: Record<string, AttributeValue> = { pk: { S: pk } };
  if (bytes > 0) item.p = { S: 'x'.repeat(bytes - (2 + pk.length) - 1) };
  return { PutRequest: { Item: item } };
}

const keysOf = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);

beforeAll(() => {
  raw = localClient(inject('dynamoEndpoint'), { maxAttempts: 1 });
});

afterAll(async () => {
  await Promise.all(tables.map((table) => raw.send(new DeleteTableCommand({ TableName: table }))));
  raw.destroy();
});

describe('withSimulatedCapacity', () => {
  it('should serve a burst up to the bucket and return exactly the rest in UnprocessedItems', async () => {
    const table = await freshTable();
    const client = withSimulatedCapacity(raw, { writeUnitsPerSecond: 10, now: () => 0 });
    const requests = keysOf(15, 'a').map((pk) => put(pk));
    const response = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
    expect(response.UnprocessedItems).toEqual({ [table]: requests.slice(10) });
    expect(await scanKeys(table)).toEqual(keysOf(10, 'a'));
    expect(capacityStats(client)).toEqual({
      writeUnitsConsumed: 10,
      readUnitsConsumed: 0,
      writeRequestsThrottled: 5,
      readKeysThrottled: 0,
      callsThrottled: 0,
    });
  });

  it('should charge a put one unit per started KB and a delete one unit, in request order', async () => {
    const table = await freshTable();
    await raw.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'gone' } } }));
    const client = withSimulatedCapacity(raw, { writeUnitsPerSecond: 5, now: () => 0 });
    const requests = [put('k1', 1024), put('k2', 1025), { DeleteRequest: { Key: { pk: { S: 'gone' } } } }, put('k3'), put('k4')];
    const response = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
    expect(response.UnprocessedItems).toEqual({ [table]: [put('k4')] });
    expect(await scanKeys(table)).toEqual(['k1', 'k2', 'k3']);
    expect(capacityStats(client).writeUnitsConsumed).toBe(5);
  });

  it('should refill the bucket as the clock advances, up to unitsPerSecond * burstSeconds', async () => {
    const table = await freshTable();
    let time = 0;
    const client = withSimulatedCapacity(raw, { writeUnitsPerSecond: 10, burstSeconds: 2, now: () => time });
    const send = (pks: string[]) => client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pks.map((pk) => put(pk)) } }));
    expect((await send(keysOf(20, 'a'))).UnprocessedItems).toEqual({}); // starts full: 20 units
    time = 300; // + 3 units
    const refilled = await send(keysOf(5, 'b'));
    expect(refilled.UnprocessedItems).toEqual({ [table]: [put('b03'), put('b04')] });
    time = 60_000; // a minute later the bucket holds 20, not 600
    const capped = await send(keysOf(25, 'c'));
    expect(capped.UnprocessedItems![table]).toEqual(
      keysOf(25, 'c')
        .slice(20)
        .map((pk) => put(pk)),
    );
    expect(await scanKeys(table)).toEqual([...keysOf(20, 'a'), ...keysOf(3, 'b'), ...keysOf(20, 'c')]);
  });

  it('should throw ProvisionedThroughputExceededException with nothing written when the bucket is empty', async () => {
    const table = await freshTable();
    let time = 0;
    const client = withSimulatedCapacity(raw, { writeUnitsPerSecond: 2, now: () => time });
    await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: [put('a'), put('b')] } }));
    time = 500; // 1 unit: not enough for a 2-unit item
    const error = await client
      .send(new BatchWriteItemCommand({ RequestItems: { [table]: [put('big', 1025), put('c')] } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(error).toMatchObject({
      name: 'ProvisionedThroughputExceededException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 },
      $retryable: { throttling: true },
    });
    expect(await scanKeys(table)).toEqual(['a', 'b']);
    // the throttled call consumed nothing: the 1 unit left still pays for a small item
    const response = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: [put('d')] } }));
    expect(response.UnprocessedItems).toEqual({});
    expect(await scanKeys(table)).toEqual(['a', 'b', 'd']);
    expect(capacityStats(client)).toMatchObject({ writeUnitsConsumed: 3, writeRequestsThrottled: 2, callsThrottled: 1 });
  });

  it('should return UnprocessedKeys and fewer items when the read bucket runs dry', async () => {
    const table = await freshTable();
    const pks = keysOf(6, 'r');
    await raw.send(new BatchWriteItemCommand({ RequestItems: { [table]: pks.map((pk) => put(pk)) } }));
    let time = 0;
    const client = withSimulatedCapacity(raw, { readUnitsPerSecond: 2, now: () => time });
    const key = (pk: string) => ({ pk: { S: pk } });
    // eventual reads cost 0.5 per key, a missing key included: 4 keys are paid for
    const projection = { ProjectionExpression: '#k, p', ExpressionAttributeNames: { '#k': 'pk' } };
    const keys = [key('r00'), key('r01'), key('missing'), key('r02'), key('r03'), key('r04')];
    const response = await client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys, ...projection } } }));
    expect(response.Responses![table]!.map((item) => item.pk!.S).sort()).toEqual(['r00', 'r01', 'r02']);
    expect(response.UnprocessedKeys).toEqual({ [table]: { Keys: [key('r03'), key('r04')], ...projection } });
    await expect(client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [key('r05')] } } }))).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
    });
    time = 1000; // 2 units: strongly consistent reads cost 1 each
    const consistent = await client.send(
      new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys.slice(3), ConsistentRead: true } } }),
    );
    expect(consistent.Responses![table]!.map((item) => item.pk!.S).sort()).toEqual(['r02', 'r03']);
    expect(consistent.UnprocessedKeys).toEqual({ [table]: { Keys: [key('r04')], ConsistentRead: true } });
    expect(capacityStats(client)).toEqual({
      writeUnitsConsumed: 0,
      readUnitsConsumed: 4,
      writeRequestsThrottled: 0,
      readKeysThrottled: 4,
      callsThrottled: 1,
    });
  });

  it('should hold back every key of a table when a projection leaves the key out and the bucket cannot pay', async () => {
    const [a, b] = [await freshTable(), await freshTable()];
    await raw.send(new BatchWriteItemCommand({ RequestItems: { [a]: [put('a1', 10)], [b]: ['b1', 'b2', 'b3'].map((pk) => put(pk, 10)) } }));
    const client = withSimulatedCapacity(raw, { readUnitsPerSecond: 1, now: () => 0 });
    await client.send(new BatchGetItemCommand({ RequestItems: { [b]: { Keys: [{ pk: { S: 'b1' } }] } } })); // b: 0.5 left
    const keys = ['b1', 'b2', 'b3'].map((pk) => ({ pk: { S: pk } }));
    const response = await client.send(
      new BatchGetItemCommand({ RequestItems: { [a]: { Keys: [{ pk: { S: 'a1' } }] }, [b]: { Keys: keys, ProjectionExpression: 'p' } } }),
    );
    expect(response.Responses).toEqual({ [a]: [put('a1', 10).PutRequest!.Item], [b]: [] });
    expect(response.UnprocessedKeys).toEqual({ [b]: { Keys: keys, ProjectionExpression: 'p' } });
  });

  it('should not charge the keys the real response left unprocessed, and merge them with its own', async () => {
    const item = { pk: { S: 'a' } };
    const fake = {
      send: async (_command: unknown) => ({
        Responses: { T: [item] },
        UnprocessedKeys: { T: { Keys: [{ pk: { S: 'c' } }], ConsistentRead: true } },
      }),
    };
    const client = withSimulatedCapacity(fake, { readUnitsPerSecond: 1, now: () => 0 });
    const keys = ['a', 'b', 'c'].map((pk) => ({ pk: { S: pk } }));
    const response = await client.send(new BatchGetItemCommand({ RequestItems: { T: { Keys: keys, ConsistentRead: true } } }));
    expect(response).toEqual({ Responses: { T: [item] }, UnprocessedKeys: { T: { Keys: [keys[2], keys[1]], ConsistentRead: true } } });
    expect(capacityStats(client)).toMatchObject({ readUnitsConsumed: 1, readKeysThrottled: 1, callsThrottled: 0 });
  });

  it('should limit a DynamoDBDocumentClient, returning plain items and keys', async () => {
    const table = await freshTable();
    const documents = DynamoDBDocumentClient.from(raw);
    const client = withSimulatedCapacity(documents, { writeUnitsPerSecond: 3, readUnitsPerSecond: 1, now: () => 0 });
    const items = [1, 2, 3, 4].map((n) => ({ pk: `d${n}`, n, tags: new Set(['x']) }));
    const written = await client.send(
      new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }),
    );
    expect(written.UnprocessedItems).toEqual({ [table]: [{ PutRequest: { Item: items[3] } }] });
    expect(await scanKeys(table)).toEqual(['d1', 'd2', 'd3']);
    const read = await client.send(
      new BatchGetCommand({ RequestItems: { [table]: { Keys: [{ pk: 'd1' }, { pk: 'd2' }, { pk: 'd3' }] } } }),
    );
    expect(read.Responses![table]!.sort((a, b) => String(a.pk).localeCompare(String(b.pk)))).toEqual(items.slice(0, 2));
    expect(read.UnprocessedKeys).toEqual({ [table]: { Keys: [{ pk: 'd3' }] } });
  });

  it('should pass non-batch commands and every other property straight to the client', async () => {
    const table = await freshTable();
    const client = withSimulatedCapacity(raw, { writeUnitsPerSecond: 1, readUnitsPerSecond: 1, now: () => 0 });
    await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: [put('a')] } }));
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'b' } } })); // the bucket is empty
    expect((await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'b' } } }))).Item).toEqual({ pk: { S: 'b' } });
    expect((await client.send(new DescribeTableCommand({ TableName: table }))).Table?.TableName).toBe(table);
    expect(await scanKeys(table)).toEqual(['a', 'b']);
    expect(client).toBeInstanceOf(DynamoDBClient);
    expect(client.config).toBe(raw.config);
    expect(client.middlewareStack).toBe(raw.middlewareStack);
    const fake = { send: vi.fn(async () => ({})), destroy: vi.fn(), region: 'x' };
    const wrapped = withSimulatedCapacity(fake, {});
    wrapped.destroy();
    expect(fake.destroy).toHaveBeenCalledOnce();
    expect(wrapped.region).toBe('x');
  });

  it('should merge its unprocessed requests with the ones the real response returns', async () => {
    const theirs = put('theirs');
    const fake = { send: vi.fn(async (_command: BatchWriteItemCommand) => ({ UnprocessedItems: { T: [theirs] }, $metadata: {} })) };
    const client = withSimulatedCapacity(fake, { writeUnitsPerSecond: 2, now: () => 0 });
    const response = await client.send(new BatchWriteItemCommand({ RequestItems: { T: [theirs, put('b'), put('c')], U: [put('d')] } }));
    expect(response.UnprocessedItems).toEqual({ T: [theirs, put('c')] });
    const sent = fake.send.mock.calls[0]![0];
    expect(sent).toBeInstanceOf(BatchWriteItemCommand);
    expect(sent.input.RequestItems).toEqual({ T: [theirs, put('b')], U: [put('d')] });
  });

  it('should reject bad options when created, naming the value', () => {
    expect(() => withSimulatedCapacity(raw, { writeUnitsPerSecond: 0 })).toThrow(
      new RangeError('writeUnitsPerSecond must be a finite number > 0, got 0'),
    );
    expect(() => withSimulatedCapacity(raw, { readUnitsPerSecond: -1 })).toThrow(RangeError);
    expect(() => withSimulatedCapacity(raw, { burstSeconds: Number.NaN })).toThrow(/burstSeconds .* got NaN/);
    expect(() => capacityStats(raw)).toThrow(TypeError);
  });
});
