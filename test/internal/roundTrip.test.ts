import { type AttributeValue, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { marshallItem } from '../../src/internal/marshal.js';
import { exactUnmarshall } from '../../src/internal/unmarshal.js';
import { item, normal } from '../helpers/arbitraries.js';

/**
 * A real SDK client whose HTTP layer keeps the last PutItem body and answers a GetItem with that item: what
 * crosses the wire is the SDK's own serialization and deserialization, both ways.
 */
function echoClient(): DynamoDBClient {
  let stored: unknown;
  const handle = async (request: { headers: Record<string, string>; body: Uint8Array | string }) => {
    const target = request.headers['x-amz-target'] ?? '';
    const body = JSON.parse(Buffer.from(request.body as Uint8Array).toString('utf8')) as { Item?: unknown };
    if (target.endsWith('PutItem')) stored = body.Item;
    const { Readable } = await import('node:stream');
    const json = target.endsWith('GetItem') ? `{"Item":${JSON.stringify(stored)}}` : '{}';
    return {
      response: {
        statusCode: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: Readable.from([Buffer.from(json)]),
      },
    };
  };
  return new DynamoDBClient({
    region: 'local',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
    requestHandler: { handle } as never,
  });
}

describe('marshal → wire → unmarshal (issue 8)', () => {
  it('should give back every value exactly through the SDK serializer and deserializer (property)', async () => {
    const client = echoClient();
    await fc.assert(
      fc.asyncProperty(item(), async (original) => {
        await client.send(new PutItemCommand({ TableName: 'T', Item: marshallItem(original, {}) }));
        const { Item } = await client.send(new GetItemCommand({ TableName: 'T', Key: { pk: { S: 'x' } } }));
        const back = exactUnmarshall(Item as Record<string, AttributeValue>);
        expect(normal(back)).toEqual(normal(original));
        expect(Object.keys(back).sort()).toEqual(Object.keys(original).sort());
      }),
      { numRuns: 300 },
    );
    client.destroy();
  });
});
