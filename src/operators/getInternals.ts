import { type AttributeValue, BatchGetItemCommand, type BatchGetItemCommandOutput, type KeysAndAttributes } from '@aws-sdk/client-dynamodb';
import type { unmarshallOptions } from '@aws-sdk/util-dynamodb';
import {
  concat,
  concatMap,
  connect,
  defer,
  filter,
  from,
  map,
  merge,
  mergeMap,
  type Observable,
  type OperatorFunction,
  tap,
  throwError,
} from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { marshallOptionsOf, sendCommand, type KeySchema, unmarshallOptionsOf } from '../internal/client.js';
import { BATCH_GET_MAX_KEYS } from '../internal/constants.js';
import type { MarshalSettings } from '../internal/marshal.js';
import { unmarshallerFor } from '../internal/unmarshal.js';
import { BatchGetError, type BatchGetErrorCode, InvalidRequestError } from '../errors.js';
import { type PreparedGet, prepareGet, projectionOf } from '../internal/getRequest.js';
import { withKeySchemas, type WithSchema } from '../internal/keySchemas.js';
import { describeKey, keyString } from '../internal/keys.js';
import { batchSettings } from '../internal/options.js';
import { type Lane, lanes } from '../internal/lanes.js';
import { splitOnRejection } from '../internal/splitOnRejection.js';
import { toBudget, unitsConsumed } from '../capacity.js';
import type { BatchOptions, CallOutcome, DynamoDBSender, GetRequest, Item } from '../types.js';
import { requestTable } from '../internal/writeRequest.js';
import { bufferBatch } from './bufferBatch.js';
import { EngineRun } from './engineInternals.js';
import { type RetryStep, retryUnprocessed } from './retryUnprocessed.js';

/** Options of the read operators. */
export interface BatchGetOptions extends BatchOptions {
  /** Keys per BatchGetItem call, at most 100. @default 100 */
  batchSize?: number;
  /** Closes a batch this long after its first key even if it is not full. @default Infinity */
  maxBatchWaitMs?: number;
  /** Strongly consistent reads (twice the read capacity). @default false */
  consistentRead?: boolean;
  /**
   * Top-level attribute names to read; names are passed through `ExpressionAttributeNames`, so reserved words such as
   * `name` or `status` are fine. The key attributes are always read too. @default every attribute
   */
  projection?: string[];
  /** How keys are marshalled. @default the document client's, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: MarshalSettings;
  /**
   * How items are unmarshalled, through the SDK's `unmarshall`: give `{}` for the SDK's plain behaviour (every number
   * a JavaScript `number`, rounded beyond 17 digits). @default the document client's if it has some, else exact:
   * a number is a `number` only when that is exact, a `bigint` for a larger integer, otherwise a `NumberValue`
   */
  unmarshallOptions?: unmarshallOptions;
  /** The link to release as keys are settled (read, missing, or failed). @default none */
  backpressure?: Backpressure;
}

/** What the read engine says of one key taken from the source, in the order keys are settled. */
export interface GetOutcome {
  /** Input order. */
  id: number;
  request: GetRequest;
  /** The item; undefined when no item has the key, or on failure. */
  item: Item | undefined;
  /** With `onFailure: 'emit'`: why the key was not read. */
  error?: BatchGetError | InvalidRequestError;
}

type Rejected = WithSchema<GetRequest> & { error: unknown };
type Found = { found: Array<[PreparedGet, Record<string, AttributeValue>]>; units?: number };

/**
 * The read engine behind dynamoBatchGet, dynamoBatchGetRequests and dynamoLookup: keys → checks and marshalling →
 * batches of up to 100 with duplicate keys merged → calls with a shared concurrency limit and `expand` retry of
 * `UnprocessedKeys` → one outcome per key taken (found, missing, or failed).
 */
export function getRequestsInternal(
  client: DynamoDBSender,
  keyAttributesOf: (table: string) => string[] | undefined,
  options: BatchGetOptions,
): OperatorFunction<GetRequest, GetOutcome> {
  const { concurrency, maxConcurrency, maxAttempts, batchSize, maxBatchWaitMs, backoff, scheduler, random, onFailure } = batchSettings(
    options,
    BATCH_GET_MAX_KEYS,
  );
  const { consistentRead, projection, backpressure: link } = options;
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const unmarshal = unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client));
  const userBudget = toBudget(options.capacity);
  /** Read units per key before the answer says what was consumed: 1 per started 4 KB, half for eventual reads. */
  const unitsPerKey = consistentRead ? 1 : 0.5;

  return (source) =>
    defer(() => {
      const schemas = new Map<string, KeySchema>();
      const tableParams = new Map<string, Omit<KeysAndAttributes, 'Keys'>>();

      const run = new EngineRun<GetRequest>(options, scheduler, userBudget, link);
      const { ledger, progress, budget } = run;
      const settle = (id: number, outcome: 'done' | 'failed') => run.settle(id, outcome);
      const failure = (code: BatchGetErrorCode, message: string, cause: unknown, attempts: number, unprocessed = [...ledger.values()]) =>
        new BatchGetError(code, message, { unprocessed, attempts, cause });
      /** One outcome per requester of an entry (duplicates included), each settled. */
      const outcomes = (e: PreparedGet, item: Item | undefined, error?: GetOutcome['error'], quiet = false): GetOutcome[] =>
        [{ id: e.id, request: e.request }, ...e.duplicates].map(({ id, request }) => {
          if (quiet) ledger.delete(id);
          else settle(id, error ? 'failed' : 'done');
          return error ? { id, request, item, error } : { id, request, item };
        });
      const describeEntry = (e: PreparedGet) => `table ${e.table}, ${describeKey(e.wire, schemas.get(e.table)?.attributes ?? [])}`;

      const reject = ({ id, request, error }: Rejected): GetOutcome[] => {
        const invalid = error instanceof InvalidRequestError;
        const message = invalid
          ? error.message
          : `DescribeTable for ${requestTable(request)} failed: ${(error as Error)?.name}: ${(error as Error)?.message}`;
        if (onFailure === 'error') throw failure(invalid ? 'batchGet.invalidRequest' : 'batchGet.nonRetryable', message, error, 0);
        settle(id, 'failed');
        progress.report();
        return [{ id, request, item: undefined, error: invalid ? error : failure('batchGet.nonRetryable', message, error, 0, [request]) }];
      };

      const prepare = (taken: WithSchema<GetRequest>): PreparedGet | Rejected => {
        if (taken.schemaError !== undefined) return { ...taken, error: taken.schemaError };
        const schema = taken.schema ?? { attributes: [] };
        const prepared = prepareGet(taken.request, schema, marshalling, taken.id);
        if (prepared instanceof InvalidRequestError) return { ...taken, error: prepared };
        if (!tableParams.has(prepared.table)) {
          schemas.set(prepared.table, schema);
          tableParams.set(prepared.table, {
            ...(consistentRead ? { ConsistentRead: true } : {}),
            ...(projection ? projectionOf(schema.attributes, projection) : {}),
          });
        }
        return prepared;
      };

      const callOnce = (entries: PreparedGet[]): Observable<CallOutcome<PreparedGet, Found>> => {
        const RequestItems: Record<string, KeysAndAttributes> = {};
        for (const e of entries) (RequestItems[e.table] ??= { ...tableParams.get(e.table), Keys: [] }).Keys!.push(e.wire);
        const command = new BatchGetItemCommand({ RequestItems, ...(userBudget ? { ReturnConsumedCapacity: 'TOTAL' } : {}) });
        const cost = entries.length * unitsPerKey;
        const paid = budget
          ? budget
              .spend(cost, { client, table: entries[0]!.table, kind: 'read', scheduler })
              .pipe(concatMap(() => sendCommand<BatchGetItemCommandOutput>(client, command)))
          : sendCommand<BatchGetItemCommandOutput>(client, command);
        return paid.pipe(
          tap({
            next: (response) => budget?.correct((unitsConsumed(response.ConsumedCapacity) ?? cost) - cost),
            error: () => budget?.correct(-cost),
          }),
          map((response) => {
            const byKey = new Map(entries.map((e) => [e.key, e]));
            const lookUp = (table: string, av: Record<string, AttributeValue>) => {
              const entry = byKey.get(keyString(table, av, schemas.get(table)?.attributes ?? []));
              if (!entry)
                throw new Error(
                  `DynamoDB returned a key that was not asked for in this call (table ${table}, ${describeKey(av, schemas.get(table)?.attributes ?? [])})`,
                );
              return entry;
            };
            const found: Found['found'] = [];
            for (const [table, items] of Object.entries(response.Responses ?? {}))
              for (const item of items) found.push([lookUp(table, item), item]);
            const unprocessed: PreparedGet[] = [];
            for (const [table, keys] of Object.entries(response.UnprocessedKeys ?? {}))
              for (const key of keys.Keys ?? []) unprocessed.push(lookUp(table, key));
            return { unprocessed, response: { found, units: unitsConsumed(response.ConsumedCapacity) } };
          }),
        );
      };
      const send = splitOnRejection(callOnce, (a, b) => ({
        found: [...(a?.found ?? []), ...(b?.found ?? [])],
        units: (a?.units ?? 0) + (b?.units ?? 0),
      }));

      const lanesOf = new Map<PreparedGet[], Lane>();
      const onStep = (step: RetryStep<PreparedGet, Found | undefined>): Observable<GetOutcome> => {
        const units = step.response?.units ?? (step.requests.length - step.unprocessed.length) * unitsPerKey;
        run.observe(step, units);
        const found = new Map(step.response?.found);
        const left = new Set([...step.unprocessed, ...step.rejected.map((r) => r.request)]);
        const read: Array<[PreparedGet, Item | undefined]> = [];
        const broken: Array<{ request: PreparedGet; error: unknown; message: string }> = step.rejected.map(({ request, error }) => ({
          request,
          error,
          message: `DynamoDB rejected the key ${describeEntry(request)} with ${(error as Error).name}: ${(error as Error).message}. It was not read.`,
        }));
        for (const e of step.requests) {
          if (left.has(e)) continue;
          const av = found.get(e);
          try {
            read.push([e, av ? unmarshal(av) : undefined]);
          } catch (error) {
            broken.push({
              request: e,
              error,
              message: `The item for ${describeEntry(e)} could not be unmarshalled: ${(error as Error).message}.`,
            });
          }
        }
        const exhausted = step.final && step.unprocessed.length > 0;
        const cause = step.error as { name?: string; message?: string } | undefined;
        const code: BatchGetErrorCode = step.fatal || !exhausted ? 'batchGet.nonRetryable' : 'batchGet.attemptsExhausted';
        const message = broken[0]
          ? broken[0].message
          : step.fatal
            ? `BatchGetItem failed with ${cause?.name}: ${cause?.message}. The call's ${step.unprocessed.length} keys were not read (first: ${describeEntry(step.unprocessed[0]!)}).`
            : `${step.unprocessed.length} keys were still unprocessed after ${step.attempt} BatchGetItem calls${cause ? ` (last error ${cause.name})` : ''}. They are in .unprocessed; lower concurrency, raise maxAttempts or the table's read capacity.`;

        if (onFailure === 'error' && (broken.length > 0 || exhausted)) {
          // what was read is handed over before the error, so that nothing read is lost; nothing is settled on the
          // way out (no lane woken, no room freed on the link), so no new call starts
          const done = read.flatMap(([e, item]) => outcomes(e, item, undefined, true));
          return concat(
            from(done),
            throwError(() => failure(code, message, broken[0]?.error ?? step.error, step.attempt)),
          );
        }
        if (step.final) {
          const lane = lanesOf.get(step.batch)!;
          lanesOf.delete(step.batch);
          lane.inProgress--;
          lane.wake();
        }
        const done = read.flatMap(([e, item]) => outcomes(e, item));
        for (const b of broken)
          done.push(
            ...outcomes(b.request, undefined, failure('batchGet.nonRetryable', b.message, b.error, step.attempt, [b.request.request])),
          );
        if (exhausted) {
          const failed = step.unprocessed.flatMap((e) => [e.request, ...e.duplicates.map((d) => d.request)]);
          const error = failure(code, message, step.error, step.attempt, failed);
          for (const e of step.unprocessed) done.push(...outcomes(e, undefined, error));
        }
        return from(done);
      };

      const retry = retryUnprocessed(send, { concurrency, maxConcurrency, maxAttempts, backoff, scheduler, random });

      return source.pipe(
        run.take(),
        withKeySchemas<GetRequest>(client, requestTable, keyAttributesOf),
        lanes(
          (taken) => requestTable(taken.request),
          () => 2 * run.concurrency,
          (requests, lane): Observable<{ outcome: GetOutcome } | { batch: PreparedGet[] }> =>
            requests.pipe(
              map(prepare),
              connect((taken) =>
                merge(
                  taken.pipe(
                    filter((t): t is Rejected => 'error' in t),
                    mergeMap(reject),
                    map((outcome) => ({ outcome })),
                  ),
                  taken.pipe(
                    filter((t): t is PreparedGet => !('error' in t)),
                    bufferBatch<PreparedGet>({
                      maxCount: batchSize,
                      key: (e) => e.key,
                      merge: (earlier, later) => {
                        earlier.duplicates.push({ id: later.id, request: later.request }, ...later.duplicates);
                        return earlier;
                      },
                      maxWaitMs: maxBatchWaitMs,
                      flushWhen: link?.stalled,
                      scheduler,
                    }),
                    map((batch) => {
                      lane.inProgress++;
                      lanesOf.set(batch, lane);
                      return { batch };
                    }),
                  ),
                ),
              ),
            ),
        ),
        connect((out) =>
          merge(
            out.pipe(
              filter((o): o is { outcome: GetOutcome } => 'outcome' in o),
              map((o) => o.outcome),
            ),
            out.pipe(
              filter((o): o is { batch: PreparedGet[] } => 'batch' in o),
              map((o) => o.batch),
              retry,
              mergeMap((step) => {
                try {
                  return onStep(step);
                } finally {
                  progress.report();
                }
              }),
            ),
          ),
        ),
        run.finish(),
      );
    });
}
