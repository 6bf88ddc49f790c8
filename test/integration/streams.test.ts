import { DeleteItemCommand, DescribeTableCommand, type DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { DynamoDBStreamsClient, GetRecordsCommand } from '@aws-sdk/client-dynamodb-streams';
import { firstValueFrom, lastValueFrom, type Subscription, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ChangeBatch,
  type ChangeRecord,
  compareSequenceNumbers,
  type DynamoDBSender,
  dynamoStream,
  dynamoStreamBatches,
  StreamError,
  type StreamCheckpoint,
} from 'rxjs-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
let streams: DynamoDBStreamsClient;
beforeAll(() => {
  const endpoint = inject('dynamoEndpoint');
  client = localClient(endpoint);
  streams = new DynamoDBStreamsClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
});
afterAll(() => {
  client.destroy();
  streams.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const put = (table: string, pk: string, n: string) =>
  client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, n: { N: n } } }));

/** A sender in front of the Streams client that counts GetRecords calls. */
function counting(): DynamoDBSender & { getRecords: number } {
  const sender = {
    getRecords: 0,
    send(command: unknown, options?: { abortSignal?: AbortSignal }) {
      if (command instanceof GetRecordsCommand) sender.getRecords++;
      return streams.send(command as never, options);
    },
  };
  return sender;
}

describe('dynamoStream on DynamoDB Local (issue 13)', () => {
  it('should hand on inserts, changes and removes in order, their images exact', async () => {
    const table = await createTable(client, uniqueTable('streamExact'), { stream: true });
    const item = {
      pk: { S: 'ticket#\u{1F600}' },
      id: { N: '9007199254740993' },
      big: { N: '12345678901234567890123456789012345678' },
      tiny: { N: '0.000000000000000000000000000000000001' },
      tags: { SS: ['a', '\u{1F680}'] },
      nums: { NS: ['1', '18446744073709551615'] },
      bin: { B: new Uint8Array([0, 255, 1]) },
      nested: { M: { list: { L: [{ N: '3.14159265358979323846264338327950288' }, { NULL: true }, { BOOL: false }] } } },
    };
    await client.send(new PutItemCommand({ TableName: table, Item: item }));
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: item.pk },
        UpdateExpression: 'SET big = :v',
        ExpressionAttributeValues: { ':v': { N: '-99999999999999999999999999999999999999' } },
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: table, Key: { pk: item.pk } }));
    const records = await lastValueFrom(dynamoStream(streams, table, { idleDelayMs: 50 }).pipe(take(3), toArray()));
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    expect(records.map((r) => r.keys)).toEqual([{ pk: 'ticket#\u{1F600}' }, { pk: 'ticket#\u{1F600}' }, { pk: 'ticket#\u{1F600}' }]);
    const [insert, modify, remove] = records as [ChangeRecord, ChangeRecord, ChangeRecord];
    expect(insert.oldImage).toBeUndefined();
    expect(insert.newImage).toEqual({
      pk: 'ticket#\u{1F600}',
      id: 9007199254740993n,
      big: 12345678901234567890123456789012345678n,
      tiny: 1e-36, // exact: its shortest text is DynamoDB's
      tags: new Set(['a', '\u{1F680}']),
      nums: new Set([1, 18446744073709551615n]),
      bin: new Uint8Array([0, 255, 1]),
      nested: { list: [NumberValue.from('3.14159265358979323846264338327950288'), null, false] },
    });
    expect(modify.oldImage).toEqual(insert.newImage);
    expect(String(modify.newImage!.big)).toBe('-99999999999999999999999999999999999999');
    expect(remove.newImage).toBeUndefined();
    expect(remove.oldImage).toEqual(modify.newImage);
    expect(compareSequenceNumbers(insert.sequenceNumber, modify.sequenceNumber)).toBeLessThan(0);
    expect(compareSequenceNumbers(modify.sequenceNumber, remove.sequenceNumber)).toBeLessThan(0);
    expect(insert.approximateCreationTime).toBeInstanceOf(Date);
  });

  it('should go on after a checkpoint without losing or repeating a record, across restarts and new writes', async () => {
    const table = await createTable(client, uniqueTable('streamCheckpoint'), { stream: true });
    for (let i = 0; i < 25; i++) await put(table, `k${i % 7}`, `${i}`);
    // first run: three batches of four, then stop
    const first = await lastValueFrom(dynamoStreamBatches(streams, table, { limit: 4, idleDelayMs: 50 }).pipe(take(3), toArray()));
    const checkpoint = JSON.parse(JSON.stringify(first.at(-1)!.checkpoint)) as StreamCheckpoint;
    expect(checkpoint.version).toBe(1);
    for (let i = 25; i < 40; i++) await put(table, `k${i % 7}`, `${i}`);
    // second run from the checkpoint, to the last record written
    const second: ChangeRecord[] = [];
    await new Promise<void>((resolve, reject) => {
      const s: Subscription = dynamoStream(streams, table, { checkpoint, limit: 6, idleDelayMs: 50 }).subscribe({
        next: (r) => {
          second.push(r);
          if (second.length === 28) {
            s.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    const values = [...first.flatMap((b) => b.records), ...second].map((r) => String(r.newImage!.n));
    expect(values).toEqual(Array.from({ length: 40 }, (_, i) => `${i}`));
    // from the checkpoint after the last record, nothing comes: no record is handed on twice
    const all = await collect(table, { checkpoint, idleDelayMs: 50 }, 500);
    expect(all.flatMap((batch) => batch.records).map((r) => String(r.newImage!.n))).toEqual(values.slice(12));
    const after = await collect(table, { checkpoint: all.at(-1)!.checkpoint, idleDelayMs: 50 }, 500);
    expect(after.flatMap((batch) => batch.records)).toEqual([]);
    // what it says instead: it is caught up, once
    expect(after.map((batch) => batch.caughtUp)).toEqual([true]);
  });

  it('should wait through a long idle period, polling less and less often, and hand on what comes after it', async () => {
    const table = await createTable(client, uniqueTable('streamIdle'), { stream: true });
    const sender = counting();
    const got = firstValueFrom(dynamoStream(sender, table, { start: 'LATEST', idleDelayMs: 50, maxIdleDelayMs: 400 }));
    await sleep(2_000);
    const idlePolls = sender.getRecords;
    await put(table, 'late', '42');
    const record = await got;
    expect(record.eventName).toBe('INSERT');
    expect(record.newImage).toEqual({ pk: 'late', n: 42 });
    // waits of 50, 100, 200, then 400 ms: about 8 calls in 2 s, not a busy loop (and not 40 as at a fixed 50 ms)
    expect(idlePolls).toBeGreaterThanOrEqual(5);
    expect(idlePolls).toBeLessThanOrEqual(12);
  });

  it("should skip what came before with start: 'LATEST', and read from a stream ARN", async () => {
    const table = await createTable(client, uniqueTable('streamLatest'), { stream: true });
    await put(table, 'before', '1');
    const arn = (await client.send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
    const got = firstValueFrom(dynamoStream(streams, arn, { start: 'LATEST', idleDelayMs: 50 }));
    await sleep(500);
    await put(table, 'after', '2');
    expect((await got).keys).toEqual({ pk: 'after' });
  });

  it('should stop polling at once when unsubscribed', async () => {
    const table = await createTable(client, uniqueTable('streamStop'), { stream: true });
    const sender = counting();
    const s = dynamoStream(sender, table, { idleDelayMs: 20 }).subscribe();
    await sleep(500);
    expect(sender.getRecords).toBeGreaterThan(3);
    s.unsubscribe();
    const at = sender.getRecords;
    await sleep(500);
    expect(sender.getRecords).toBe(at);
  });

  it('should fail with stream.notEnabled, saying how to turn it on, for a table without a stream', async () => {
    const table = await createTable(client, uniqueTable('streamNone'));
    const error = await firstValueFrom(dynamoStream(streams, table)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).code).toBe('stream.notEnabled');
    expect((error as StreamError).message).toContain('StreamViewType=NEW_AND_OLD_IMAGES');
  });
});

/** The batches a Streams source hands on within `ms`. */
async function collect(table: string, options: Parameters<typeof dynamoStreamBatches>[2], ms: number): Promise<ChangeBatch[]> {
  const batches: ChangeBatch[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = dynamoStreamBatches(streams, table, options).subscribe({ next: (b) => batches.push(b), error: reject });
    setTimeout(() => {
      s.unsubscribe();
      resolve();
    }, ms);
  });
  return batches;
}
