import type { OperatorFunction } from 'rxjs';
import type { BatchWriteResult, DynamoDBSender, Item, WriteRequest } from '../types.js';
import { type BatchWriteOptions, writeRequestsInternal } from './writeInternals.js';

export interface BatchWriteRequestsOptions extends BatchWriteOptions {
  /**
   * Key attribute names per table, partition key first: `{ Tickets: ['pk', 'sk'] }`. A table not named here is
   * described once (DescribeTable, cached per client). @default {}
   */
  keyAttributes?: Record<string, string[]>;
}

/**
 * Writes a stream of puts and deletes, mixed and across tables, with BatchWriteItem: every request is written, or
 * handed back. Requests are batched (at most 25 and 16 MiB of request JSON per call), a later request for a key
 * already in the open batch replaces the earlier one, and a request for a key that an earlier batch is still
 * writing waits for it, so each key ends in the state of its last request. Unprocessed requests are re-sent, only
 * them, with exponential backoff and jitter, up to `maxAttempts` calls per batch; throttling and 5xx errors are
 * retried the same way. Emits one {@link BatchWriteResult} per batch, when every request in it was accepted.
 *
 * ```
 * requests: --p--d--p--p--|
 * > dynamoBatchWriteRequests(client, { batchSize: 2 })
 * results:  ---------a-----(b|)       a = { requests: [p, d], attempts: 1 }, b = { requests: [p, p], attempts: 1 }
 * ```
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { dynamoBatchWriteRequests } from 'rxjs-dynamodb';
 * from([
 *   { table: 'Tickets', put: { pk: 't#1', status: 'open' } },
 *   { table: 'Archive', delete: { pk: 't#0' } },
 * ]).pipe(dynamoBatchWriteRequests(client)).subscribe((r) => console.log(r.requests.length, 'written'));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param options Concurrency, attempts, backoff, key attributes, failure mode; see {@link BatchWriteRequestsOptions}.
 * @returns An operator from write requests to one result per batch. With `onFailure: 'error'` (the default) it
 * errors with a `BatchWriteError` whose `unprocessed` lists every request taken and not written. An error from the
 * source is passed on unchanged after the requests already taken were written (or failed).
 * @see dynamoBatchWrite
 * @see dynamoBatchDelete
 */
export function dynamoBatchWriteRequests<T extends object = Item>(
  client: DynamoDBSender,
  options: BatchWriteRequestsOptions = {},
): OperatorFunction<WriteRequest<T>, BatchWriteResult<T>> {
  const { keyAttributes = {} } = options;
  // the item type is the caller's name for it: the engine takes any plain object
  return writeRequestsInternal(client, (table) => keyAttributes[table], options) as unknown as OperatorFunction<
    WriteRequest<T>,
    BatchWriteResult<T>
  >;
}
