import { mergeMap, type Observable } from 'rxjs';
import type { DynamoDBSender, Item } from '../types.js';
import { paginate, type QueryInput, type SourceOptions } from './pageInternals.js';

/**
 * Every item of a Query, page after page, as plain JavaScript objects of the type you name (`dynamoQuery<Ticket>`).
 *
 * ```
 * pages:   -[a,b]---[c]|
 * > dynamoQuery(client, { TableName: 'Tickets', KeyConditionExpression: … })
 * items:   -(ab)----(c|)
 * ```
 *
 * ## Example
 * ```ts
 * import { dynamoQuery } from 'rxjs-dynamodb';
 * dynamoQuery<Ticket>(client, { TableName: 'Tickets', IndexName: 'byQueue', KeyConditionExpression: 'queue = :q',
 *   ExpressionAttributeValues: { ':q': 'billing' } }).subscribe((ticket) => console.log(ticket.title));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Query input in the document model (resume with the `startKey` option, not `ExclusiveStartKey`).
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of items. Unsubscribing stops paging and aborts the call in flight.
 * @see dynamoQueryPages
 */
export function dynamoQuery<T extends object = Item>(
  client: DynamoDBSender,
  input: QueryInput,
  options: SourceOptions = {},
): Observable<T> {
  return paginate<T>(client, 'query', input, options).pipe(mergeMap((page) => page.items));
}
