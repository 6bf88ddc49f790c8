import { BatchWriteItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fastCommand } from '../../src/internal/engine/fastCommand.js';
import { itemCommand, WireMap } from '../../src/internal/itemWrite/command.js';
import { attributeValuesOf, marshalJson, marshallItem } from '../../src/internal/marshal.js';
import { item } from '../helpers/arbitraries.js';

/** The real SDK serializes each request; a request handler that answers locally captures the exact body. */
function capturingClient() {
  const bodies: string[] = [];
  const client = new DynamoDBClient({
    region: 'local',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { body: string | Uint8Array; headers: Record<string, string> }) => {
        const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
        bodies.push(body);
        expect(request.headers['content-length']).toBe(String(Buffer.byteLength(body)));
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: Readable.from([Buffer.from('{"UnprocessedItems":{}}')]),
          },
        };
      },
    } as never,
  });
  return { client, bodies };
}

const items: Record<string, unknown>[] = [
  { pk: 'x' },
  { pk: 'a "quoted" \\ backslash', n: 7, neg: -12.5, big: 12345678901234567890n },
  { pk: 'ctl\u0001\u0002\n\t', s: 'ünïcødé ✓ 😀', e: '' },
  { pk: 'bin', b: new Uint8Array([0, 1, 2, 3, 254, 255, 7]), b2: new Uint8Array(0) },
  {
    pk: 'sets',
    ss: new Set(['a', 'b"', 'c']),
    ns: new Set([1, 2.5, -3]),
    bs: new Set([new Uint8Array([1]), new Uint8Array([1, 2, 3, 4])]),
  },
  { pk: 'nested', l: [1, 'two', [true, false, null], { m: { deep: [[], {}] } }], m: { 'k"ey': 'v', '': 1 }, t: true, f: false, z: null },
];

describe('the request body the toolkit writes (issue 9)', () => {
  it('should be byte for byte what the SDK serializes for the same AttributeValues, so the 16 MiB count is exact', async () => {
    const { client, bodies } = capturingClient();
    const check = async (values: Record<string, unknown>) => {
      const av = marshallItem(values, { removeUndefinedValues: true });
      await client.send(new BatchWriteItemCommand({ RequestItems: { T: [{ PutRequest: { Item: av } }] } }));
      expect(`{"RequestItems":{"T":[{"PutRequest":{"Item":${marshalJson(values, { removeUndefinedValues: true })}}}]}}`).toBe(
        bodies.at(-1),
      );
    };
    for (const values of items) await check(values);
    await fc.assert(fc.asyncProperty(item(), check), { numRuns: 200 });
    client.destroy();
  });

  it('should go on the wire in place of the SDK serialization, and give wrappers the ordinary input when they read it', async () => {
    const { client, bodies } = capturingClient();
    const text = marshalJson(items[1]!, {});
    const prepared = () => ({
      body: `{"RequestItems":{"T":[{"PutRequest":{"Item":${text}}}]}}`,
      stub: { RequestItems: { T: [] } },
      input: () => ({ RequestItems: { T: [{ PutRequest: { Item: attributeValuesOf(text) } }] } }),
    });
    await client.send(fastCommand(BatchWriteItemCommand, prepared()));
    expect(bodies.at(-1)).toBe(prepared().body);
    // a wrapper that reads (and may change) the input gets the SDK's own serialization of what it left there
    const command = fastCommand(BatchWriteItemCommand, prepared());
    (command.input.RequestItems!.T as unknown[]).length = 0;
    await client.send(command).catch(() => undefined);
    expect(bodies.at(-1)).toBe('{"RequestItems":{"T":[]}}');
    client.destroy();
  });
  it('should give a single-item command an input that lists, spreads and changes like a plain object', async () => {
    const { client, bodies } = capturingClient();
    const key = new WireMap('{"pk":{"S":"ticket#\u{1F600}"},"sk":{"N":"12345678901234567890123"}}');
    const make = () =>
      itemCommand(UpdateItemCommand, {
        TableName: 'T',
        Key: key,
        UpdateExpression: 'SET #n0 = :v0',
        ExpressionAttributeNames: { '#n0': 'status' },
        ExpressionAttributeValues: new WireMap('{":v0":{"S":"open"}}'),
      });
    await client.send(make());
    expect(bodies.at(-1)).toBe(
      '{"TableName":"T","Key":{"pk":{"S":"ticket#\u{1F600}"},"sk":{"N":"12345678901234567890123"}},"UpdateExpression":"SET #n0 = :v0","ExpressionAttributeNames":{"#n0":"status"},"ExpressionAttributeValues":{":v0":{"S":"open"}}}',
    );
    const { input } = make();
    expect(Object.keys(input)).toEqual(['TableName', 'Key', 'UpdateExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues']);
    expect({ ...input }).toEqual({
      TableName: 'T',
      Key: { pk: { S: 'ticket#\u{1F600}' }, sk: { N: '12345678901234567890123' } },
      UpdateExpression: 'SET #n0 = :v0',
      ExpressionAttributeNames: { '#n0': 'status' },
      ExpressionAttributeValues: { ':v0': { S: 'open' } },
    });
    expect('Key' in input && !('ConditionExpression' in input)).toBe(true);
    // a wrapper that changes the input (fields set, one deleted and set again) sends what it changed
    const changed = make();
    changed.input.ConditionExpression = 'attribute_exists(pk)';
    changed.input.TableName = 'Other';
    delete changed.input.ExpressionAttributeNames;
    changed.input.UpdateExpression = 'SET #s = :v0';
    changed.input.ExpressionAttributeNames = { '#s': 'state' };
    await client.send(changed);
    expect(JSON.parse(bodies.at(-1)!)).toEqual({
      TableName: 'Other',
      Key: { pk: { S: 'ticket#\u{1F600}' }, sk: { N: '12345678901234567890123' } },
      UpdateExpression: 'SET #s = :v0',
      ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: { ':v0': { S: 'open' } },
      ConditionExpression: 'attribute_exists(pk)',
    });
    client.destroy();
  });
});
