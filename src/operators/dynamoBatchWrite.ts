import { map, type Observable, type OperatorFunction } from 'rxjs';
import type { BatchWriteResult, DynamoDBSender, Item, WriteRequest } from '../types.js';
import { type BatchWriteOptions, writeRequestsInternal } from './writeInternals.js';

export interface BatchWriteTableOptions extends BatchWriteOptions {
  /** The table's key attribute names, partition key first. @default read once with DescribeTable (cached per client) */
  keyAttributes?: string[];
}

/**
 * Puts every item of the stream into one table with BatchWriteItem: every item written, or handed back to you.
 * At most 25 items and 16 MiB of request JSON per call, `concurrency` calls in flight, unprocessed items re-sent
 * (only them) with exponential backoff and jitter up to `maxAttempts` calls per batch. A later item with the key of
 * one not yet sent replaces it; the table ends with the last item per key. An item over 400 KB is never sent.
 *
 * ```
 * items:   --a--b--c--d--e--|
 * > dynamoBatchWrite(client, 'Tickets', { batchSize: 2 })
 * results: --------x-----y--(z|)      x = { requests: [a, b], attempts: 1 }, …
 * ```
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { dynamoBatchWrite } from 'rxjs-dynamodb';
 * from(tickets).pipe(dynamoBatchWrite(client, 'Tickets', { concurrency: 8 })).subscribe({
 *   error: (e) => console.error(e.code, e.unprocessed.length, 'not written'),
 * });
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param table The table name.
 * @param options See {@link BatchWriteTableOptions}; all optional.
 * @returns An operator from items to one {@link BatchWriteResult} per batch.
 * @see dynamoBatchWriteRequests for puts and deletes mixed, across tables.
 */
export function dynamoBatchWrite<T extends object = Item>(
  client: DynamoDBSender,
  table: string,
  options: BatchWriteTableOptions = {},
): OperatorFunction<T, BatchWriteResult<T>> {
  const write = writeRequestsInternal(client, (t) => (t === table ? options.keyAttributes : undefined), options);
  return (items) =>
    items.pipe(
      // the item's type is the caller's name for it: the engine takes any plain object
      map((put): WriteRequest => ({ table, put: put as Item })),
      write,
    ) as Observable<BatchWriteResult<T>>;
}
