import type { Observable } from 'rxjs';
import type { DynamoDBSender, Item } from '../types.js';
import { type Page, paginate, type ScanInput, type SourceOptions } from './pageInternals.js';

/**
 * Every page of a Scan, lazily, as plain JavaScript: the next page is asked for (`expand` on `LastEvaluatedKey`)
 * once the previous one came back — with a backpressure link, only while the sink keeps up. Throttled pages are
 * fetched again with backoff. Keep `lastEvaluatedKey` of the last page you finished and pass it as `startKey` to resume.
 *
 * ```
 * calls:   -p1---p2---p3|
 * > dynamoScanPages(client, { TableName: 'Tickets' })
 * pages:   -a----b----(c|)        c has no lastEvaluatedKey
 * ```
 *
 * ## Example
 * ```ts
 * import { dynamoScanPages } from 'rxjs-dynamodb';
 * dynamoScanPages<Ticket>(client, { TableName: 'Tickets', Limit: 500 }, { startKey: checkpoint })
 *   .subscribe((page) => saveCheckpoint(page.lastEvaluatedKey));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Scan input in the document model (`FilterExpression`, `ProjectionExpression`, `IndexName`,
 * `ConsistentRead`, `ExpressionAttributeValues` as plain values, … pass through).
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of pages. Unsubscribing stops paging and aborts the call in flight.
 * @see dynamoScan
 */
export function dynamoScanPages<T extends object = Item>(
  client: DynamoDBSender,
  input: ScanInput,
  options: SourceOptions = {},
): Observable<Page<T>> {
  return paginate<T>(client, 'scan', input, options);
}
