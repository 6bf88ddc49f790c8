import { mergeMap, type Observable } from 'rxjs';
import type { DynamoDBSender, Item } from '../types.js';
import { paginate, type ScanInput, type SourceOptions } from './pageInternals.js';

/**
 * Every item of a Scan, page after page, as plain JavaScript objects.
 *
 * ```
 * pages:   -[a,b]---[c]|
 * > scan(client, { TableName: 'Tickets' })
 * items:   -(ab)----(c|)
 * ```
 *
 * ## Example
 * ```ts
 * import { backpressure, dynamoBatchWrite, scan } from 'rxjs-dynamodb';
 * const link = backpressure({ highWaterMark: 5_000 });
 * scan(client, { TableName: 'Tickets', FilterExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' },
 *   ExpressionAttributeValues: { ':s': 'resolved' } }, { backpressure: link })
 *   .pipe(dynamoBatchWrite(client, 'Archive', { backpressure: link }))
 *   .subscribe();
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Scan input in the document model.
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of items. Unsubscribing stops paging and aborts the call in flight.
 * @see scanPages
 * @see parallelScan
 */
export function scan(client: DynamoDBSender, input: ScanInput, options: SourceOptions = {}): Observable<Item> {
  return paginate(client, 'scan', input, options).pipe(mergeMap((page) => page.Items));
}
