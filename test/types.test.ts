import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { from, type Observable, type OperatorFunction } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type BatchGetFailure,
  type BatchWriteResult,
  bufferBatch,
  dynamoBatchDelete,
  dynamoBatchGet,
  dynamoBatchGetRequests,
  dynamoBatchWrite,
  dynamoBatchWriteRequests,
  dynamoLookup,
  dynamoParallelScan,
  dynamoQuery,
  dynamoQueryPages,
  dynamoScan,
  dynamoScanPages,
  type GetResponse,
  type Item,
  type Key,
  type Lookup,
  type Page,
  parallelScan,
  query,
  queryPages,
  scan,
  scanPages,
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

// An interface, as users write them: it has no index signature, so it is not assignable to `Item`.
interface Ticket {
  id: string;
  title: string;
  votes: bigint;
}
interface TicketKey {
  id: string;
}

describe('generic item types', () => {
  const client = new DynamoDBClient({});

  it('should type every source by the item type named', () => {
    expectTypeOf(dynamoScan<Ticket>(client, { TableName: 'T' })).toEqualTypeOf<Observable<Ticket>>();
    expectTypeOf(dynamoQuery<Ticket>(client, { TableName: 'T', KeyConditionExpression: 'id = :id' })).toEqualTypeOf<Observable<Ticket>>();
    expectTypeOf(dynamoParallelScan<Ticket>(client, { TableName: 'T' }, { totalSegments: 2 })).toEqualTypeOf<Observable<Ticket>>();
    expectTypeOf(dynamoScanPages<Ticket>(client, { TableName: 'T' })).toEqualTypeOf<Observable<Page<Ticket>>>();
    expectTypeOf(dynamoQueryPages<Ticket>(client, { TableName: 'T' })).toEqualTypeOf<Observable<Page<Ticket>>>();
    // without one, items are `Item`
    expectTypeOf(dynamoScan(client, { TableName: 'T' })).toEqualTypeOf<Observable<Item>>();
  });

  it('should give pages camelCase fields and one way to resume', () => {
    expectTypeOf<Page<Ticket>>().toEqualTypeOf<{
      items: Ticket[];
      lastEvaluatedKey?: Key;
      count: number;
      scannedCount: number;
      consumedCapacity?: import('@aws-sdk/client-dynamodb').ConsumedCapacity;
    }>();
    // @ts-expect-error ExclusiveStartKey is not part of a source's input: resume with the startKey option
    const resumedByInput = () => dynamoScan(client, { TableName: 'T', ExclusiveStartKey: { id: 'a' } });
    // and refused at run time too, for callers without types, when the source is created
    expect(resumedByInput).toThrow(/ExclusiveStartKey in the input is not supported: pass it as the startKey option/);
  });

  it('should let typed items and keys flow through every operator', () => {
    const tickets = from<Ticket[]>([]);
    const keys = from<TicketKey[]>([]);
    expectTypeOf(tickets.pipe(dynamoBatchWrite(client, 'T'))).toEqualTypeOf<Observable<BatchWriteResult<Ticket>>>();
    expectTypeOf(keys.pipe(dynamoBatchDelete(client, 'T'))).toEqualTypeOf<Observable<BatchWriteResult>>();
    expectTypeOf(keys.pipe(dynamoBatchGet<Ticket>(client, 'T'))).toEqualTypeOf<Observable<Ticket>>();
    expectTypeOf(keys.pipe(dynamoBatchGet<Ticket>(client, 'T', { onFailure: 'emit' }))).toEqualTypeOf<
      Observable<Ticket | BatchGetFailure>
    >();
    expectTypeOf(keys.pipe(dynamoLookup<Ticket, TicketKey>(client, 'T'))).toEqualTypeOf<Observable<Lookup<Ticket, TicketKey>>>();
    expectTypeOf(
      from([{ table: 'T', key: { id: 'a' } as TicketKey }]).pipe(dynamoBatchGetRequests<Ticket, TicketKey>(client)),
    ).toEqualTypeOf<Observable<GetResponse<Ticket, TicketKey>>>();
    expectTypeOf(from<Array<WriteRequest<Ticket>>>([]).pipe(dynamoBatchWriteRequests(client))).toEqualTypeOf<
      Observable<BatchWriteResult<Ticket>>
    >();
    // a source typed once types the whole pipeline
    expectTypeOf(dynamoScan<Ticket>(client, { TableName: 'T' }).pipe(dynamoBatchWrite(client, 'Copy'))).toEqualTypeOf<
      Observable<BatchWriteResult<Ticket>>
    >();
  });

  it("should keep the sources' first names as the same functions", () => {
    expectTypeOf(scan).toEqualTypeOf(dynamoScan);
    expectTypeOf(scanPages).toEqualTypeOf(dynamoScanPages);
    expectTypeOf(query).toEqualTypeOf(dynamoQuery);
    expectTypeOf(queryPages).toEqualTypeOf(dynamoQueryPages);
    expectTypeOf(parallelScan).toEqualTypeOf(dynamoParallelScan);
  });
});
