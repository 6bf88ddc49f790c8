import { map, type OperatorFunction } from 'rxjs';
import type { BatchWriteResult, DynamoDBSender, Key, WriteRequest } from '../types.js';
import type { BatchWriteTableOptions } from './dynamoBatchWrite.js';
import { writeRequestsInternal } from './writeInternals.js';

/**
 * Deletes every key of the stream from one table with BatchWriteItem: every key deleted, or handed back to you.
 * A whole item may be passed: only its key attributes are sent (DynamoDB rejects other attributes in a key), so a
 * scan can feed it directly. Batching, retries and failure handling are those of `dynamoBatchWrite`.
 *
 * ```
 * keys:    --a--b--c--|
 * > dynamoBatchDelete(client, 'Tickets', { batchSize: 2 })
 * results: -----x-----(y|)      x = { requests: [{ table, delete: a }, { table, delete: b }], attempts: 1 }
 * ```
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { dynamoBatchDelete } from 'rxjs-dynamodb';
 * from([{ pk: 't#1' }, { pk: 't#2' }]).pipe(dynamoBatchDelete(client, 'Tickets')).subscribe();
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param table The table name.
 * @param options See `BatchWriteTableOptions`; all optional.
 * @returns An operator from keys (or items) to one {@link BatchWriteResult} per batch.
 * @see dynamoBatchWrite
 */
export function dynamoBatchDelete<K extends object = Key>(
  client: DynamoDBSender,
  table: string,
  options: BatchWriteTableOptions = {},
): OperatorFunction<K, BatchWriteResult> {
  const write = writeRequestsInternal(client, (t) => (t === table ? options.keyAttributes : undefined), options);
  return (keys) =>
    keys.pipe(
      map((key): WriteRequest => ({ table, delete: key as Key })),
      write,
    );
}
