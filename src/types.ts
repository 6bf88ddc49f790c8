import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import type { ObservableInput, SchedulerLike } from 'rxjs';
import type { CapacityBudget, CapacityOptions } from './capacity.js';
import type { BatchWriteError } from './errors.js';
import type { Progress } from './internal/progress.js';

/** An item as a plain JavaScript object (the document model). */
export type Item = Record<string, NativeAttributeValue>;
/** A primary key as a plain JavaScript object: the partition key attribute, and the sort key attribute if any. */
export type Key = Record<string, NativeAttributeValue>;

/** One key to read, from one table. `K` names the key's shape (`{ id: string }`): not checked at run time. */
export interface GetRequest<K extends object = Key> {
  table: string;
  key: K;
}

/** What a read of one key gave: the item, or `undefined` when no item has that key. */
export interface GetResponse<T extends object = Item, K extends object = Key> {
  table: string;
  key: K;
  item: T | undefined;
  /** With `onFailure: 'emit'` only: why the key could not be read (then `item` is undefined). */
  error?: unknown;
}

/** One put or delete, for one table. `T` names the items' type (`WriteRequest<Ticket>`): not checked at run time. */
export type WriteRequest<T extends object = Item> = { table: string; put: T } | { table: string; delete: Key };

/**
 * Anything with the AWS SDK v3 client's `send`: a `DynamoDBClient`, a `DynamoDBDocumentClient`, a wrapper around
 * either (such as the fault injectors in `rxjs-dynamodb/testing`), or a fake whose `send` returns an Observable.
 * Items and keys are always plain JavaScript values; the toolkit marshals them itself and sends the low-level
 * commands (`BatchWriteItemCommand`, `DescribeTableCommand`, …), which both client kinds accept.
 */
export interface DynamoDBSender {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  send(command: any, options?: { abortSignal?: AbortSignal }): ObservableInput<any>;
}

/** How long to wait before a retry. */
export interface BackoffOptions {
  /** The delay before the first retry, before jitter. @default 100 */
  baseDelayMs?: number;
  /** The largest delay, before jitter. @default 20000 */
  maxDelayMs?: number;
  /**
   * `'full'` waits `random() * d`, `'equal'` waits `d/2 + random() * d/2`, `'none'` waits `d`, where
   * `d = min(maxDelayMs, baseDelayMs * 2^(n-1))` for retry n. @default 'full'
   */
  jitter?: 'full' | 'equal' | 'none';
}

/** Options every batch operator takes. */
export interface BatchOptions {
  /**
   * Batch calls in flight at once (calls, not batches: a batch waiting out its backoff holds no slot). `'adaptive'`
   * starts at 2, adds one after each window of clean calls and halves when DynamoDB throttles (AIMD), up to
   * `maxConcurrency`. @default 4
   */
  concurrency?: number | 'adaptive';
  /** The ceiling of adaptive concurrency. @default 16 */
  maxConcurrency?: number;
  /** Calls per batch before giving up: one call and `maxAttempts - 1` retries. @default 10 */
  maxAttempts?: number;
  /** Backoff between attempts. @default { baseDelayMs: 100, maxDelayMs: 20000, jitter: 'full' } */
  backoff?: BackoffOptions;
  /** Every delay goes through this scheduler. @default asyncScheduler */
  scheduler?: SchedulerLike;
  /** Every random draw (jitter) comes from this function, returning a number in [0, 1). @default Math.random */
  random?: () => number;
  /**
   * What to do when a batch's attempts run out, a call fails with an error that is not retried, or a request is
   * invalid (too large, key missing). `'error'`: the stream errors with an error whose `unprocessed` lists every
   * request taken from the source and not written. `'emit'`: emit a result with `failed` and `error`, and go on.
   * @default 'error'
   */
  onFailure?: 'error' | 'emit';
  /**
   * A budget of DynamoDB capacity units per second: a `capacity()` handle (shared by every operator it is passed to)
   * or its options (`{ unitsPerSecond }` or `{ fractionOfProvisioned }`), for this operator alone. Writes cost one
   * unit per started KB of each item, reads one per started 4 KB (half for eventually consistent reads); what DynamoDB
   * reports as consumed corrects the estimate. @default none: as fast as `concurrency` allows
   */
  capacity?: CapacityBudget | CapacityOptions;
  /** Called with the counts so far after every call, and once more at the end (`complete: true`). @default none */
  onProgress?: (progress: Progress) => void;
}

/** What a write operator emits: once per batch. `T`: the type of the items put. */
export interface BatchWriteResult<T extends object = Item> {
  /** The requests this batch wrote, including any replaced by a later request for the same key before sending. */
  requests: Array<WriteRequest<T>>;
  /** BatchWriteItem calls this batch took: 1 means no retry; 0 for a request rejected before any call. */
  attempts: number;
  /** Capacity consumed over all attempts, summed per table, when `returnConsumedCapacity` was asked for. */
  consumedCapacity?: ConsumedCapacity[];
  /** With `onFailure: 'emit'` only: the requests of this batch that were not written. */
  failed?: Array<WriteRequest<T>>;
  /** With `onFailure: 'emit'` only: the first failed request's error (each request's own is in `failures`). */
  error?: unknown;
  /**
   * With `onFailure: 'emit'` only: each request of `failed`, in the same order, with its own error — a
   * `BatchWriteError` whose message names that request's table and key and whose `cause` is what DynamoDB (or, for a
   * request refused before any call, an {@link InvalidRequestError}) said.
   */
  failures?: Array<{ request: WriteRequest<T>; error: BatchWriteError }>;
}

/** What one call answered: the requests it did not process (DynamoDB's `UnprocessedItems` / `UnprocessedKeys`). */
export interface CallOutcome<T, R> {
  unprocessed: T[];
  response: R;
  /** Requests the call found invalid on their own: they are neither written nor retried. @default [] */
  rejected?: Array<Rejection<T>>;
}

/** A request that failed for good, with its own error. */
export interface Rejection<T> {
  request: T;
  error: unknown;
}
