import {
  type ConsumedCapacity,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandInput,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { NativeAttributeValue, unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { asyncScheduler, catchError, concatMap, defer, EMPTY, expand, map, type Observable, of, type SchedulerLike, tap } from 'rxjs';
import { SourceError } from '../errors.js';
import { validateBackoff } from '../internal/backoff.js';
import type { Backpressure } from '../backpressure.js';
import { marshallOptionsOf, sendCommand, unmarshallOptionsOf } from '../internal/client.js';
import { marshallItem, type MarshalSettings } from '../internal/marshal.js';
import { unmarshallerFor } from '../internal/unmarshal.js';
import { retryWithBackoff } from '../internal/retryCall.js';
import { type CapacityBudget, type CapacityOptions, toBudget } from '../capacity.js';
import type { BackoffOptions, DynamoDBSender, Item, Key } from '../types.js';

/** What the document model changes in an input: values and keys are plain JavaScript. */
type DocumentModel<T> = Omit<T, 'ExclusiveStartKey' | 'ExpressionAttributeValues'> & {
  ExclusiveStartKey?: Key;
  ExpressionAttributeValues?: Record<string, NativeAttributeValue>;
};
/** `ScanCommandInput` with plain JavaScript values: `FilterExpression`, `ProjectionExpression`, `IndexName`, … pass through. */
export type ScanInput = DocumentModel<ScanCommandInput>;
/** `QueryCommandInput` with plain JavaScript values: `KeyConditionExpression`, `IndexName`, … pass through. */
export type QueryInput = DocumentModel<QueryCommandInput>;

/** One page of a scan or query, unmarshalled. */
export interface Page {
  Items: Item[];
  /** Where the next page starts; absent on the last page. Keep it to resume a stopped job (`startKey`). */
  LastEvaluatedKey?: Key;
  Count: number;
  ScannedCount: number;
  ConsumedCapacity?: ConsumedCapacity;
}

/** Options of the sources. */
export interface SourceOptions {
  /** Where to start: a `LastEvaluatedKey` kept from an earlier run. @default input.ExclusiveStartKey, else the beginning */
  startKey?: Key;
  /** Calls per page while they fail with throttling or transient errors. @default 10 */
  maxAttempts?: number;
  /** Backoff between them. @default { baseDelayMs: 100, maxDelayMs: 20000, jitter: 'full' } */
  backoff?: BackoffOptions;
  /** Every delay goes through it. @default asyncScheduler */
  scheduler?: SchedulerLike;
  /** Jitter source. @default Math.random */
  random?: () => number;
  /** Ask for the next page only while the link is under its high-water mark. @default none: page as fast as DynamoDB answers */
  backpressure?: Backpressure;
  /** How `startKey` and `ExpressionAttributeValues` are marshalled. @default the document client's, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: MarshalSettings;
  /**
   * How items are unmarshalled, through the SDK's `unmarshall`: give `{}` for the SDK's plain behaviour (every number
   * a JavaScript `number`, rounded beyond 17 digits). @default the document client's if it has some, else exact:
   * a number is a `number` only when that is exact, a `bigint` for a larger integer, otherwise a `NumberValue`
   */
  unmarshallOptions?: unmarshallOptions;
  /**
   * A budget of read units per second (a `capacity()` handle, or its options): each page is paid for, with the units
   * DynamoDB reports it consumed, before the next one is asked for. @default none
   */
  capacity?: CapacityBudget | CapacityOptions;
}

export function validateSourceOptions(options: SourceOptions): void {
  const { maxAttempts = 10, backoff } = options;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  validateBackoff(backoff);
}

/**
 * Every page of a Scan or Query, lazily: the first call on subscribe, the next one (`expand` on `LastEvaluatedKey`)
 * when a page has come back — and, with a backpressure link, only once the link is under its high-water mark. A page
 * that fails with a retryable error is fetched again after the backoff. Unsubscribing aborts the call in flight.
 */
export function paginate(
  client: DynamoDBSender,
  kind: 'scan' | 'query',
  input: ScanInput | QueryInput,
  options: SourceOptions,
): Observable<Page> {
  validateSourceOptions(options);
  const { maxAttempts, backoff, scheduler = asyncScheduler, random, backpressure: link } = options;
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const unmarshal = unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client));
  const values = input.ExpressionAttributeValues ? marshallItem(input.ExpressionAttributeValues, marshalling) : undefined;
  const firstKey = options.startKey ?? input.ExclusiveStartKey;
  /** Each page's `LastEvaluatedKey` as DynamoDB sent it. */
  const wireKeys = new WeakMap<Page, Record<string, AttributeValue>>();
  const budget = toBudget(options.capacity);
  const table = input.TableName ?? '';

  /** Waits until the link has room and the budget has paid for the previous page (`owed` units). */
  const turn = (owed: number): Observable<unknown> =>
    (link ? link.ready() : of(undefined)).pipe(
      concatMap(() => (budget && owed > 0 ? budget.spend(owed, { client, table, kind: 'read', scheduler }) : of(undefined))),
    );
  const fetch = (startKey: Record<string, AttributeValue> | undefined, owed: number): Observable<Page> =>
    turn(owed).pipe(
      concatMap(() =>
        defer(() => {
          const wire = {
            ...(budget ? { ReturnConsumedCapacity: 'TOTAL' } : {}),
            ...input,
            ExpressionAttributeValues: values,
            ExclusiveStartKey: startKey,
          };
          const command = kind === 'scan' ? new ScanCommand(wire as ScanCommandInput) : new QueryCommand(wire as QueryCommandInput);
          return sendCommand<ScanCommandOutput | QueryCommandOutput>(client, command);
        }).pipe(retryWithBackoff({ maxAttempts, backoff, scheduler, random })),
      ),
      map((output): Page => {
        const page: Page = {
          Items: (output.Items ?? []).map(unmarshal),
          ...(output.LastEvaluatedKey ? { LastEvaluatedKey: unmarshal(output.LastEvaluatedKey) } : {}),
          Count: output.Count ?? 0,
          ScannedCount: output.ScannedCount ?? 0,
          ...(output.ConsumedCapacity ? { ConsumedCapacity: output.ConsumedCapacity } : {}),
        };
        // the next call starts from DynamoDB's own key, never from a conversion of it
        if (output.LastEvaluatedKey) wireKeys.set(page, output.LastEvaluatedKey);
        return page;
      }),
      tap((page) => link?.emitted(page.Items.length)),
    );

  /** Units a page consumed, as DynamoDB reported them (or half a unit per item when it did not). */
  const owedFor = (page: Page) => (budget ? (page.ConsumedCapacity?.CapacityUnits ?? page.Count * 0.5) : 0);
  return defer(() => {
    /** Where to start again if a page fails: after the last page emitted. */
    let resumeAt = firstKey;
    return fetch(firstKey ? marshallItem(firstKey, marshalling) : undefined, 0).pipe(
      expand((page) => {
        const next = wireKeys.get(page);
        return next ? fetch(next, owedFor(page)) : EMPTY;
      }),
      tap((page) => (resumeAt = page.LastEvaluatedKey)),
      catchError((error: unknown) => {
        const e = error as { name?: string; message?: string };
        const where = resumeAt ? 'after the last page emitted: pass .startKey to go on' : 'at the beginning';
        throw new SourceError(
          `${kind === 'scan' ? 'Scan' : 'Query'} of ${table} failed with ${e?.name}: ${e?.message}. It stopped ${where}.`,
          resumeAt,
          error,
        );
      }),
    );
  });
}
