import { map, type Observable, type OperatorFunction } from 'rxjs';
import type { DynamoDBSender, GetRequest, GetResponse, Item, Key } from '../types.js';
import { type BatchGetOptions, getRequestsInternal } from './getInternals.js';

export interface BatchGetRequestsOptions extends BatchGetOptions {
  /** Key attribute names per table, partition key first. A table not named here is described once. @default {} */
  keyAttributes?: Record<string, string[]>;
}

/**
 * Reads keys across several tables with BatchGetItem: `{ table, key }` in, `{ table, key, item }` out, one answer per
 * key taken, as they come back (`item` undefined when no item has the key). Batching, de-duplication and retries of
 * `UnprocessedKeys` are those of `dynamoBatchGet`; `consistentRead` and `projection` apply to every table.
 *
 * ```
 * requests:  --a--b--|
 * > dynamoBatchGetRequests(client)
 * responses: --------(AB|)       A = { table, key: a.key, item }, …
 * ```
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { dynamoBatchGetRequests } from 'rxjs-dynamodb';
 * from([{ table: 'Tickets', key: { id: 't#1' } }, { table: 'Users', key: { id: 'u#7' } }])
 *   .pipe(dynamoBatchGetRequests(client))
 *   .subscribe(({ table, key, item }) => console.log(table, key, item ?? 'missing'));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param options See {@link BatchGetRequestsOptions}.
 * @returns An operator from get requests to one response per request. With `onFailure: 'emit'`, a key that could not
 * be read comes out with `error` set.
 * @see dynamoBatchGet
 */
export function dynamoBatchGetRequests<T extends object = Item, K extends object = Key>(
  client: DynamoDBSender,
  options: BatchGetRequestsOptions = {},
): OperatorFunction<GetRequest<K>, GetResponse<T, K>> {
  const { keyAttributes = {} } = options;
  const read = getRequestsInternal(client, (table) => keyAttributes[table], options);
  return (requests) =>
    (requests as Observable<GetRequest>).pipe(
      read,
      map((o): GetResponse<T, K> => {
        // the types are the caller's names for what the table holds, not checked at run time
        const response: GetResponse<T, K> = { table: o.request.table, key: o.request.key as K, item: o.item as T | undefined };
        if (o.error) response.error = o.error;
        return response;
      }),
    );
}
