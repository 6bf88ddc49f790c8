import type { Observable } from 'rxjs';
import type { DynamoDBSender, Item } from '../types.js';
import { type Page, paginate, type QueryInput, type SourceOptions } from './pageInternals.js';

/**
 * Every page of a Query, lazily, as plain JavaScript; paged with `expand` on `LastEvaluatedKey`, throttled pages
 * fetched again with backoff, resumable with `startKey` (a page's `lastEvaluatedKey`).
 *
 * ```
 * calls:   -p1---p2|
 * > dynamoQueryPages(client, { TableName: 'Tickets', KeyConditionExpression: 'pk = :pk', … })
 * pages:   -a----(b|)
 * ```
 *
 * ## Example
 * ```ts
 * import { dynamoQueryPages } from 'rxjs-dynamodb';
 * dynamoQueryPages(client, { TableName: 'Tickets', KeyConditionExpression: 'queue = :q', ExpressionAttributeValues: { ':q': 'billing' } })
 *   .subscribe((page) => console.log(page.count));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Query input in the document model (`KeyConditionExpression`, `IndexName`, `ScanIndexForward`, … pass through).
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of pages. Unsubscribing stops paging and aborts the call in flight.
 * @see dynamoQuery
 */
export function dynamoQueryPages<T extends object = Item>(
  client: DynamoDBSender,
  input: QueryInput,
  options: SourceOptions = {},
): Observable<Page<T>> {
  return paginate<T>(client, 'query', input, options);
}
