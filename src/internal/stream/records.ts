/** DynamoDB Streams records as the Streams source hands them on: plain JavaScript, exact, in camelCase. */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Item, Key } from '../../types.js';
import type { Unmarshal } from '../unmarshal.js';
import type { StreamCheckpoint } from './shardBook.js';

/** One change of one item. */
export interface ChangeRecord<T extends object = Item> {
  /** `INSERT` (a new item), `MODIFY` (an item changed), `REMOVE` (an item deleted, by a call or by TTL). */
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The item's key. */
  keys: Key;
  /** The item after the change (with a `NEW_IMAGE` or `NEW_AND_OLD_IMAGES` stream; absent on `REMOVE`). */
  newImage?: T;
  /** The item before the change (with an `OLD_IMAGE` or `NEW_AND_OLD_IMAGES` stream; absent on `INSERT`). */
  oldImage?: T;
  /** The record's place in its shard: digits, increasing within the shard (compare as numbers, not as text). */
  sequenceNumber: string;
  /** When the change was made, to DynamoDB's precision (the second; DynamoDB Local: the minute). */
  approximateCreationTime?: Date;
  /** The shard it was read from. */
  shardId: string;
  /** Set on a REMOVE made by Time to Live: `{ type: 'Service', principalId: 'dynamodb.amazonaws.com' }`. */
  userIdentity?: { type?: string; principalId?: string };
}

/** What one GetRecords call of one shard gave, with the checkpoint that covers it and every batch before it. */
export interface ChangeBatch<T extends object = Item> {
  shardId: string;
  /** The records, in the shard's order (empty when the batch says only that the shard ended). */
  records: ChangeRecord<T>[];
  /** The shard was read to its end: its children come next. */
  shardEnded: boolean;
  /**
   * Every shard being read has just answered with nothing new: the reader has handed on all the stream held when it
   * last looked. Said once, by an empty batch, each time the reader catches up (after records, it is `false`).
   */
  caughtUp: boolean;
  /** Save it once this batch, and those before it, are handled; pass it as `checkpoint` to go on from there. */
  checkpoint: StreamCheckpoint;
}

/** A record as the Streams API gives it. */
export interface WireRecord {
  eventName?: string;
  dynamodb?: {
    Keys?: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
    OldImage?: Record<string, AttributeValue>;
    SequenceNumber?: string;
    ApproximateCreationDateTime?: Date;
  };
  userIdentity?: { Type?: string; PrincipalId?: string };
}

/** A wire record as a {@link ChangeRecord}; the images go through `unmarshal` (exact numbers, sets, binary). */
export function toChangeRecord<T extends object>(record: WireRecord, shardId: string, unmarshal: Unmarshal): ChangeRecord<T> {
  const d = record.dynamodb ?? {};
  const out: ChangeRecord<T> = {
    eventName: record.eventName as ChangeRecord['eventName'],
    keys: unmarshal(d.Keys ?? {}),
    sequenceNumber: d.SequenceNumber ?? '',
    shardId,
  };
  if (d.NewImage) out.newImage = unmarshal(d.NewImage) as T;
  if (d.OldImage) out.oldImage = unmarshal(d.OldImage) as T;
  if (d.ApproximateCreationDateTime) out.approximateCreationTime = new Date(d.ApproximateCreationDateTime);
  if (record.userIdentity)
    out.userIdentity = {
      ...(record.userIdentity.Type !== undefined ? { type: record.userIdentity.Type } : {}),
      ...(record.userIdentity.PrincipalId !== undefined ? { principalId: record.userIdentity.PrincipalId } : {}),
    };
  return out;
}
