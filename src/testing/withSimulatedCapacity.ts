import { READ_UNIT_BYTES, WRITE_UNIT_BYTES } from '../internal/constants.js';
import { itemSize, marshalledItemSize } from '../internal/itemSize.js';
import type { DynamoDBSender } from '../types.js';
import {
  batchKind,
  partition,
  proxyClient,
  sendPartition,
  sendThrough,
  throttlingError,
  withUnprocessed,
  type AnyRecord,
  type BatchKind,
  type KeysAndAttributes,
  type SendOptions,
} from './internals.js';

/** Options of {@link withSimulatedCapacity}. */
export interface SimulatedCapacityOptions {
  /** Write capacity units per second, for each table. @default undefined: writes are unlimited */
  writeUnitsPerSecond?: number;
  /** Read capacity units per second, for each table. @default undefined: reads are unlimited */
  readUnitsPerSecond?: number;
  /** Seconds of capacity a table can save up: each bucket holds `unitsPerSecond * burstSeconds` units. @default 1 */
  burstSeconds?: number;
  /** The clock, in milliseconds; pass `() => scheduler.now()` or a fake clock to drive refills. @default Date.now */
  now?: () => number;
}

/** What a {@link withSimulatedCapacity} client has done so far, over all tables. */
export interface SimulatedCapacityStats {
  /** Write units charged for the requests passed on to DynamoDB. */
  writeUnitsConsumed: number;
  /** Read units charged for the keys answered (0.5 per started 4 KB for eventual reads). */
  readUnitsConsumed: number;
  /** Write requests returned in `UnprocessedItems` or refused with a throttling error. */
  writeRequestsThrottled: number;
  /** Get keys returned in `UnprocessedKeys` or refused with a throttling error. */
  readKeysThrottled: number;
  /** Batch calls that threw `ProvisionedThroughputExceededException`. */
  callsThrottled: number;
}

/** The extra method a {@link withSimulatedCapacity} client answers. */
export interface SimulatedCapacityClient {
  /** A snapshot of the client's {@link SimulatedCapacityStats}. */
  simulatedCapacityStats(): SimulatedCapacityStats;
}

const EPSILON = 1e-9;

/** A token bucket: starts full, refills continuously; a request larger than the bucket passes when it is full. */
class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly size: number,
    now: number,
  ) {
    this.tokens = size;
    this.last = now;
  }
  refill(now: number): this {
    if (now > this.last) this.tokens = Math.min(this.size, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = Math.max(this.last, now);
    return this;
  }
  canPay(cost: number): boolean {
    return this.tokens + EPSILON >= Math.min(cost, this.size);
  }
  take(cost: number): void {
    this.tokens -= cost;
  }
}

/** One bucket per table for one direction, refilled to `now` on each look-up; `undefined` when unlimited. */
function bucketsFor(rate: number | undefined, burstSeconds: number): (table: string, now: number) => TokenBucket | undefined {
  const buckets = new Map<string, TokenBucket>();
  return (table, now) => {
    if (rate === undefined) return undefined;
    const bucket = buckets.get(table)?.refill(now) ?? new TokenBucket(rate, rate * burstSeconds, now);
    buckets.set(table, bucket);
    return bucket;
  };
}

/** A key attribute's value as a string, the same for its plain and marshalled forms (S, N or B). */
function keyValue(value: unknown): string {
  if (value instanceof Uint8Array) return `B${Buffer.from(value).toString('base64')}`;
  if (typeof value === 'object' && value !== null) {
    const v = value as AnyRecord;
    if (typeof v.S === 'string') return `S${v.S}`;
    if (typeof v.N === 'string') return `N${v.N}`;
    if (v.B instanceof Uint8Array) return keyValue(v.B);
    if (typeof v.value === 'string') return `N${v.value}`; // lib-dynamodb's NumberValue
  }
  return typeof value === 'string' ? `S${value}` : `N${String(value)}`;
}

/** An item's size by DynamoDB's rules, whether it is marshalled (`AttributeValue`s) or plain. */
function itemBytes(item: AnyRecord, kind: BatchKind): number {
  return kind.marshalled ? marshalledItemSize(item) : itemSize(item);
}

/** Some keys and the items they returned, charged together. */
interface ReadCharge {
  keys: AnyRecord[];
  items: AnyRecord[];
  cost: number;
}

/**
 * The charges for one table's keys, in request order: one per key, its item's read units or the minimum when no
 * item came back. If the items cannot be matched to their keys (a projection left a key attribute out), the whole
 * table is one charge. Keys DynamoDB itself left unprocessed are not charged.
 */
function readCharges(
  entry: KeysAndAttributes,
  items: AnyRecord[],
  unprocessed: AnyRecord[],
  size: (item: AnyRecord) => number,
): ReadCharge[] {
  const names = Object.keys(entry.Keys[0] ?? {}).sort();
  const id = (record: AnyRecord) => names.map((name) => keyValue(record[name])).join('\u0000');
  const units = (item?: AnyRecord) => {
    const whole = Math.max(1, Math.ceil((item ? size(item) : 0) / READ_UNIT_BYTES));
    return entry.ConsistentRead === true ? whole : whole / 2;
  };
  const skipped = new Set(unprocessed.map(id));
  const keys = entry.Keys.filter((key) => !skipped.has(id(key)));
  if (!items.every((item) => names.every((name) => item[name] !== undefined))) {
    const cost = items.reduce((sum, item) => sum + units(item), 0) + Math.max(0, keys.length - items.length) * units();
    return [{ keys, items, cost }];
  }
  const byKey = new Map(items.map((item) => [id(item), item]));
  return keys.map((key) => {
    const item = byKey.get(id(key));
    return { keys: [key], items: item ? [item] : [], cost: units(item) };
  });
}

function checkUnits(name: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  }
}

/**
 * Wraps a DynamoDB client so that BatchWriteItem and BatchGetItem behave like a provisioned table under load: each
 * table has a write and a read token bucket, and what a bucket cannot pay for comes back in `UnprocessedItems` /
 * `UnprocessedKeys`; a call of which nothing can be paid throws `ProvisionedThroughputExceededException`.
 *
 * A put costs one write unit per started KB of item, a delete one unit; requests are served in order while the
 * table's bucket can pay. A BatchGetItem is forwarded whole, then each key costs one read unit per started 4 KB of
 * its item (half for eventual reads; the minimum, 1 or 0.5, for a key with no item), and the items the bucket cannot
 * pay for are dropped from `Responses` and their keys returned unprocessed. Buckets start full and refill
 * continuously by `now`. A request costing more than a whole bucket passes when the bucket is full.
 *
 * The wrapper has the client's type and properties; only `send` changes, and only for the batch commands
 * (`BatchWriteItemCommand`, `BatchGetItemCommand`, and lib-dynamodb's `BatchWriteCommand`, `BatchGetCommand`);
 * every other command goes straight to the client. A batch's `send` returns a Promise. When only part of a batch
 * is forwarded, a new command of the same class is sent (middleware added to the original command instance is not
 * carried over). Wrap the client you hand to your code: `DynamoDBDocumentClient.from(wrapped)` would bypass `send`.
 *
 * ## Example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { withSimulatedCapacity, capacityStats } from 'rxjs-dynamodb/testing';
 *
 * const client = withSimulatedCapacity(new DynamoDBClient({}), { writeUnitsPerSecond: 5 });
 * // … run the pipeline under test with `client` …
 * capacityStats(client); // { writeUnitsConsumed: 250, writeRequestsThrottled: 40, callsThrottled: 3, … }
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or any wrapper with their `send`.
 * @param options Units per second for each direction (`undefined`: unlimited), burst seconds (default 1), clock.
 * @returns A client of the same type whose batch calls are limited, which also answers `simulatedCapacityStats()`.
 */
export function withSimulatedCapacity<C extends DynamoDBSender>(
  client: C,
  options: SimulatedCapacityOptions = {},
): C & SimulatedCapacityClient {
  const { writeUnitsPerSecond, readUnitsPerSecond, burstSeconds = 1, now = Date.now } = options;
  checkUnits('writeUnitsPerSecond', writeUnitsPerSecond);
  checkUnits('readUnitsPerSecond', readUnitsPerSecond);
  checkUnits('burstSeconds', burstSeconds);
  if (typeof now !== 'function') throw new TypeError(`now must be a function returning milliseconds, got ${String(now)}`);
  const writeBucket = bucketsFor(writeUnitsPerSecond, burstSeconds);
  const readBucket = bucketsFor(readUnitsPerSecond, burstSeconds);
  const stats: SimulatedCapacityStats = {
    writeUnitsConsumed: 0,
    readUnitsConsumed: 0,
    writeRequestsThrottled: 0,
    readKeysThrottled: 0,
    callsThrottled: 0,
  };

  async function write(command: AnyRecord, kind: BatchKind, sendOptions?: SendOptions): Promise<unknown> {
    const t = now();
    const full = new Set<string>();
    let units = 0;
    const split = partition(command, kind, (table, request) => {
      const item = request.PutRequest?.Item as AnyRecord | undefined;
      const cost = item ? Math.max(1, Math.ceil(itemBytes(item, kind) / WRITE_UNIT_BYTES)) : 1;
      const bucket = writeBucket(table, t);
      if (full.has(table) || (bucket && !bucket.canPay(cost))) {
        full.add(table); // requests are served in order: once one waits, the rest of the table waits too
        return false;
      }
      bucket?.take(cost);
      units += cost;
      return true;
    });
    stats.writeRequestsThrottled += split.heldCount;
    stats.writeUnitsConsumed += units;
    if (split.forwardCount === 0) {
      stats.callsThrottled += 1;
      throw throttlingError();
    }
    return sendPartition(client, command, kind, split, sendOptions);
  }

  async function read(command: AnyRecord, kind: BatchKind, sendOptions?: SendOptions): Promise<unknown> {
    const requestItems = Object.entries(command.input.RequestItems as Record<string, KeysAndAttributes>);
    const t0 = now();
    if (!requestItems.some(([table, entry]) => readBucket(table, t0)?.canPay(entry.ConsistentRead === true ? 1 : 0.5) ?? true)) {
      stats.callsThrottled += 1;
      stats.readKeysThrottled += requestItems.reduce((sum, [, entry]) => sum + entry.Keys.length, 0);
      throw throttlingError();
    }
    const response = await sendThrough(client, command, sendOptions);
    const size = (item: AnyRecord) => itemBytes(item, kind);
    const t = now();
    const responses: AnyRecord = { ...response.Responses };
    const held: AnyRecord = {};
    let paid = 0;
    let refused = 0;
    let units = 0;
    for (const [table, entry] of requestItems) {
      const bucket = readBucket(table, t);
      const items: AnyRecord[] = response.Responses?.[table] ?? [];
      const dropped = new Set<AnyRecord>();
      const heldKeys: AnyRecord[] = [];
      let stopped = false;
      for (const charge of readCharges(entry, items, response.UnprocessedKeys?.[table]?.Keys ?? [], size)) {
        if (stopped || (bucket && !bucket.canPay(charge.cost))) {
          stopped = true;
          heldKeys.push(...charge.keys);
          for (const item of charge.items) dropped.add(item);
          continue;
        }
        bucket?.take(charge.cost);
        units += charge.cost;
        paid += 1;
      }
      if (heldKeys.length === 0) continue;
      refused += heldKeys.length;
      held[table] = { ...entry, Keys: heldKeys };
      responses[table] = items.filter((item) => !dropped.has(item));
    }
    stats.readKeysThrottled += refused;
    stats.readUnitsConsumed += units;
    if (paid === 0 && refused > 0) {
      stats.callsThrottled += 1;
      throw throttlingError();
    }
    return withUnprocessed({ ...response, Responses: responses }, kind, held);
  }

  return proxyClient(
    client,
    (command) => batchKind(command) !== undefined,
    (command, sendOptions) => {
      const kind = batchKind(command)!;
      return kind.op === 'write' ? write(command, kind, sendOptions) : read(command, kind, sendOptions);
    },
    { simulatedCapacityStats: (): SimulatedCapacityStats => ({ ...stats }) },
  );
}

/**
 * What a client made by {@link withSimulatedCapacity} has done so far: units consumed, requests and keys throttled.
 *
 * ## Example
 * ```ts
 * import { capacityStats } from 'rxjs-dynamodb/testing';
 * expect(capacityStats(client).callsThrottled).toBeGreaterThan(0);
 * ```
 *
 * @param client A client returned by `withSimulatedCapacity`, or any wrapper around one.
 * @returns A snapshot of its {@link SimulatedCapacityStats}.
 */
export function capacityStats(client: object): SimulatedCapacityStats {
  const stats = (client as Partial<SimulatedCapacityClient>).simulatedCapacityStats;
  if (typeof stats !== 'function') throw new TypeError('capacityStats() needs a client made by withSimulatedCapacity()');
  return stats();
}
