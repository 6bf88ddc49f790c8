import type { Observable } from 'rxjs';
import type { DynamoDBSender } from '../types.js';
import { type Page, paginate, type ScanInput, type SourceOptions } from './pageInternals.js';

/**
 * Every page of a Scan, lazily, as plain JavaScript: the next page is asked for (`expand` on `LastEvaluatedKey`)
 * once the previous one came back — with a backpressure link, only while the sink keeps up. Throttled pages are
 * fetched again with backoff. Keep `LastEvaluatedKey` of the last page you finished to resume with `startKey`.
 *
 * ```
 * calls:   -p1---p2---p3|
 * > scanPages(client, { TableName: 'Tickets' })
 * pages:   -a----b----(c|)        c has no LastEvaluatedKey
 * ```
 *
 * ## Example
 * ```ts
 * import { scanPages } from 'rxjs-dynamodb';
 * scanPages(client, { TableName: 'Tickets', Limit: 500 }, { startKey: checkpoint })
 *   .subscribe((page) => saveCheckpoint(page.LastEvaluatedKey));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Scan input in the document model (`FilterExpression`, `ProjectionExpression`, `IndexName`,
 * `ConsistentRead`, `ExpressionAttributeValues` as plain values, … pass through).
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of pages. Unsubscribing stops paging and aborts the call in flight.
 * @see scan
 */
export function scanPages(client: DynamoDBSender, input: ScanInput, options: SourceOptions = {}): Observable<Page> {
  return paginate(client, 'scan', input, options);
}
