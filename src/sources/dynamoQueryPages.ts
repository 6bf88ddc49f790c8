import type { Observable } from 'rxjs';
import type { DynamoDBSender } from '../types.js';
import { type Page, paginate, type QueryInput, type SourceOptions } from './pageInternals.js';

/**
 * Every page of a Query, lazily, as plain JavaScript; paged with `expand` on `LastEvaluatedKey`, throttled pages
 * fetched again with backoff, resumable with `startKey`.
 *
 * ```
 * calls:   -p1---p2|
 * > queryPages(client, { TableName: 'Tickets', KeyConditionExpression: 'pk = :pk', … })
 * pages:   -a----(b|)
 * ```
 *
 * ## Example
 * ```ts
 * import { queryPages } from 'rxjs-dynamodb';
 * queryPages(client, { TableName: 'Tickets', KeyConditionExpression: 'queue = :q', ExpressionAttributeValues: { ':q': 'billing' } })
 *   .subscribe((page) => console.log(page.Count));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Query input in the document model (`KeyConditionExpression`, `IndexName`, `ScanIndexForward`, … pass through).
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of pages. Unsubscribing stops paging and aborts the call in flight.
 * @see query
 */
export function queryPages(client: DynamoDBSender, input: QueryInput, options: SourceOptions = {}): Observable<Page> {
  return paginate(client, 'query', input, options);
}
