/**
 * The write operators' part of the batch engine: how a put or delete is prepared, what a BatchWriteItem call looks
 * like on the wire, how its answer is read, and how settled requests become one {@link BatchWriteResult} per batch
 * (the requests first sent together). The engine itself is in `batchInternals.ts` and `src/internal/engine/`.
 */
import { BatchWriteItemCommand, type BatchWriteItemCommandOutput, type ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { defer, map, type Observable, type OperatorFunction } from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { toBudget, unitsConsumed } from '../capacity.js';
import { BatchWriteError, type BatchWriteErrorCode } from '../errors.js';
import { marshallOptionsOf, sendCommand } from '../internal/client.js';
import { BATCH_WRITE_MAX_REQUESTS, MAX_REQUEST_BYTES, REQUEST_ENVELOPE_BYTES } from '../internal/constants.js';
import { sumConsumedCapacity } from '../internal/consumedCapacity.js';
import { type Call, type FailureCode, requestsOf } from '../internal/engine/engine.js';
import { type Entry, wireKey } from '../internal/engine/entry.js';
import { fastCommand } from '../internal/engine/fastCommand.js';
import { attributeValuesOf, type MarshalSettings } from '../internal/marshal.js';
import { batchSettings } from '../internal/options.js';
import { prepareWrite, requestTable } from '../internal/prepare.js';
import { isRetryableError } from '../internal/retryable.js';
import { splitOnRejection } from '../internal/splitOnRejection.js';
import type { BatchOptions, BatchWriteResult, DynamoDBSender, WriteRequest } from '../types.js';
import { type BatchOperator, batchEngine, type SendResult } from './batchInternals.js';

/** Options of the write operators. */
export interface BatchWriteOptions extends BatchOptions {
  /** Requests per BatchWriteItem call, at most 25. @default 25 */
  batchSize?: number;
  /** Sends a call this long after its first request was queued even if it is not full, for slow or endless sources. @default Infinity */
  maxBatchWaitMs?: number;
  /** Asks DynamoDB for consumed capacity, summed per table into each result's `consumedCapacity`. @default undefined (not asked) */
  returnConsumedCapacity?: 'TOTAL' | 'INDEXES';
  /** How plain items are marshalled (and `dates`). @default a DynamoDBDocumentClient's own, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: MarshalSettings;
  /** The link to release as requests are settled (written or failed), so that its source reads on. @default none */
  backpressure?: Backpressure;
}

type WriteEntry = Entry<WriteRequest>;

/** The requests first sent together, and what became of them. */
interface Batch {
  pending: number;
  /** Entries written: each answers for its request and those it replaced. */
  written: WriteEntry[];
  failures: Array<{ id: number; request: WriteRequest; error: BatchWriteError }>;
  attempts: number;
  consumed: ConsumedCapacity[];
  reported: boolean;
}

const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;
const NOTHING: readonly BatchWriteResult[] = [];
const CODES: Record<FailureCode, BatchWriteErrorCode> = {
  invalidRequest: 'batchWrite.invalidRequest',
  nonRetryable: 'batchWrite.nonRetryable',
  attemptsExhausted: 'batchWrite.attemptsExhausted',
};

/** The requests some entries answer for, in input order. */
function writtenRequests(entries: WriteEntry[]): WriteRequest[] {
  const all = entries.some((e) => e.merged) ? entries.flatMap(requestsOf) : entries;
  return all.sort(byId).map((e) => e.request);
}

/** A batch's result: what it wrote (replaced requests included), and with `onFailure: 'emit'` each failure with its own error. */
function resultOf(batch: Batch): BatchWriteResult {
  const result: BatchWriteResult = { requests: writtenRequests(batch.written), attempts: batch.attempts };
  if (batch.consumed.length > 0) result.consumedCapacity = sumConsumedCapacity(batch.consumed);
  if (batch.failures.length === 0) return result;
  const failures = batch.failures.sort(byId);
  return {
    ...result,
    failed: failures.map((f) => f.request),
    error: failures[0]!.error,
    failures: failures.map(({ request, error }) => ({ request, error })),
  };
}

/** The BatchWriteItem body of a call: `{"RequestItems":{"T":[…]},…}`, and the same as an ordinary input for wrappers. */
function writeCommand(
  table: string,
  entries: WriteEntry[],
  returnConsumedCapacity: string | undefined,
  sender: unknown,
): BatchWriteItemCommand {
  const texts = entries.map((e) => e.json);
  const flags = returnConsumedCapacity ? { ReturnConsumedCapacity: returnConsumedCapacity as 'TOTAL' } : {};
  return fastCommand(
    BatchWriteItemCommand,
    {
      body: `{"RequestItems":{${JSON.stringify(table)}:[${texts.join(',')}]}${returnConsumedCapacity ? `,"ReturnConsumedCapacity":"${returnConsumedCapacity}"` : ''}}`,
      stub: { RequestItems: { [table]: [] }, ...flags },
      input: () => ({ RequestItems: { [table]: texts.map((t) => attributeValuesOf(t) as never) }, ...flags }),
    },
    sender,
  );
}

/** The entries of the call that DynamoDB returned in `UnprocessedItems`. */
function unprocessedOf(entries: WriteEntry[], attributes: string[], output: BatchWriteItemCommandOutput): WriteEntry[] {
  const returned = Object.entries(output.UnprocessedItems ?? {}).filter(([, list]) => list && list.length > 0);
  if (returned.length === 0) return [];
  const byKey = new Map(entries.map((e) => [`${e.table}\u0000${e.key}`, e]));
  return returned.flatMap(([table, list]) =>
    list!.map((r) => {
      const av = r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {};
      const entry = byKey.get(`${table}\u0000${wireKey(av, attributes)}`);
      if (!entry) throw new Error(`DynamoDB returned an unprocessed request that was not sent in this call (table ${table})`);
      return entry;
    }),
  );
}

/**
 * The write engine behind dynamoBatchWrite, dynamoBatchDelete and dynamoBatchWriteRequests: requests → checked and
 * prepared once → one lane per table, later requests for a key queued behind earlier ones → BatchWriteItem calls of
 * up to 25 requests and 16 MiB, retries of unprocessed requests riding with fresh ones → one result per batch.
 */
export function writeRequestsInternal(
  client: DynamoDBSender,
  keyAttributesOf: (table: string) => string[] | undefined,
  options: BatchWriteOptions,
): OperatorFunction<WriteRequest, BatchWriteResult> {
  const settings = batchSettings(options, BATCH_WRITE_MAX_REQUESTS);
  const { returnConsumedCapacity, backpressure } = options;
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const userBudget = toBudget(options.capacity);
  /** With a budget, DynamoDB is asked what each call consumed, to correct the estimate. */
  const askConsumed = returnConsumedCapacity ?? (userBudget ? 'TOTAL' : undefined);
  const engineSettings = {
    maxAttempts: settings.maxAttempts,
    maxBatchWaitMs: settings.maxBatchWaitMs,
    isRetryable: isRetryableError,
    onFailure: settings.onFailure,
    backoff: settings.backoff,
    random: settings.random,
  };

  return (source) =>
    defer(() => {
      const open = new Set<Batch>();
      const attributesOf = new Map<string, string[]>();
      let signal: AbortSignal | undefined;
      const send = splitOnRejection(
        (entries: WriteEntry[]): Observable<{ unprocessed: WriteEntry[]; response: BatchWriteItemCommandOutput }> => {
          const table = entries[0]!.table;
          return sendCommand<BatchWriteItemCommandOutput>(client, writeCommand(table, entries, askConsumed, client), signal).pipe(
            map((response) => ({ unprocessed: unprocessedOf(entries, attributesOf.get(table) ?? [], response), response })),
          );
        },
        (a, b) => ({ $metadata: {}, ConsumedCapacity: [...(a?.ConsumedCapacity ?? []), ...(b?.ConsumedCapacity ?? [])] }),
      );
      const operator: BatchOperator<WriteRequest, BatchWriteResult> = {
        kind: 'write',
        keyAttributesOf,
        spec: {
          mode: 'order',
          words: { operation: 'BatchWriteItem', noun: 'request', verb: 'written' },
          maxCount: settings.batchSize,
          maxBytes: MAX_REQUEST_BYTES - REQUEST_ENVELOPE_BYTES,
          tableOf: requestTable,
          prepare: (id, request, schema) => prepareWrite(id, request, schema, marshalling),
          failure: (code, message, cause, attempts, unprocessed) =>
            new BatchWriteError(CODES[code], message, { unprocessed, attempts, cause }),
        },
        cost: (call) => call.entries.reduce((sum, e) => sum + e.units, 0),
        send: (call: Call<WriteRequest>, abort): Observable<SendResult<WriteRequest>> => {
          signal = abort;
          return send(call.entries).pipe(
            map((outcome) => ({
              answer: {
                unprocessed: outcome.unprocessed,
                rejected: (outcome.rejected ?? []).map((r) => ({ entry: r.request, error: r.error })),
              },
              consumed: unitsConsumed(outcome.response?.ConsumedCapacity),
              consumedCapacity: outcome.response?.ConsumedCapacity,
            })),
          );
        },
        started: (call) => {
          attributesOf.set(call.lane.table, call.lane.schema?.attributes ?? []);
          let batch: Batch | undefined;
          for (const e of call.entries) {
            if (e.batch) continue;
            if (!batch) open.add((batch = { pending: 0, written: [], failures: [], attempts: 0, consumed: [], reported: false }));
            e.batch = batch;
            batch.pending++;
          }
        },
        answered: (call, result) => {
          if (!returnConsumedCapacity || !result.consumedCapacity) return;
          // a call's capacity goes to the batches it carried, in proportion to their requests in it
          const shares = new Map<Batch, number>();
          for (const e of call.entries) shares.set(e.batch as Batch, (shares.get(e.batch as Batch) ?? 0) + 1 / call.entries.length);
          for (const [batch, share] of shares)
            for (const c of result.consumedCapacity)
              batch.consumed.push({ ...c, ...(c.CapacityUnits !== undefined ? { CapacityUnits: c.CapacityUnits * share } : {}) });
        },
        settled: (entry, failure, refused) => {
          const error = failure as BatchWriteError | undefined;
          if (!entry) {
            const { request } = refused!;
            return [{ requests: [], attempts: 0, failed: [request], error, failures: [{ request, error: error! }] }];
          }
          const batch = entry.batch as Batch;
          if (error) batch.failures.push(...requestsOf(entry).map((r) => ({ ...r, error })));
          else batch.written.push(entry);
          if (entry.attempts > batch.attempts) batch.attempts = entry.attempts;
          if (--batch.pending > 0) return NOTHING;
          open.delete(batch);
          return [resultOf(batch)];
        },
        // 'error' mode: what each open batch wrote comes out before the error, so every request is in one or the other
        halted: () =>
          [...open].filter((b) => b.written.length > 0).map((b) => ({ requests: writtenRequests(b.written), attempts: b.attempts })),
      };
      return source.pipe(
        batchEngine(client, operator, engineSettings, {
          ...options,
          concurrency: settings.concurrency,
          maxConcurrency: settings.maxConcurrency,
          scheduler: settings.scheduler,
          budget: userBudget,
          backpressure,
        }),
      );
    });
}
