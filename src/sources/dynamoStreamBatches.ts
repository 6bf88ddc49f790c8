import { Observable } from 'rxjs';
import type { ChangeBatch } from '../internal/stream/records.js';
import type { DynamoDBSender, Item } from '../types.js';
import { type StreamOptions, StreamRun, validateStreamOptions } from './streamInternals.js';

/**
 * Every change of a table, from its DynamoDB stream, as batches — one per GetRecords answer with records, in each
 * shard's order — each with the checkpoint that covers it and every batch before it. A shard split's child is read
 * only once its parent is read to its end, so the changes of one key come out in the order they were made. Open
 * shards with nothing new are polled again after `idleDelayMs`; new shards are found as they appear. When every shard
 * being read has answered with nothing new, an empty batch with `caughtUp: true` says so (once each time). The stream
 * never completes while it is enabled (it completes once a disabled stream is read to its end).
 *
 * ```
 * shard s1: -r1-r2----r3-|          (s1 ends; s2 is its child)
 * shard s2:               -r4---
 * > dynamoStreamBatches(streams, 'Tickets')
 * batches:  -a--b-----c--d-e---     a = { shardId: 's1', records: [r1], checkpoint: { …s1 after r1 } }
 *                                   c = { records: [r3], shardEnded: true }, e = { shardId: 's2', records: [r4] }
 * ```
 *
 * ## Example
 * ```ts
 * import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
 * import { concatMap } from 'rxjs';
 * import { dynamoStreamBatches } from 'rxjs-dynamodb';
 * dynamoStreamBatches(new DynamoDBStreamsClient({}), 'Tickets', { checkpoint: await load() })
 *   .pipe(concatMap(async (batch) => { await handle(batch.records); await save(batch.checkpoint); }))
 *   .subscribe();
 * ```
 *
 * @param client A `DynamoDBStreamsClient` (from `@aws-sdk/client-dynamodb-streams`), or anything with its `send`.
 * @param source The table's name (its newest stream is read) or a stream ARN.
 * @param options Start, checkpoint, polling, retries, backpressure; see {@link StreamOptions}.
 * @returns An Observable of batches. Unsubscribing stops polling at once and aborts the calls in flight.
 * @see dynamoStream
 */
export function dynamoStreamBatches<T extends object = Item>(
  client: DynamoDBSender,
  source: string,
  options: StreamOptions = {},
): Observable<ChangeBatch<T>> {
  validateStreamOptions(options);
  if (typeof source !== 'string' || source === '')
    throw new TypeError(`source must be a table name or a stream ARN, got ${String(source)}`);
  return new Observable<ChangeBatch<T>>((subscriber) => new StreamRun<T>(subscriber, client, source, options).start());
}
