import { filter, map, type OperatorFunction } from 'rxjs';
import { BatchGetFailure } from '../errors.js';
import type { DynamoDBSender, GetRequest, Item, Key } from '../types.js';
import { type BatchGetOptions, getRequestsInternal } from './getInternals.js';

export interface BatchGetTableOptions extends BatchGetOptions {
  /** The table's key attribute names, partition key first. @default read once with DescribeTable (cached per client) */
  keyAttributes?: string[];
}

/**
 * Reads the items of a stream of keys from one table with BatchGetItem: at most 100 keys per call, a key repeated
 * within a batch sent once (DynamoDB rejects duplicates), `UnprocessedKeys` — normal, since a response stops at 16 MB
 * — re-sent with the same `expand` + `timer` backoff as writes. Emits each item found, as it comes back (not in
 * input order: see `dynamoLookup` for that); a key with no item emits nothing; a key given twice emits its item twice.
 *
 * ```
 * keys:    --a--b--c--|
 * > dynamoBatchGet(client, 'Tickets', { batchSize: 2 })
 * items:   -------A-B----(C|)       (b's item, B, and so on; a missing key emits nothing)
 * ```
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { dynamoBatchGet } from 'rxjs-dynamodb';
 * from(ticketIds.map((id) => ({ id }))).pipe(dynamoBatchGet(client, 'Tickets', { projection: ['id', 'status'] })).subscribe(render);
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param table The table name.
 * @param options Concurrency, retries, `consistentRead`, `projection`, `onFailure`; see {@link BatchGetTableOptions}.
 * @returns An operator from keys to items. With `onFailure: 'error'` (the default) it errors with a `BatchGetError`
 * whose `unprocessed` lists every key taken and not read; with `'emit'`, a `BatchGetFailure` takes the place of each
 * key that could not be read, and the stream goes on.
 * @see dynamoLookup
 * @see dynamoBatchGetRequests
 */
export function dynamoBatchGet<T extends object = Item, K extends object = Key>(
  client: DynamoDBSender,
  table: string,
  options?: BatchGetTableOptions & { onFailure?: 'error' },
): OperatorFunction<K, T>;
export function dynamoBatchGet<T extends object = Item, K extends object = Key>(
  client: DynamoDBSender,
  table: string,
  options: BatchGetTableOptions & { onFailure: 'emit' },
): OperatorFunction<K, T | BatchGetFailure>;
export function dynamoBatchGet<T extends object = Item, K extends object = Key>(
  client: DynamoDBSender,
  table: string,
  options: BatchGetTableOptions = {},
): OperatorFunction<K, T | BatchGetFailure> {
  const read = getRequestsInternal(client, (t) => (t === table ? options.keyAttributes : undefined), options);
  return (keys) =>
    keys.pipe(
      map((key): GetRequest => ({ table, key: key as Key })),
      read,
      filter((o) => o.item !== undefined || o.error !== undefined),
      // the item's type is the caller's name for it, as with the SDK's own `Item`
      map((o) => (o.error ? new BatchGetFailure(table, o.request.key, o.error) : (o.item as T))),
    );
}
