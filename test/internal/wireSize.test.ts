import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { itemWireBytes } from '../../src/internal/wireSize.js';

/** The real SDK serializes the request; a request handler that answers locally captures the exact body. */
function capturingClient() {
  const bodies: string[] = [];
  const client = new DynamoDBClient({
    region: 'local',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { body: string }) => {
        bodies.push(request.body);
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

describe('itemWireBytes', () => {
  it('should count exactly the bytes the SDK puts on the wire for an item', async () => {
    const { client, bodies } = capturingClient();
    const overheads: number[] = [];
    for (const item of items) {
      const av = marshall(item, { removeUndefinedValues: true });
      await client.send(new BatchWriteItemCommand({ RequestItems: { T: [{ PutRequest: { Item: av } }] } }));
      overheads.push(Buffer.byteLength(bodies.at(-1)!, 'utf8') - itemWireBytes(av));
    }
    // the envelope around one item, {"RequestItems":{"T":[{"PutRequest":{"Item": … }}]}}, is the same for every item
    expect(new Set(overheads)).toEqual(new Set([Buffer.byteLength('{"RequestItems":{"T":[{"PutRequest":{"Item":}}]}}')]));
  });
});
