import {
  type ConsumedCapacity,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandInput,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { marshall, type marshallOptions, type NativeAttributeValue, unmarshall, type unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { asyncScheduler, concatMap, defer, EMPTY, expand, map, type Observable, of, type SchedulerLike, tap } from 'rxjs';
import { validateBackoff } from '../internal/backoff.js';
import type { Backpressure } from '../internal/backpressure.js';
import { marshallOptionsOf, sendCommand, unmarshallOptionsOf } from '../internal/client.js';
import { retryWithBackoff } from '../internal/retryCall.js';
import type { BackoffOptions, DynamoDBSender, Item, Key } from '../internal/types.js';

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
  /** @default the document client's, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: marshallOptions;
  /** @default the document client's, else the SDK's defaults */
  unmarshallOptions?: unmarshallOptions;
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
  const unmarshalling = options.unmarshallOptions ?? unmarshallOptionsOf(client);
  const values = input.ExpressionAttributeValues ? marshall(input.ExpressionAttributeValues, marshalling) : undefined;

  const fetch = (startKey: Key | undefined): Observable<Page> =>
    (link ? link.ready() : of(undefined)).pipe(
      concatMap(() =>
        defer(() => {
          const wire = {
            ...input,
            ExpressionAttributeValues: values,
            ExclusiveStartKey: startKey ? marshall(startKey, marshalling) : undefined,
          };
          const command = kind === 'scan' ? new ScanCommand(wire as ScanCommandInput) : new QueryCommand(wire as QueryCommandInput);
          return sendCommand<ScanCommandOutput | QueryCommandOutput>(client, command);
        }).pipe(retryWithBackoff({ maxAttempts, backoff, scheduler, random })),
      ),
      map((output): Page => ({
        Items: (output.Items ?? []).map((item) => unmarshall(item, unmarshalling)),
        ...(output.LastEvaluatedKey ? { LastEvaluatedKey: unmarshall(output.LastEvaluatedKey, unmarshalling) } : {}),
        Count: output.Count ?? 0,
        ScannedCount: output.ScannedCount ?? 0,
        ...(output.ConsumedCapacity ? { ConsumedCapacity: output.ConsumedCapacity } : {}),
      })),
      tap((page) => link?.emitted(page.Items.length)),
    );

  return defer(() =>
    fetch(options.startKey ?? input.ExclusiveStartKey).pipe(
      expand((page) => (page.LastEvaluatedKey ? fetch(page.LastEvaluatedKey) : EMPTY)),
    ),
  );
}
