import type { ObservableInput } from 'rxjs';
import type { Cluster, Redis } from 'ioredis';
import { capacityScriptRunner, type CapacityScriptMode } from './internal/capacityScript.js';

/**
 * Where a `capacity()` budget keeps its token bucket when several processes or machines share it: each operation is
 * atomic, and every budget that names the same `key` in the same store spends from one bucket. The bucket is the same
 * GCRA as the in-process one: `tat` (when everything reserved so far is paid for) moves on by `units / unitsPerSecond`
 * seconds per reservation, and a reservation may start `burstMs` before it.
 *
 * Methods may return a Promise or an Observable (a fake store in a marble test returns `cold('-(w|)')`).
 */
export interface CapacityStore {
  /** Reserves `units` in bucket `key`; gives how many milliseconds to wait before spending them (0: now). */
  reserve(key: string, units: number, unitsPerSecond: number, burstMs: number): ObservableInput<number>;
  /** Charges more (positive) or gives back (negative) units already reserved in bucket `key`. */
  correct(key: string, units: number, unitsPerSecond: number): ObservableInput<void>;
  /** Charges `units` to bucket `key` from now at the earliest: every budget sharing it waits for them. */
  penalize(key: string, units: number, unitsPerSecond: number): ObservableInput<void>;
}

/** What went wrong with a capacity store. */
export type CapacityStoreErrorCode = 'capacityStore.unavailable';

/** A capacity store failed: Redis did not answer, or answered with an error (in `cause`). */
export class CapacityStoreError extends Error {
  override readonly name = 'CapacityStoreError';

  constructor(
    readonly code: CapacityStoreErrorCode,
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RedisCapacityStoreOptions {
  /** Put before every bucket's key, so that the budgets' keys do not meet other keys of the database. @default 'rxjs-dynamodb:capacity:' */
  prefix?: string;
}

/**
 * A capacity store in Redis: each reserve, correct and penalize is one Lua script, atomic, timed by the Redis
 * server's clock (`TIME`) so that machines whose clocks differ still share one schedule. A bucket is one string key
 * (its `tat` in milliseconds), which expires a minute after it is paid for when nobody spends from it.
 *
 * ## Example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { capacity, dynamoBatchWrite, redisCapacityStore } from 'rxjs-dynamodb';
 * const store = redisCapacityStore(new Redis(process.env.REDIS_URL!));
 * // on every worker: together they write at most 500 units per second
 * const budget = capacity({ unitsPerSecond: 500, store, key: 'backfill-2026-11' });
 * items$.pipe(dynamoBatchWrite(client, 'Tickets', { capacity: budget })).subscribe();
 * ```
 *
 * @param redis An ioredis client (or cluster) the store may use; the store does not close it.
 * @param options `prefix`.
 * @returns The store, to pass to `capacity({ store })`.
 * @see capacity
 */
export function redisCapacityStore(redis: Redis | Cluster, options: RedisCapacityStoreOptions = {}): CapacityStore {
  const { prefix = 'rxjs-dynamodb:capacity:' } = options;
  if (typeof prefix !== 'string') throw new TypeError(`redisCapacityStore prefix must be a string, got ${String(prefix)}`);
  const run = capacityScriptRunner(redis);
  const call = async (key: string, mode: CapacityScriptMode, units: number, unitsPerSecond: number, burstMs: number) => {
    try {
      return (await run(prefix + key, mode, units, unitsPerSecond, burstMs)).wait;
    } catch (cause) {
      throw new CapacityStoreError(
        'capacityStore.unavailable',
        key,
        `The capacity budget's Redis could not ${mode} ${units} units for key ${prefix + key}: ${String((cause as Error)?.message ?? cause)}. Check that Redis is reachable.`,
        { cause },
      );
    }
  };
  return {
    reserve: (key, units, unitsPerSecond, burstMs) => call(key, 'reserve', units, unitsPerSecond, burstMs),
    correct: async (key, units, unitsPerSecond) => void (await call(key, 'correct', units, unitsPerSecond, 0)),
    penalize: async (key, units, unitsPerSecond) => void (await call(key, 'penalize', units, unitsPerSecond, 0)),
  };
}
