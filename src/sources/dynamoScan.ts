import { mergeMap, type Observable } from 'rxjs';
import type { DynamoDBSender, Item } from '../types.js';
import { paginate, type ScanInput, type SourceOptions } from './pageInternals.js';

/**
 * Every item of a Scan, page after page, as plain JavaScript objects. The type parameter names what the table holds
 * (`dynamoScan<Ticket>(…)`): it is not checked at run time, as with the SDK's own `Items`.
 *
 * ```
 * pages:   -[a,b]---[c]|
 * > dynamoScan(client, { TableName: 'Tickets' })
 * items:   -(ab)----(c|)
 * ```
 *
 * ## Example
 * ```ts
 * import { backpressure, dynamoBatchWrite, dynamoScan } from 'rxjs-dynamodb';
 * const link = backpressure({ highWaterMark: 5_000 });
 * dynamoScan<Ticket>(client, { TableName: 'Tickets', FilterExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' },
 *   ExpressionAttributeValues: { ':s': 'resolved' } }, { backpressure: link })
 *   .pipe(dynamoBatchWrite(client, 'Archive', { backpressure: link }))
 *   .subscribe();
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Scan input in the document model (resume with the `startKey` option, not `ExclusiveStartKey`).
 * @param options `startKey`, retries, backpressure; see {@link SourceOptions}.
 * @returns An Observable of items. Unsubscribing stops paging and aborts the call in flight.
 * @see dynamoScanPages
 * @see dynamoParallelScan
 */
export function dynamoScan<T extends object = Item>(client: DynamoDBSender, input: ScanInput, options: SourceOptions = {}): Observable<T> {
  return paginate<T>(client, 'scan', input, options).pipe(mergeMap((page) => page.items));
}
