/**
 * A change feed: every change of the Orders table, from its DynamoDB stream, transformed and applied to a second
 * table, OrdersByCustomer (keyed by customer, then order). An insert or a change puts the new projection; a remove
 * deletes it. After each batch is applied, its checkpoint goes to a file, so a run that stops — or is killed — goes
 * on from there: nothing missed, nothing applied twice. This run stops once it has caught up with the stream; a
 * service would leave out the `takeWhile` and follow it for ever.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/change-feed.ts` — run it twice: the second
 * run applies only what changed since the first (`DYNAMODB_ENDPOINT` overrides http://127.0.0.1:8000; the checkpoint is
 * change-feed.checkpoint.json in the current folder, or `CHANGE_FEED_CHECKPOINT`).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { concatMap, from, lastValueFrom, reduce, takeWhile } from 'rxjs';
import {
  type ChangeBatch,
  type ChangeRecord,
  dynamoBatchWrite,
  dynamoBatchWriteRequests,
  dynamoStreamBatches,
  type StreamCheckpoint,
  type WriteRequest,
} from 'rxjs-dynamodb';

export interface Order {
  orderId: bigint | number; // 64-bit ids come back as bigint when they are beyond 2^53
  customer: string;
  total: unknown; // a decimal, kept exactly (a NumberValue when a JavaScript number would round it)
  status: string;
}

/** The projection: what OrdersByCustomer holds for an order. */
export const project = (o: Order) => ({ customer: o.customer, order: o.orderId, total: o.total, status: o.status.toUpperCase() });

const keyOf = (o: Order) => ({ customer: o.customer, order: o.orderId });
const id = (key: { customer: string; order: unknown }) => `${key.customer}\u0000${String(key.order)}`;

/**
 * One change as the writes that leave the projection as the order is now: a put of the new projection, and a delete
 * of the old one when the order is removed or moved to another customer (its key in the projection changed).
 */
function writesFor(change: ChangeRecord<Order>, table: string): Array<[string, WriteRequest]> {
  const writes: Array<[string, WriteRequest]> = [];
  const before = change.oldImage ? keyOf(change.oldImage) : undefined;
  const after = change.newImage ? keyOf(change.newImage) : undefined;
  if (before && (!after || id(before) !== id(after))) writes.push([id(before), { table, delete: before }]);
  if (after) writes.push([id(after), { table, put: project(change.newImage!) }]);
  return writes;
}

export async function changeFeed(
  endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  orders = 'Orders',
  byCustomer = 'OrdersByCustomer',
  checkpointFile = process.env.CHANGE_FEED_CHECKPOINT ?? 'change-feed.checkpoint.json',
) {
  const config = { endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  const client = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  try {
    await createTables(client, orders, byCustomer);
    // a few orders on each run: new ones, one shipped, one cancelled (deleted), one moved to another customer
    const run = Date.now();
    const placed: Order[] = [0, 1, 2].map((i) => ({
      orderId: 2n ** 62n + BigInt(run) * 10n + BigInt(i),
      customer: `customer#${i % 2}`,
      total: 19.99 + i,
      status: 'placed',
    }));
    await lastValueFrom(from(placed).pipe(dynamoBatchWrite(client, orders)));
    await lastValueFrom(
      from<WriteRequest<Order>[]>([
        { table: orders, put: { ...placed[0]!, status: 'shipped' } },
        { table: orders, delete: { orderId: placed[2]!.orderId } },
        { table: orders, put: { ...placed[1]!, customer: 'customer#9' } },
      ]).pipe(dynamoBatchWriteRequests(client)),
    );

    const saved = existsSync(checkpointFile) ? (JSON.parse(readFileSync(checkpointFile, 'utf8')) as StreamCheckpoint) : undefined;
    return await lastValueFrom(
      dynamoStreamBatches<Order>(streams, orders, { checkpoint: saved, idleDelayMs: 200 }).pipe(
        // one batch at a time: it is applied, then its checkpoint saved, before the next
        concatMap(async (batch: ChangeBatch<Order>) => {
          // the last write per projection key wins within a batch (a batch write takes one request per key)
          const writes = new Map<string, WriteRequest>();
          for (const change of batch.records)
            for (const [key, write] of writesFor(change, byCustomer)) {
              writes.delete(key);
              writes.set(key, write);
            }
          await lastValueFrom(from([...writes.values()]).pipe(dynamoBatchWriteRequests(client)), { defaultValue: undefined });
          writeFileSync(checkpointFile, JSON.stringify(batch.checkpoint));
          return batch;
        }),
        takeWhile((batch) => !batch.caughtUp, true),
        reduce(
          (n, batch) => ({
            changes: n.changes + batch.records.length,
            removed: n.removed + batch.records.filter((r) => r.eventName === 'REMOVE').length,
          }),
          { changes: 0, removed: 0 },
        ),
      ),
    );
  } finally {
    client.destroy();
    streams.destroy();
  }
}

async function createTables(client: DynamoDBClient, orders: string, byCustomer: string): Promise<void> {
  const create = (input: ConstructorParameters<typeof CreateTableCommand>[0]) =>
    client.send(new CreateTableCommand(input)).catch((error: Error) => {
      if (error.name !== 'ResourceInUseException') throw error; // there from an earlier run
    });
  await create({
    TableName: orders,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'N' }],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  });
  await create({
    TableName: byCustomer,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [
      { AttributeName: 'customer', KeyType: 'HASH' },
      { AttributeName: 'order', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'customer', AttributeType: 'S' },
      { AttributeName: 'order', AttributeType: 'N' },
    ],
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { changes, removed } = await changeFeed();
  console.log(`applied ${changes} changes (${removed} removals) to OrdersByCustomer; the checkpoint is saved`);
}
