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
import {
  asyncScheduler,
  catchError,
  concatMap,
  defer,
  EMPTY,
  expand,
  map,
  type Observable,
  of,
  type SchedulerLike,
  tap,
  timer,
} from 'rxjs';
import { SourceError } from '../errors.js';
import { validateBackoff } from '../internal/backoff.js';
import type { Backpressure } from '../backpressure.js';
import { marshallOptionsOf, sendCommand, unmarshallOptionsOf } from '../internal/client.js';
import { marshallItem, type MarshalSettings } from '../internal/marshal.js';
import { unmarshallerFor } from '../internal/unmarshal.js';
import { retryWithBackoff } from '../internal/retryCall.js';
import { type CapacityBudget, type CapacityOptions, controllersOf, toBudget, unitsConsumed } from '../capacity.js';
import { controllerIn, type RateController } from '../internal/engine/controller.js';
import { isRetryableError, isThrottlingError } from '../internal/retryable.js';
import type { BackoffOptions, DynamoDBSender, Item, Key } from '../types.js';

/**
 * What the document model changes in an input: values are plain JavaScript. `ExclusiveStartKey` is not part of it:
 * a source resumes in one way only, its `startKey` option.
 */
type DocumentModel<T> = Omit<T, 'ExclusiveStartKey' | 'ExpressionAttributeValues'> & {
  ExpressionAttributeValues?: Record<string, NativeAttributeValue>;
};
/** `ScanCommandInput` with plain JavaScript values: `FilterExpression`, `ProjectionExpression`, `IndexName`, … pass through. */
export type ScanInput = DocumentModel<ScanCommandInput>;
/** `QueryCommandInput` with plain JavaScript values: `KeyConditionExpression`, `IndexName`, … pass through. */
export type QueryInput = DocumentModel<QueryCommandInput>;

/** The controller of a table's reads: the budget's, shared with the operators it is passed to, or a source's own. */
export function readController(budget: CapacityBudget | undefined, table: string, scheduler: SchedulerLike): RateController {
  return controllerIn(budget ? controllersOf(budget) : new Map(), table, 'read', () => scheduler.now());
}

/** One page of a scan or query, unmarshalled, in camelCase like every other result of the toolkit. */
export interface Page<T extends object = Item> {
  /** The page's items (those that passed `FilterExpression`). */
  items: T[];
  /**
   * Where the next page starts (DynamoDB's `LastEvaluatedKey`); absent on the last page. Pass it as the `startKey`
   * option to resume after this page.
   */
  lastEvaluatedKey?: Key;
  /** Items on this page, after `FilterExpression` (DynamoDB's `Count`). */
  count: number;
  /** Items read for this page, before `FilterExpression` (DynamoDB's `ScannedCount`). */
  scannedCount: number;
  /** With `ReturnConsumedCapacity` in the input, or a `capacity` budget or adaptive throughput: what the page cost. */
  consumedCapacity?: ConsumedCapacity;
}

/** Options of the sources. */
export interface SourceOptions {
  /**
   * Where to start: a page's `lastEvaluatedKey` (or a `SourceError`'s `startKey`) kept from an earlier run; the only
   * way to resume (an `ExclusiveStartKey` in the input is refused). @default the beginning
   */
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
  /**
   * `'adaptive'`: pages are asked for at the read rate DynamoDB gives the table, found by the same throughput
   * controller as the batch operators' (shared with them through a `capacity()` budget); `'unlimited'`: as fast as
   * pages come back. @default 'unlimited' (as the operators' default is a fixed concurrency)
   */
  throughput?: 'adaptive' | 'unlimited';
}

/** `dynamoParallelScan`'s segments share one controller. @internal */
export interface PagingShared {
  controller?: RateController;
}

/** A source's input, checked when the source is created: resuming has one way, the `startKey` option. */
export function validateSourceInput(input: ScanInput | QueryInput): void {
  if ((input as { ExclusiveStartKey?: unknown }).ExclusiveStartKey !== undefined)
    throw new TypeError(
      "ExclusiveStartKey in the input is not supported: pass it as the startKey option (a page's lastEvaluatedKey), the one way to resume",
    );
}

export function validateSourceOptions(options: SourceOptions): void {
  const { maxAttempts = 10, backoff, throughput = 'unlimited' } = options;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  if (throughput !== 'adaptive' && throughput !== 'unlimited')
    throw new RangeError(`throughput must be 'adaptive' or 'unlimited', got ${String(throughput)}`);
  validateBackoff(backoff);
}

/**
 * Every page of a Scan or Query, lazily: the first call on subscribe, the next one (`expand` on `LastEvaluatedKey`)
 * when a page has come back — and, with a backpressure link, only once the link is under its high-water mark. A page
 * that fails with a retryable error is fetched again after the backoff. Unsubscribing aborts the call in flight.
 */
export function paginate<T extends object = Item>(
  client: DynamoDBSender,
  kind: 'scan' | 'query',
  input: ScanInput | QueryInput,
  options: SourceOptions,
  shared: PagingShared = {},
): Observable<Page<T>> {
  validateSourceInput(input);
  validateSourceOptions(options);
  const { maxAttempts, backoff, scheduler = asyncScheduler, random, backpressure: link } = options;
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const unmarshal = unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client));
  const values = input.ExpressionAttributeValues ? marshallItem(input.ExpressionAttributeValues, marshalling) : undefined;
  const firstKey = options.startKey;
  /** Each page's `LastEvaluatedKey` as DynamoDB sent it. */
  const wireKeys = new WeakMap<Page<T>, Record<string, AttributeValue>>();
  const budget = toBudget(options.capacity);
  const table = input.TableName ?? '';
  const adaptive = (options.throughput ?? 'unlimited') === 'adaptive';
  const controller = adaptive ? (shared.controller ?? readController(budget, table, scheduler)) : undefined;

  /**
   * Waits until the link has room, the budget has paid for the previous page (`owed` units), and the controller's
   * rate allows a page like the last one.
   */
  const turn = (owed: number): Observable<unknown> =>
    (link ? link.ready() : of(undefined)).pipe(
      concatMap(() => (budget && owed > 0 ? budget.spend(owed, { client, table, kind: 'read', scheduler }) : of(undefined))),
    );
  /** Each attempt at a page, retries too, waits for the controller's rate to allow a page like the last one. */
  const paced = (owed: number): Observable<unknown> => {
    const wait = controller && owed > 0 ? controller.reserve(owed) : 0;
    return wait > 0 ? timer(wait, scheduler) : of(undefined);
  };
  /** What a page cost, for the controller: offered what the last page cost (or what this one did), delivered 0 when throttled. */
  const observe = (expected: number) =>
    tap<ScanCommandOutput | QueryCommandOutput>({
      next: (output) => {
        const units = unitsConsumed(output.ConsumedCapacity ? [output.ConsumedCapacity] : undefined) ?? (output.Count ?? 0) * 0.5;
        controller?.record({ offered: Math.max(expected, units), delivered: units });
      },
      error: (error: unknown) => {
        if (isRetryableError(error)) controller?.record({ offered: Math.max(expected, 0.5), delivered: 0 });
        // a page DynamoDB throttled is charged to a shared budget (and cuts its rate): every worker reading slows down
        if (isThrottlingError(error)) budget?.throttled?.(Math.max(expected, 0.5));
      },
    });
  const fetch = (startKey: Record<string, AttributeValue> | undefined, owed: number): Observable<Page<T>> =>
    turn(owed).pipe(
      concatMap(() =>
        defer(() => {
          const wire = {
            ...(budget || controller ? { ReturnConsumedCapacity: 'TOTAL' } : {}),
            ...input,
            ExpressionAttributeValues: values,
            ExclusiveStartKey: startKey,
          };
          const command = kind === 'scan' ? new ScanCommand(wire as ScanCommandInput) : new QueryCommand(wire as QueryCommandInput);
          return paced(owed).pipe(
            concatMap(() => sendCommand<ScanCommandOutput | QueryCommandOutput>(client, command).pipe(observe(owed))),
          );
        }).pipe(retryWithBackoff({ maxAttempts, backoff, scheduler, random })),
      ),
      map((output): Page<T> => {
        const page: Page<T> = {
          items: (output.Items ?? []).map(unmarshal) as T[],
          ...(output.LastEvaluatedKey ? { lastEvaluatedKey: unmarshal(output.LastEvaluatedKey) } : {}),
          count: output.Count ?? 0,
          scannedCount: output.ScannedCount ?? 0,
          ...(output.ConsumedCapacity ? { consumedCapacity: output.ConsumedCapacity } : {}),
        };
        // the next call starts from DynamoDB's own key, never from a conversion of it
        if (output.LastEvaluatedKey) wireKeys.set(page, output.LastEvaluatedKey);
        return page;
      }),
      tap((page) => link?.emitted(page.items.length)),
    );

  /** Units a page consumed, as DynamoDB reported them (or half a unit per item when it did not). */
  const owedFor = (page: Page<T>) => (budget || controller ? (page.consumedCapacity?.CapacityUnits ?? page.count * 0.5) : 0);
  return defer(() => {
    /** Where to start again if a page fails: after the last page emitted. */
    let resumeAt = firstKey;
    return fetch(firstKey ? marshallItem(firstKey, marshalling) : undefined, 0).pipe(
      expand((page) => {
        const next = wireKeys.get(page);
        if (next) return fetch(next, owedFor(page));
        // the last page is paid for too: charged to the budget, so whoever spends from it next waits for it (a
        // source of one page, each unit of a scan cut into many, would otherwise read for free)
        const owed = owedFor(page);
        if (budget && owed > 0) budget.correct(owed);
        return EMPTY;
      }),
      tap((page) => (resumeAt = page.lastEvaluatedKey)),
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
