import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ProvisionedThroughputExceededException,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { faultStats, withFaults } from '../../src/testing/index.js';

let raw: DynamoDBClient;
const tables: string[] = [];

/** A fresh on-demand table with an S key `pk`, deleted after the tests. */
async function freshTable(): Promise<string> {
  const table = await createTable(raw, uniqueTable('Faults'));
  tables.push(table);
  return table;
}

async function scanKeys(table: string): Promise<string[]> {
  return (await scanAll(raw, table)).map((item) => item.pk as string).sort();
}

const pks = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
const puts = (): WriteRequest[] => pks.map((pk) => ({ PutRequest: { Item: { pk: { S: pk } } } }));
const writeAll = (table: string) => new BatchWriteItemCommand({ RequestItems: { [table]: puts().slice(0, 20) } });
const unprocessedKeys = (requests: WriteRequest[] = []) => requests.map((r) => r.PutRequest!.Item!.pk!.S!).sort();

/** A client that counts the calls reaching it. */
function counting(client: DynamoDBClient) {
  const calls: unknown[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const send = (command: any, options?: object): Promise<any> => (calls.push(command), client.send(command, options));
  return { calls, client: { send } };
}

beforeAll(() => {
  raw = localClient(inject('dynamoEndpoint'), { maxAttempts: 1 });
});

afterAll(async () => {
  await Promise.all(tables.map((table) => raw.send(new DeleteTableCommand({ TableName: table }))));
  raw.destroy();
});

describe('withFaults', () => {
  it('should hold back the same requests for the same seed, and write exactly the others', async () => {
    const [a, b, c] = [await freshTable(), await freshTable(), await freshTable()];
    const sendWith = (table: string, seed: number) => withFaults(raw, { unprocessedRate: 0.5, seed }).send(writeAll(table));
    const [first, second, other] = [await sendWith(a, 7), await sendWith(b, 7), await sendWith(c, 8)];
    const held = unprocessedKeys(first.UnprocessedItems![a]);
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThan(20);
    expect(unprocessedKeys(second.UnprocessedItems![b])).toEqual(held);
    expect(unprocessedKeys(other.UnprocessedItems![c])).not.toEqual(held);
    expect(await scanKeys(a)).toEqual(pks.filter((pk) => !held.includes(pk)));
    expect(await scanKeys(b)).toEqual(pks.filter((pk) => !held.includes(pk)));
  });

  it('should pass everything through at rate 0', async () => {
    const table = await freshTable();
    const client = withFaults(raw, { unprocessedRate: 0, throttleRate: 0 });
    expect((await client.send(writeAll(table))).UnprocessedItems).toEqual({});
    expect(await scanKeys(table)).toEqual(pks);
    expect(faultStats(client)).toEqual({ calls: 1, batchCalls: 1, callsThrottled: 0, requestsUnprocessed: 0 });
  });

  it('should return everything unprocessed at rate 1 without calling the client', async () => {
    const table = await freshTable();
    const inner = counting(raw);
    const client = withFaults(inner.client, { unprocessedRate: 1 });
    const written = await client.send(writeAll(table));
    expect(written.UnprocessedItems).toEqual({ [table]: puts() });
    const keys = {
      Keys: [{ pk: { S: 'k00' } }],
      ProjectionExpression: '#k',
      ExpressionAttributeNames: { '#k': 'pk' },
      ConsistentRead: true,
    };
    const read = await client.send(new BatchGetItemCommand({ RequestItems: { [table]: keys } }));
    expect(read.Responses).toEqual({ [table]: [] });
    expect(read.UnprocessedKeys).toEqual({ [table]: keys });
    expect(inner.calls).toEqual([]);
    expect(await scanKeys(table)).toEqual([]);
    expect(faultStats(client).requestsUnprocessed).toBe(21);
  });

  it('should hold back plain items and keys of a DynamoDBDocumentClient, and read the rest', async () => {
    const table = await freshTable();
    const client = withFaults(DynamoDBDocumentClient.from(raw), { unprocessedRate: 0.5, seed: 3 });
    const items = pks.map((pk, n) => ({ pk, n }));
    const written = await client.send(
      new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }),
    );
    const held = (written.UnprocessedItems![table] ?? []).map((request) => request.PutRequest!.Item);
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((item) => items.includes(item as (typeof items)[number]))).toBe(true); // the very objects sent
    const stored = pks.filter((pk) => !held.some((item) => item!.pk === pk));
    expect(await scanKeys(table)).toEqual(stored);
    const read = await client.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pks.map((pk) => ({ pk })) } } }));
    const unread = (read.UnprocessedKeys![table]?.Keys ?? []).map((key) => key.pk as string);
    expect(unread.length).toBeGreaterThan(0);
    const returned = read.Responses![table]!.sort((x, y) => String(x.pk).localeCompare(String(y.pk)));
    expect(returned).toEqual(items.filter(({ pk }) => stored.includes(pk) && !unread.includes(pk)));
  });

  it('should always throw the given throttling error at throttleRate 1, writing nothing', async () => {
    const table = await freshTable();
    const inner = counting(raw);
    const throttling = withFaults(inner.client, { throttleRate: 1, errorNames: ['ThrottlingException'] });
    for (let i = 0; i < 3; i++) {
      await expect(throttling.send(writeAll(table))).rejects.toMatchObject({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 },
        $retryable: { throttling: true },
      });
    }
    const byDefault = await withFaults(raw, { throttleRate: 1 })
      .send(writeAll(table))
      .catch((e: unknown) => e);
    expect(byDefault).toBeInstanceOf(ProvisionedThroughputExceededException);
    const server = await withFaults(raw, { throttleRate: 1, errorNames: ['InternalServerError'] })
      .send(writeAll(table))
      .catch((e: unknown) => e);
    expect(server).toMatchObject({ name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500 } });
    expect(inner.calls).toEqual([]);
    expect(await scanKeys(table)).toEqual([]);
    expect(faultStats(throttling)).toEqual({ calls: 3, batchCalls: 3, callsThrottled: 3, requestsUnprocessed: 0 });
  });

  it('should delay every call by the latency, and reject at once with AbortError when aborted', async () => {
    const table = await freshTable();
    const client = withFaults(raw, { latencyMs: [40, 60] });
    const started = Date.now();
    await client.send(new DescribeTableCommand({ TableName: table }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(39);

    const slow = withFaults(raw, { latencyMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const abortStarted = Date.now();
    await expect(slow.send(writeAll(table), { abortSignal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - abortStarted).toBeLessThan(1000);
    await expect(slow.send(new DescribeTableCommand({ TableName: table }), { abortSignal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(await scanKeys(table)).toEqual([]);
  });

  it('should pass other properties through and honour the callback form of send', async () => {
    const fake = { send: vi.fn(async () => ({ UnprocessedItems: {} })), destroy: vi.fn(), config: { region: 'x' } };
    const client = withFaults(fake, { unprocessedRate: 0 });
    expect(client.config).toBe(fake.config);
    client.destroy();
    expect(fake.destroy).toHaveBeenCalledOnce();
    const output = await new Promise((resolve, reject) =>
      (client.send as (c: unknown, cb: (e: unknown, o: unknown) => void) => void)(writeAll('T'), (e, o) => (e ? reject(e) : resolve(o))),
    );
    expect(output).toEqual({ UnprocessedItems: {} });
  });

  it('should reject bad options when created, naming the value', () => {
    expect(() => withFaults(raw, { unprocessedRate: 1.5 })).toThrow(new RangeError('unprocessedRate must be a number in [0, 1], got 1.5'));
    expect(() => withFaults(raw, { throttleRate: -0.1 })).toThrow(/throttleRate .* got -0.1/);
    expect(() => withFaults(raw, { latencyMs: [50, 10] })).toThrow(/latencyMs .* got \[50,10\]/);
    expect(() => withFaults(raw, { errorNames: [] })).toThrow(RangeError);
    expect(() => faultStats(raw)).toThrow(TypeError);
  });
});
