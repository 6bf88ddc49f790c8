import { mergeMap, type Observable } from 'rxjs';
import type { DynamoDBSender, Item } from '../types.js';
import { paginate, type QueryInput, type SourceOptions } from './pageInternals.js';

/**
 * Every item of a Query, page after page, as plain JavaScript objects.
 *
 * ```
 * pages:   -[a,b]---[c]|
 * > query(client, { TableName: 'Tickets', KeyConditionExpression: … })
 * items:   -(ab)----(c|)
 * ```
 *
 * ## Example
 * ```ts
 * import { query } from 'rxjs-dynamodb';
 * query(client, { TableName: 'Tickets', IndexName: 'byQueue', KeyConditionExpression: 'queue = :q',
 *   ExpressionAttributeValues: { ':q': 'billing' } }).subscribe(console.log);
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Query input in the document model.
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of items. Unsubscribing stops paging and aborts the call in flight.
 * @see queryPages
 */
export function query(client: DynamoDBSender, input: QueryInput, options: SourceOptions = {}): Observable<Item> {
  return paginate(client, 'query', input, options).pipe(mergeMap((page) => page.Items));
}
