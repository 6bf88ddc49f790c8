import { concatMap, from, type Observable } from 'rxjs';
import type { ChangeRecord } from '../internal/stream/records.js';
import type { DynamoDBSender, Item } from '../types.js';
import { dynamoStreamBatches } from './dynamoStreamBatches.js';
import type { StreamOptions } from './streamInternals.js';

/**
 * Every change of a table, from its DynamoDB stream, one record at a time: `{ eventName, keys, newImage, oldImage,
 * sequenceNumber, approximateCreationTime, shardId }`, unmarshalled exactly. The changes of one key come out in the
 * order they were made, across shard splits. To save where you are, use {@link dynamoStreamBatches}, whose batches
 * carry the checkpoint.
 *
 * ```
 * changes: -i1--m1------r2--     (INSERT, MODIFY, REMOVE of items 1 and 2)
 * > dynamoStream(streams, 'Tickets', { start: 'LATEST' })
 * records: -a---b-------c---     a = { eventName: 'INSERT', keys: { pk: 1 }, newImage: { … } }
 * ```
 *
 * ## Example
 * ```ts
 * import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
 * import { dynamoStream } from 'rxjs-dynamodb';
 * dynamoStream<Ticket>(new DynamoDBStreamsClient({}), 'Tickets', { start: 'LATEST' })
 *   .subscribe((change) => console.log(change.eventName, change.keys, change.newImage?.status));
 * ```
 *
 * @param client A `DynamoDBStreamsClient` (from `@aws-sdk/client-dynamodb-streams`), or anything with its `send`.
 * @param source The table's name (its newest stream is read) or a stream ARN.
 * @param options See {@link StreamOptions}.
 * @returns An Observable of change records. Unsubscribing stops polling at once.
 * @see dynamoStreamBatches
 */
export function dynamoStream<T extends object = Item>(
  client: DynamoDBSender,
  source: string,
  options: StreamOptions = {},
): Observable<ChangeRecord<T>> {
  return dynamoStreamBatches<T>(client, source, options).pipe(concatMap((batch) => from(batch.records)));
}
