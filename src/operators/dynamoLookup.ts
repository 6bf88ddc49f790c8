import { defer, map, Observable, type OperatorFunction } from 'rxjs';
import { BatchGetError } from '../errors.js';
import type { DynamoDBSender, GetRequest, Item, Key } from '../types.js';
import type { BatchGetTableOptions } from './dynamoBatchGet.js';
import { type GetOutcome, getRequestsInternal } from './getInternals.js';

/** One key's answer, in input order. */
export interface Lookup<T extends object = Item, K extends object = Key> {
  key: K;
  /** The item, or undefined when it is gone (no item has the key) — or, with `error`, when it could not be read. */
  item: T | undefined;
  /** With `onFailure: 'emit'` only. */
  error?: unknown;
}

/**
 * Loads items by key in the order the keys came — "these 50 tickets, in queue order, and tell me which are gone":
 * emits `{ key, item }` for every key, in input order, with `item` undefined for a key that has no item. Reads are
 * batched (100 keys per call), de-duplicated and retried as in `dynamoBatchGet`; an answer waits only for the
 * answers of the keys before it.
 *
 * ```
 * keys:     -a-b-c-|
 * > dynamoLookup(client, 'Tickets')
 * lookups:  -------(ABC|)      B = { key: b, item: undefined } when b is gone
 * ```
 *
 * ## Example
 * ```ts
 * import { from, toArray } from 'rxjs';
 * import { dynamoLookup } from 'rxjs-dynamodb';
 * from(queue.map((id) => ({ id }))).pipe(dynamoLookup(client, 'Tickets'), toArray()).subscribe((rows) => {
 *   const gone = rows.filter((r) => !r.item).map((r) => r.key.id);
 * });
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param table The table name.
 * @param options Those of `dynamoBatchGet`.
 * @returns An operator from keys to one {@link Lookup} per key, in input order.
 * @see dynamoBatchGet
 */
export function dynamoLookup<T extends object = Item, K extends object = Key>(
  client: DynamoDBSender,
  table: string,
  options: BatchGetTableOptions = {},
): OperatorFunction<K, Lookup<T, K>> {
  const read = getRequestsInternal(client, (t) => (t === table ? options.keyAttributes : undefined), options);
  return (keys) =>
    defer(() => {
      const ids = new WeakMap<GetRequest, number>();
      let next = 0;
      return keys.pipe(
        map((key): GetRequest => {
          const request = { table, key: key as Key };
          ids.set(request, next++);
          return request;
        }),
        read,
        inInputOrder(ids),
        // the types are the caller's names for what the table holds, not checked at run time
      ) as Observable<Lookup<T, K>>;
    });
}

/** Re-orders outcomes by `id` (0, 1, 2, …): each is emitted once every earlier one has been. */
function inInputOrder(ids: WeakMap<GetRequest, number>): OperatorFunction<GetOutcome, Lookup> {
  return (source) =>
    new Observable<Lookup>((subscriber) => {
      const waiting = new Map<number, GetOutcome>();
      let next = 0;
      return source.subscribe({
        next: (outcome) => {
          waiting.set(outcome.id, outcome);
          for (let o = waiting.get(next); o !== undefined; o = waiting.get(next)) {
            waiting.delete(next++);
            subscriber.next(o.error ? { key: o.request.key, item: undefined, error: o.error } : { key: o.request.key, item: o.item });
          }
        },
        // keys read but held back for order are handed back with the error, so that none is lost
        error: (error: unknown) => {
          if (!(error instanceof BatchGetError) || waiting.size === 0) return subscriber.error(error);
          // merged by input order: the requests are the very objects numbered when taken
          const held = [...waiting.values()];
          const order = (request: GetRequest) => ids.get(request) ?? Infinity;
          const unprocessed = [...held.map((o) => o.request), ...error.unprocessed].sort((a, b) => order(a) - order(b));
          subscriber.error(
            new BatchGetError(error.code, error.message, {
              unprocessed,
              attempts: error.attempts,
              cause: error.cause,
            }),
          );
        },
        complete: () => subscriber.complete(),
      });
    });
}
