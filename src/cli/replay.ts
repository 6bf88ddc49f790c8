/**
 * What `migrate` does with the changes of the source table's stream: each record becomes the write that leaves the
 * target as the source is after that change — a put of the new image (through the transform), a delete of the key
 * the old image had in the target. Within one batch of the stream only the last write per target key is kept (every
 * write is a whole item or a delete, so the last one is what the target must end with), which also keeps one key
 * from appearing twice in a BatchWriteItem. Batches are applied one after another, in the stream's order, so a
 * change is never applied before an older one of the same key.
 */
import type { ChangeRecord, Item, Key, WriteRequest } from '../index.js';
import { storeKey } from './checkpoint.js';
import { type Transform, transformedItem } from './scanWrite.js';

/** How a change record became writes, or why it did not. */
export interface Replayed {
  /** The writes, by target key, last one winning. */
  writes: Map<string, WriteRequest>;
  /** Records older than the copy (their effect was copied already): not replayed. */
  older: number;
  /** Records the transform dropped (no write for their new image). */
  dropped: number;
  /** Records the transform failed on, with the error. */
  failed: Array<{ record: ChangeRecord; error: unknown }>;
}

/** The key attributes `names` of `item`, or an error naming the one it lacks. */
export function keyIn(item: Item, names: string[]): Key {
  const key: Key = {};
  for (const name of names) {
    if (item[name] === undefined) throw new TypeError(`the item has no key attribute ${name}`);
    key[name] = item[name] as Key[string];
  }
  return key;
}

const identity = (key: Key) => JSON.stringify(storeKey(key));

const through = async (transform: Transform | undefined, item: Item): Promise<Item | undefined> =>
  transform ? transformedItem(await transform(item)) : item;

/**
 * The writes for `records` (one batch of the stream, in order) into `table` keyed by `names`. Records made before
 * `since` (ms; the copy's start, less a margin for clocks and the stream's rounding) are counted as older and skipped.
 */
export async function replayWrites(
  records: ChangeRecord[],
  table: string,
  names: string[],
  transform: Transform | undefined,
  since: number | undefined,
): Promise<Replayed> {
  const out: Replayed = { writes: new Map(), older: 0, dropped: 0, failed: [] };
  for (const record of records) {
    if (since !== undefined && record.approximateCreationTime && record.approximateCreationTime.getTime() < since) {
      out.older++;
      continue;
    }
    try {
      const after = record.newImage ? await through(transform, record.newImage) : undefined;
      // the key the item had in the target before this change: from the old image, or (no transform) the record's keys
      const before = record.oldImage ? await through(transform, record.oldImage) : transform ? undefined : record.keys;
      const oldKey = before ? keyIn(before, names) : undefined;
      const newKey = after ? keyIn(after, names) : undefined;
      if (oldKey && (!newKey || identity(oldKey) !== identity(newKey))) {
        out.writes.delete(identity(oldKey));
        out.writes.set(identity(oldKey), { table, delete: oldKey });
      }
      if (record.eventName !== 'REMOVE') {
        if (after && newKey) {
          out.writes.delete(identity(newKey));
          out.writes.set(identity(newKey), { table, put: after });
        } else out.dropped++;
      }
    } catch (error) {
      out.failed.push({ record, error });
    }
  }
  return out;
}
