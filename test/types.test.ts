import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type OperatorFunction } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type BatchWriteResult,
  bufferBatch,
  dynamoBatchDelete,
  dynamoBatchWrite,
  dynamoBatchWriteRequests,
  type Item,
  type Key,
  type WriteRequest,
} from 'rxjs-dynamodb';
import { withFaults, withSimulatedCapacity } from 'rxjs-dynamodb/testing';

describe('public types', () => {
  it('should accept both client kinds and the injectors, and infer the operators', () => {
    const client = new DynamoDBClient({});
    const doc = DynamoDBDocumentClient.from(client);
    expectTypeOf(dynamoBatchWrite(client, 'T')).toEqualTypeOf<OperatorFunction<Item, BatchWriteResult>>();
    expectTypeOf(dynamoBatchDelete(doc, 'T')).toEqualTypeOf<OperatorFunction<Key, BatchWriteResult>>();
    expectTypeOf(dynamoBatchWriteRequests(withFaults(client, {}))).toEqualTypeOf<OperatorFunction<WriteRequest, BatchWriteResult>>();
    expectTypeOf(withSimulatedCapacity(doc, {})).toMatchTypeOf<DynamoDBDocumentClient>();
    expectTypeOf(bufferBatch<number>({ maxCount: 2 })).toEqualTypeOf<OperatorFunction<number, number[]>>();
    client.destroy();
  });
});
