import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  type ConsumedCapacity,
  type WriteRequest as WireWriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  concat,
  concatMap,
  connect,
  defer,
  filter,
  ignoreElements,
  map,
  merge,
  mergeMap,
  from,
  type Observable,
  type ObservableInput,
  of,
  type OperatorFunction,
  Subject,
  tap,
  throwError,
} from 'rxjs';
import { batchSettings } from '../internal/options.js';
import type { MarshalSettings } from '../internal/marshal.js';
import type { Backpressure } from '../backpressure.js';
import { type Lane, lanes } from '../internal/lanes.js';
import { splitOnRejection } from '../internal/splitOnRejection.js';
import { toBudget, unitsConsumed } from '../capacity.js';
import { marshallOptionsOf, sendCommand, type KeySchema } from '../internal/client.js';
import { BATCH_WRITE_MAX_REQUESTS, MAX_REQUEST_BYTES, REQUEST_ENVELOPE_BYTES } from '../internal/constants.js';
import { sumConsumedCapacity } from '../internal/consumedCapacity.js';
import { BatchWriteError, type BatchWriteErrorCode, InvalidRequestError } from '../errors.js';
import { withKeySchemas, type WithSchema } from '../internal/keySchemas.js';
import { describeKey, keyString } from '../internal/keys.js';
import type { BatchOptions, BatchWriteResult, CallOutcome, DynamoDBSender, Rejection, WriteRequest } from '../types.js';
import { type PreparedWrite, prepareWrite, requestTable } from '../internal/writeRequest.js';
import { bufferBatch } from './bufferBatch.js';
import { EngineRun } from './engineInternals.js';
import { type RetryStep, retryUnprocessed } from './retryUnprocessed.js';

/** Options of the write operators. */
export interface BatchWriteOptions extends BatchOptions {
  /** Requests per BatchWriteItem call, at most 25. @default 25 */
  batchSize?: number;
  /** Closes a batch this long after its first request even if it is not full, for slow or endless sources. @default Infinity */
  maxBatchWaitMs?: number;
  /** Asks DynamoDB for consumed capacity, summed per table into each result's `consumedCapacity`. @default undefined (not asked) */
  returnConsumedCapacity?: 'TOTAL' | 'INDEXES';
  /** How plain items are marshalled. @default a DynamoDBDocumentClient's own, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: MarshalSettings;
  /** The link to release as requests are settled (written or failed), so that its source reads on. @default none */
  backpressure?: Backpressure;
}

interface BatchState {
  entries: PreparedWrite[];
  lane: Lane;
  /** Earlier batches, not yet settled, holding a request for a key this batch writes: this one waits for them. */
  waitsFor: BatchState[];
  done: Subject<void>;
  written: PreparedWrite[];
  /** BatchWriteItem calls made so far. */
  attempts: number;
  rejected: Array<Rejection<PreparedWrite>>;
  consumed: ConsumedCapacity[];
}

type Rejected = WithSchema<WriteRequest> & { error: unknown };
type LaneOutput = { result: BatchWriteResult } | { batch: BatchState };
type Outcome = CallOutcome<PreparedWrite, BatchWriteItemCommandOutput | undefined>;

const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;
/** The requests an entry stands for, the ones it replaced included, in input order. */
const requestsOf = (entries: PreparedWrite[]): WriteRequest[] =>
  entries
    .flatMap((e) => [...e.superseded, { id: e.id, request: e.request }])
    .sort(byId)
    .map((e) => e.request);

/**
 * The write engine behind dynamoBatchWrite, dynamoBatchDelete and dynamoBatchWriteRequests:
 * keys → checks and marshalling → size-aware batches with in-batch de-duplication → per-key ordering across batches
 * → calls with a shared concurrency limit and `expand` retry of unprocessed requests → one result per batch.
 * A ledger of every request taken and not yet written is what `BatchWriteError.unprocessed` hands back.
 */
export function writeRequestsInternal(
  client: DynamoDBSender,
  keyAttributesOf: (table: string) => string[] | undefined,
  options: BatchWriteOptions,
): OperatorFunction<WriteRequest, BatchWriteResult> {
  const { concurrency, maxConcurrency, maxAttempts, batchSize, maxBatchWaitMs, backoff, scheduler, random, onFailure } = batchSettings(
    options,
    BATCH_WRITE_MAX_REQUESTS,
  );
  const { returnConsumedCapacity, backpressure: link } = options;
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const userBudget = toBudget(options.capacity);
  /** With a budget, DynamoDB is asked what each call consumed, to correct the estimate. */
  const askConsumed = returnConsumedCapacity ?? (userBudget ? 'TOTAL' : undefined);

  return (source) =>
    defer(() => {
      const run = new EngineRun<WriteRequest>(options, scheduler, userBudget, link);
      const { ledger, progress, budget } = run;
      const settled = (id: number, outcome: 'done' | 'failed') => run.settle(id, outcome);
      const schemas = new Map<string, KeySchema>();
      const latest = new Map<string, BatchState>();
      const batches = new Map<PreparedWrite[], BatchState>();

      const failure = (code: BatchWriteErrorCode, message: string, cause: unknown, attempts: number, unprocessed = [...ledger.values()]) =>
        new BatchWriteError(code, message, { unprocessed, attempts, cause });

      const reject = ({ id, request, error }: Rejected): ObservableInput<BatchWriteResult> => {
        const code = error instanceof InvalidRequestError ? 'batchWrite.invalidRequest' : 'batchWrite.nonRetryable';
        const message =
          error instanceof InvalidRequestError
            ? error.message
            : `DescribeTable for ${requestTable(request)} failed: ${(error as Error)?.name}: ${(error as Error)?.message}`;
        if (onFailure === 'error') return failWith(failure(code, message, error, 0));
        settled(id, 'failed');
        progress.report();
        const own = failure(code, message, error, 0, [request]);
        return [{ requests: [], attempts: 0, failed: [request], error: own, failures: [{ request, error: own }] }];
      };

      const prepare = (taken: WithSchema<WriteRequest>): PreparedWrite | Rejected => {
        if (taken.schemaError !== undefined) return { ...taken, error: taken.schemaError };
        const schema = taken.schema ?? { attributes: [] };
        const prepared = prepareWrite(taken.request, schema, marshalling, taken.id);
        if (prepared instanceof InvalidRequestError) return { ...taken, error: prepared };
        schemas.set(prepared.table, schema);
        return prepared;
      };

      /** A sealed batch: counted in its lane, registered for per-key ordering; sent once earlier batches with its keys settle. */
      const startBatch = (entries: PreparedWrite[], lane: Lane): BatchState => {
        const state: BatchState = {
          entries,
          lane,
          waitsFor: [],
          done: new Subject(),
          written: [],
          attempts: 0,
          rejected: [],
          consumed: [],
        };
        lane.inProgress++;
        for (const e of entries) {
          const earlier = latest.get(e.key);
          if (earlier && !state.waitsFor.includes(earlier)) state.waitsFor.push(earlier);
          latest.set(e.key, state);
        }
        batches.set(entries, state);
        return state;
      };
      const whenFree = (state: BatchState): Observable<PreparedWrite[]> =>
        state.waitsFor.length === 0
          ? of(state.entries)
          : concat(merge(...state.waitsFor.map((b) => b.done)).pipe(ignoreElements()), of(state.entries));

      const settle = (state: BatchState) => {
        for (const e of state.entries) if (latest.get(e.key) === state) latest.delete(e.key);
        batches.delete(state.entries);
        state.done.complete();
        state.lane.inProgress--;
        state.lane.wake();
      };

      const callOnce = (entries: PreparedWrite[]): Observable<Outcome> => {
        const RequestItems: Record<string, WireWriteRequest[]> = {};
        for (const e of entries) (RequestItems[e.table] ??= []).push(e.wire);
        const command = new BatchWriteItemCommand({ RequestItems, ...(askConsumed ? { ReturnConsumedCapacity: askConsumed } : {}) });
        const call = sendCommand<BatchWriteItemCommandOutput>(client, command).pipe(
          map((response) => ({ unprocessed: matchUnprocessed(entries, response.UnprocessedItems), response })),
        );
        if (!budget) return call;
        const cost = entries.reduce((sum, e) => sum + e.units, 0);
        return budget.spend(cost, { client, table: entries[0]!.table, kind: 'write', scheduler }).pipe(
          concatMap(() => call),
          tap({
            // correct the estimate with what DynamoDB says was consumed (or, when it does not say, what was processed)
            next: ({ unprocessed, response }) =>
              budget.correct((unitsConsumed(response.ConsumedCapacity) ?? cost - unprocessed.reduce((sum, e) => sum + e.units, 0)) - cost),
            error: () => budget.correct(-cost),
          }),
        );
      };

      /** One attempt; a call DynamoDB rejects as invalid is split so that only the offending requests fail. */
      const send = splitOnRejection(callOnce, (a, b) => ({
        $metadata: {},
        ConsumedCapacity: [...(a?.ConsumedCapacity ?? []), ...(b?.ConsumedCapacity ?? [])],
      }));

      const describeEntry = (e: PreparedWrite) => {
        const av = 'PutRequest' in e.wire ? e.wire.PutRequest.Item : e.wire.DeleteRequest.Key;
        return `table ${e.table}, ${describeKey(av, schemas.get(e.table)?.attributes ?? [])}`;
      };

      const matchUnprocessed = (
        entries: PreparedWrite[],
        unprocessedItems: BatchWriteItemCommandOutput['UnprocessedItems'],
      ): PreparedWrite[] => {
        const returned = Object.entries(unprocessedItems ?? {}).filter(([, list]) => list && list.length > 0);
        if (returned.length === 0) return [];
        const byKey = new Map(entries.map((e) => [e.key, e]));
        const unprocessed: PreparedWrite[] = [];
        for (const [table, list] of returned) {
          const attributes = schemas.get(table)?.attributes ?? [];
          for (const r of list!) {
            const av = r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {};
            const entry = byKey.get(keyString(table, av, attributes));
            if (!entry)
              throw new Error(
                `DynamoDB returned an unprocessed request that was not sent in this call (table ${table}, key ${describeKey(av, attributes)})`,
              );
            unprocessed.push(entry);
          }
        }
        return unprocessed;
      };

      const forget = (entries: PreparedWrite[], outcome: 'done' | 'failed') => {
        for (const e of entries) {
          settled(e.id, outcome);
          for (const s of e.superseded) settled(s.id, outcome);
        }
      };

      /**
       * 'error' mode: what each batch still in progress has written comes out first, as a result, then the error —
       * so that every request taken is in a result or in `unprocessed`. Nothing is settled on the way out: no lane is
       * woken and no room is freed on the link, so no new call starts.
       */
      const failWith = (error: BatchWriteError): Observable<BatchWriteResult> => {
        const partial: BatchWriteResult[] = [];
        for (const state of batches.values())
          if (state.written.length > 0) partial.push({ requests: requestsOf(state.written), attempts: state.attempts });
        return concat(
          from(partial),
          throwError(() => error),
        );
      };

      const onStep = (step: RetryStep<PreparedWrite, BatchWriteItemCommandOutput | undefined>): ObservableInput<BatchWriteResult> => {
        const state = batches.get(step.batch)!;
        state.attempts = step.attempt;
        if (returnConsumedCapacity && step.response?.ConsumedCapacity) state.consumed.push(...step.response.ConsumedCapacity);
        const left = new Set([...step.unprocessed, ...step.rejected.map((r) => r.request)]);
        const written = step.requests.filter((e) => !left.has(e));
        state.written.push(...written);
        const units = unitsConsumed(step.response?.ConsumedCapacity) ?? written.reduce((sum, e) => sum + e.units, 0);
        run.observe(step, units);
        state.rejected.push(...step.rejected);
        const rejectionMessage = (r: Rejection<PreparedWrite>) =>
          `DynamoDB rejected the request for ${describeEntry(r.request)} with ${(r.error as Error).name}: ${(r.error as Error).message}. It was not written${
            step.requests.length > 1 ? '; its call was split so that the other requests were not rejected with it' : ''
          }.`;
        const fails = state.rejected.length > 0 || (step.final && step.unprocessed.length > 0);
        if (fails && onFailure === 'error') {
          for (const e of written) {
            ledger.delete(e.id);
            for (const superseded of e.superseded) ledger.delete(superseded.id);
          }
          const rejection = state.rejected[0];
          if (rejection) return failWith(failure('batchWrite.nonRetryable', rejectionMessage(rejection), rejection.error, step.attempt));
        }
        forget(written, 'done');
        if (!step.final) return [];
        const result: BatchWriteResult = { requests: requestsOf(state.written), attempts: step.attempt };
        if (state.consumed.length > 0) result.consumedCapacity = sumConsumedCapacity(state.consumed);
        if (!fails) {
          settle(state);
          return [result];
        }

        const cause = step.error as { name?: string; message?: string } | undefined;
        const exhausted = !step.fatal && step.unprocessed.length > 0;
        const code: BatchWriteErrorCode = exhausted ? 'batchWrite.attemptsExhausted' : 'batchWrite.nonRetryable';
        /** Why one request of this batch was not written: its own rejection, or the batch's last call. */
        const reason = (e: PreparedWrite, rejection?: Rejection<PreparedWrite>): string =>
          rejection
            ? rejectionMessage(rejection)
            : step.fatal
              ? `BatchWriteItem failed with ${cause?.name}: ${cause?.message}. The request for ${describeEntry(e)} was not written.`
              : `The request for ${describeEntry(e)} was still unprocessed after ${step.attempt} BatchWriteItem calls${cause ? ` (last error ${cause.name})` : ''}; lower concurrency, raise maxAttempts or the table's capacity.`;
        if (onFailure === 'error') {
          // (a rejected request has ended the stream already, above)
          const message = step.fatal
            ? `BatchWriteItem failed with ${cause?.name}: ${cause?.message}. The call's ${step.unprocessed.length} requests were not written (first: ${describeEntry(step.unprocessed[0]!)}). They are in .unprocessed.`
            : `${step.unprocessed.length} of ${state.entries.length} requests were still unprocessed after ${step.attempt} BatchWriteItem calls${cause ? ` (last error ${cause.name})` : ''}. They are in .unprocessed; lower concurrency, raise maxAttempts or the table's capacity.`;
          return failWith(failure(code, message, step.error, step.attempt));
        }
        settle(state);
        // every failed request gets an error of its own, naming its key and its reason
        const failures: Array<{ id: number; request: WriteRequest; error: BatchWriteError }> = [];
        const fail = (e: PreparedWrite, rejection?: Rejection<PreparedWrite>) => {
          const requests = [...e.superseded, { id: e.id, request: e.request }];
          const error = failure(
            rejection ? 'batchWrite.nonRetryable' : code,
            reason(e, rejection),
            rejection ? rejection.error : step.error,
            step.attempt,
            requests.sort(byId).map((r) => r.request),
          );
          for (const r of requests) failures.push({ ...r, error });
        };
        for (const r of state.rejected) fail(r.request, r);
        for (const e of step.unprocessed) fail(e);
        forget([...state.rejected.map((r) => r.request), ...step.unprocessed], 'failed');
        failures.sort(byId);
        return [
          {
            ...result,
            failed: failures.map((f) => f.request),
            error: failures[0]!.error,
            failures: failures.map(({ request, error }) => ({ request, error })),
          },
        ];
      };

      const maxBytes = MAX_REQUEST_BYTES - REQUEST_ENVELOPE_BYTES;
      const retry = retryUnprocessed(send, { concurrency, maxConcurrency, maxAttempts, backoff, scheduler, random });

      return source.pipe(
        run.take(),
        withKeySchemas<WriteRequest>(client, requestTable, keyAttributesOf),
        lanes(
          (taken) => requestTable(taken.request),
          () => 2 * run.concurrency,
          (requests, lane): Observable<LaneOutput> =>
            requests.pipe(
              map(prepare),
              connect((taken) =>
                merge(
                  taken.pipe(
                    filter((t): t is Rejected => 'error' in t),
                    mergeMap(reject),
                    map((result) => ({ result })),
                  ),
                  taken.pipe(
                    filter((t): t is PreparedWrite => !('error' in t)),
                    bufferBatch<PreparedWrite>({
                      maxCount: batchSize,
                      maxBytes,
                      byteSize: (e) => e.bytes,
                      key: (e) => e.key,
                      merge: (earlier, later) => {
                        later.superseded.push(...earlier.superseded, { id: earlier.id, request: earlier.request });
                        return later;
                      },
                      maxWaitMs: maxBatchWaitMs,
                      flushWhen: link?.stalled,
                      scheduler,
                    }),
                    map((entries) => ({ batch: startBatch(entries, lane) })),
                  ),
                ),
              ),
            ),
        ),
        connect((out) =>
          merge(
            out.pipe(
              filter((o): o is { result: BatchWriteResult } => 'result' in o),
              map((o) => o.result),
            ),
            out.pipe(
              filter((o): o is { batch: BatchState } => 'batch' in o),
              mergeMap((o) => whenFree(o.batch)),
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
