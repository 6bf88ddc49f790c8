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
  /**
   * Buckets start empty, as on a table other traffic keeps busy (its burst already spent), instead of full.
   * @default false
   */
  startEmpty?: boolean;
  /**
   * One hot partition: the share of keys (by a hash of the partition key, so a key is hot or not for good) that also
   * pay a partition bucket of this many units per second, in both directions — as DynamoDB limits each partition to
   * 1,000 write units (3,000 read units) a second whatever the table has. `keyAttribute` names the partition key.
   * @default none (`keyAttribute` defaults to `'pk'`)
   */
  hotPartition?: { share: number; unitsPerSecond: number; keyAttribute?: string };
  /** Called for the units each request (or scan page) was charged, when it was charged: to chart a run. @default none */
  onConsume?: (event: { table: string; kind: 'read' | 'write'; units: number; at: number; hot: boolean }) => void;
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

/** The extra methods a {@link withSimulatedCapacity} client answers. */
export interface SimulatedCapacityClient {
  /** A snapshot of the client's {@link SimulatedCapacityStats}. */
  simulatedCapacityStats(): SimulatedCapacityStats;
  /** Changes the capacity of every table from now on, as an operator changing the provisioned units would. */
  setSimulatedCapacity(rates: { writeUnitsPerSecond?: number; readUnitsPerSecond?: number }): void;
}

const EPSILON = 1e-9;

/** A token bucket: refills continuously; a request larger than the bucket passes when it is full. */
class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    public rate: number,
    private readonly burstSeconds: number,
    now: number,
    empty: boolean,
  ) {
    this.tokens = empty ? 0 : this.size;
    this.last = now;
  }
  get size(): number {
    return this.rate * this.burstSeconds;
  }
  refill(now: number): this {
    if (now > this.last) this.tokens = Math.min(this.size, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = Math.max(this.last, now);
    return this;
  }
  canPay(cost: number): boolean {
    return this.tokens + EPSILON >= Math.min(cost, this.size);
  }
  /** Takes `cost` (a scan page may leave the bucket in debt: it is charged after it was read). */
  take(cost: number): void {
    this.tokens -= cost;
  }
}

/** The buckets of one direction: one per table (and one per table's hot partition), at a rate that may change. */
class Buckets {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(
    public rate: number | undefined,
    private readonly burstSeconds: number,
    private readonly empty: boolean,
  ) {}
  /** The bucket of `name`, refilled to `now`; `undefined` when unlimited. */
  get(name: string, now: number, rate = this.rate): TokenBucket | undefined {
    if (rate === undefined) return undefined;
    let bucket = this.buckets.get(name)?.refill(now);
    if (!bucket) this.buckets.set(name, (bucket = new TokenBucket(rate, this.burstSeconds, now, this.empty)));
    return bucket;
  }
  /** A new rate for every table from now on (the hot partitions keep theirs). */
  setRate(rate: number, now: number): void {
    this.rate = rate;
    for (const [name, bucket] of this.buckets) if (!name.endsWith('\u0000hot')) bucket.refill(now).rate = rate;
  }
}

const TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);
/** Whether an item is AttributeValues (a low-level command's) rather than plain values (lib-dynamodb's). */
const isMarshalled = (item: AnyRecord) =>
  Object.values(item).every((v) => typeof v === 'object' && v !== null && Object.keys(v).length === 1 && TYPES.has(Object.keys(v)[0]!));

/** FNV-1a of a string, as a fraction in [0, 1): which keys are hot. */
function hashFraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h / 2 ** 32;
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
 * pay for are dropped from `Responses` and their keys returned unprocessed. With `readUnitsPerSecond`, Scan and Query
 * pages are limited too: refused with the throttling error while the bucket is empty, else charged what they read.
 * Buckets start full (or empty, with `startEmpty`) and refill continuously by `now`; `setSimulatedCapacity` changes
 * their rate mid-run; `hotPartition` adds a partition bucket that a share of the keys also pays. A request costing
 * more than a whole bucket passes when the bucket is full.
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
  const {
    writeUnitsPerSecond,
    readUnitsPerSecond,
    burstSeconds = 1,
    now = Date.now,
    startEmpty = false,
    hotPartition,
    onConsume,
  } = options;
  checkUnits('writeUnitsPerSecond', writeUnitsPerSecond);
  checkUnits('readUnitsPerSecond', readUnitsPerSecond);
  checkUnits('burstSeconds', burstSeconds);
  if (hotPartition) {
    if (!(hotPartition.share > 0 && hotPartition.share <= 1))
      throw new RangeError(`hotPartition.share must be in (0, 1], got ${hotPartition.share}`);
    checkUnits('hotPartition.unitsPerSecond', hotPartition.unitsPerSecond);
  }
  if (typeof now !== 'function') throw new TypeError(`now must be a function returning milliseconds, got ${String(now)}`);
  const buckets = {
    write: new Buckets(writeUnitsPerSecond, burstSeconds, startEmpty),
    read: new Buckets(readUnitsPerSecond, burstSeconds, startEmpty),
  };
  const stats: SimulatedCapacityStats = {
    writeUnitsConsumed: 0,
    readUnitsConsumed: 0,
    writeRequestsThrottled: 0,
    readKeysThrottled: 0,
    callsThrottled: 0,
  };
  const keyAttribute = hotPartition?.keyAttribute ?? 'pk';
  const isHot = (record: AnyRecord | undefined) =>
    hotPartition !== undefined &&
    record !== undefined &&
    record[keyAttribute] !== undefined &&
    hashFraction(keyValue(record[keyAttribute])) < hotPartition.share;
  /**
   * Charges one request of `table` now, if its table's bucket (and its hot partition's) can pay; requests of one
   * partition are served in order, so once one waits, the later ones of that partition wait too.
   */
  const charger = (kind: 'read' | 'write', t: number) => {
    const waiting = new Set<string>();
    return (table: string, record: AnyRecord | undefined, cost: number): boolean => {
      const hot = isHot(record);
      const partition = `${table}\u0000${hot ? 'hot' : 'rest'}`;
      const bucket = buckets[kind].get(table, t);
      const hotBucket = hot ? buckets[kind].get(`${table}\u0000hot`, t, hotPartition!.unitsPerSecond) : undefined;
      if (waiting.has(partition) || (bucket && !bucket.canPay(cost)) || (hotBucket && !hotBucket.canPay(cost))) {
        waiting.add(partition);
        return false;
      }
      bucket?.take(cost);
      hotBucket?.take(cost);
      onConsume?.({ table, kind, units: cost, at: t, hot });
      return true;
    };
  };

  async function write(command: AnyRecord, kind: BatchKind, sendOptions?: SendOptions): Promise<unknown> {
    const charge = charger('write', now());
    let units = 0;
    const split = partition(command, kind, (table, request) => {
      const item = request.PutRequest?.Item as AnyRecord | undefined;
      const cost = item ? Math.max(1, Math.ceil(itemBytes(item, kind) / WRITE_UNIT_BYTES)) : 1;
      const paid = charge(table, item ?? (request.DeleteRequest?.Key as AnyRecord | undefined), cost);
      if (paid) units += cost;
      return paid;
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
    if (!requestItems.some(([table, entry]) => buckets.read.get(table, t0)?.canPay(entry.ConsistentRead === true ? 1 : 0.5) ?? true)) {
      stats.callsThrottled += 1;
      stats.readKeysThrottled += requestItems.reduce((sum, [, entry]) => sum + entry.Keys.length, 0);
      throw throttlingError();
    }
    const response = await sendThrough(client, command, sendOptions);
    const size = (item: AnyRecord) => itemBytes(item, kind);
    const charge = charger('read', now());
    const responses: AnyRecord = { ...response.Responses };
    const held: AnyRecord = {};
    let paid = 0;
    let refused = 0;
    let units = 0;
    for (const [table, entry] of requestItems) {
      const items: AnyRecord[] = response.Responses?.[table] ?? [];
      const dropped = new Set<AnyRecord>();
      const heldKeys: AnyRecord[] = [];
      for (const c of readCharges(entry, items, response.UnprocessedKeys?.[table]?.Keys ?? [], size)) {
        if (charge(table, c.keys[0], c.cost)) {
          units += c.cost;
          paid += 1;
          continue;
        }
        heldKeys.push(...c.keys);
        for (const item of c.items) dropped.add(item);
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

  /**
   * A Scan or Query page: refused with a throttling error while its table's read bucket is empty, else read and
   * charged what it read (one unit per started 4 KB of the page, half for eventual reads), which may leave the bucket
   * in debt, as DynamoDB charges a page after reading it.
   */
  async function page(command: AnyRecord, sendOptions?: SendOptions): Promise<unknown> {
    const table = command.input.TableName as string;
    const bucket = buckets.read.get(table, now());
    if (bucket && !bucket.canPay(0.5)) {
      stats.callsThrottled += 1;
      throw throttlingError();
    }
    const response = await sendThrough(client, command, sendOptions);
    const bytes = ((response.Items ?? []) as AnyRecord[]).reduce(
      (sum, item) => sum + (isMarshalled(item) ? marshalledItemSize(item) : itemSize(item)),
      0,
    );
    const whole = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
    const cost = command.input.ConsistentRead === true ? whole : whole / 2;
    buckets.read.get(table, now())?.take(cost);
    stats.readUnitsConsumed += cost;
    onConsume?.({ table, kind: 'read', units: cost, at: now(), hot: false });
    return response;
  }

  const isPage = (command: unknown) => {
    const name = (command as AnyRecord | undefined)?.constructor?.name;
    return readUnitsPerSecond !== undefined && (name === 'ScanCommand' || name === 'QueryCommand');
  };
  return proxyClient(
    client,
    (command) => batchKind(command) !== undefined || isPage(command),
    (command, sendOptions) => {
      if (isPage(command)) return page(command, sendOptions);
      const kind = batchKind(command)!;
      return kind.op === 'write' ? write(command, kind, sendOptions) : read(command, kind, sendOptions);
    },
    {
      simulatedCapacityStats: (): SimulatedCapacityStats => ({ ...stats }),
      setSimulatedCapacity: (rates: { writeUnitsPerSecond?: number; readUnitsPerSecond?: number }) => {
        checkUnits('writeUnitsPerSecond', rates.writeUnitsPerSecond);
        checkUnits('readUnitsPerSecond', rates.readUnitsPerSecond);
        if (rates.writeUnitsPerSecond !== undefined) buckets.write.setRate(rates.writeUnitsPerSecond, now());
        if (rates.readUnitsPerSecond !== undefined) buckets.read.setRate(rates.readUnitsPerSecond, now());
      },
    },
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
