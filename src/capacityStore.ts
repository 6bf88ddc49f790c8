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
  /**
   * Charges `units` to bucket `key` from now at the earliest: every budget sharing it waits for them. With `cut`, also
   * lowers the bucket's rate to `cut.factor` times the rate in force, climbing back to `unitsPerSecond` over
   * `cut.recoverMs` — unless it was cut less than `cut.holdMs` ago — so every budget sharing it spends more slowly.
   */
  penalize(key: string, units: number, unitsPerSecond: number, cut?: RateCut): ObservableInput<void>;
}

/** How a throttle cuts a shared bucket's rate (`capacity({ throttleCut })`). */
export interface RateCut {
  /** The rate in force is multiplied by this (0 < factor < 1). */
  factor: number;
  /** Milliseconds to climb back, linearly, to the full rate. */
  recoverMs: number;
  /** A cut less than this many milliseconds old is not cut again. */
  holdMs: number;
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
 * server's clock (`TIME`) so that machines whose clocks differ still share one schedule. A bucket is one hash key
 * (its `tat` in milliseconds, and the last throttle cut of its rate), which expires a minute after it is paid for
 * and its rate is back to full, when nobody spends from it.
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
  const call = async (key: string, mode: CapacityScriptMode, units: number, unitsPerSecond: number, burstMs: number, cut?: RateCut) => {
    try {
      return (await run(prefix + key, mode, units, unitsPerSecond, burstMs, cut)).wait;
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
    penalize: async (key, units, unitsPerSecond, cut) => void (await call(key, 'penalize', units, unitsPerSecond, 0, cut)),
  };
}
