import { DescribeTableCommand, type DescribeTableCommandOutput } from '@aws-sdk/client-dynamodb';
import {
  concatMap,
  defer,
  first,
  from,
  map,
  type Observable,
  type ObservableInput,
  of,
  type SchedulerLike,
  shareReplay,
  throwError,
  timer,
} from 'rxjs';
import type { CapacityStore, RateCut } from './capacityStore.js';
import { sendCommand } from './internal/client.js';
import type { RateController } from './internal/engine/controller.js';
import type { DynamoDBSender } from './types.js';

/** How fast a budget may spend DynamoDB capacity units. */
export interface CapacityOptions {
  /** Capacity units per second this budget may spend. */
  unitsPerSecond?: number;
  /**
   * Or: this fraction of the table's provisioned units (write units for writes, read units for reads), read once
   * with DescribeTable. It does not apply to on-demand tables, which have no provisioned capacity: give
   * `unitsPerSecond` for those. With a `store`, each process reads it once for itself: workers that read the same
   * table get the same rate.
   */
  fractionOfProvisioned?: number;
  /** Seconds of unspent budget that may be spent at once (with a `store`: one burst for all who share it). @default 1 */
  burstSeconds?: number;
  /**
   * Where the token bucket is kept, to share one budget between processes and machines (`redisCapacityStore(redis)`):
   * every budget with the same `key` in the same store spends from one bucket, so N workers together stay within
   * `unitsPerSecond` however many join or leave — give them all the same rate. A throttle any of them meets is charged
   * to the shared bucket (see {@link CapacityBudget.throttled}). @default none: the bucket is in this process
   */
  store?: CapacityStore;
  /**
   * With a `store`: the name of the shared bucket. Budgets that should not share (two jobs on one Redis) need their
   * own keys; a job's id is a good one. It is not derived from the tables a budget is used on, as workers that
   * happened to use a budget on different tables first would then silently not share it. @default 'default'
   */
  key?: string;
  /**
   * With a `store`: how a throttle that any budget sharing the bucket meets lowers the shared rate, so that every
   * worker slows down (the adaptive controllers of `concurrency: 'adaptive'` operators learn only in their own
   * process; this is the decrease they all share). The rate in force is multiplied by `factor`, then climbs back
   * linearly to `unitsPerSecond` over `recoverSeconds`; throttles within `holdSeconds` of a cut (the same wave, seen
   * by many workers) do not cut again. `false`: a throttle is only fined (see {@link CapacityBudget.throttled}).
   * @default { factor: 0.7, recoverSeconds: 10, holdSeconds: 1 }
   */
  throttleCut?: { factor?: number; recoverSeconds?: number; holdSeconds?: number } | false;
}

/**
 * The generic cell rate algorithm (virtual scheduling) in capacity units: `tat` is when everything reserved so far is
 * paid for. A reservation may start `burstMs` before that, and moves `tat` on by its own cost at `rate` per second.
 */
export class Gcra {
  private tat = -Infinity;

  constructor(
    public rate: number,
    private readonly burstMs: number,
  ) {}

  /** Reserves `units`; returns how long to wait before spending them (0: now). */
  reserve(units: number, now: number): number {
    this.tat = Math.max(this.tat, now);
    const wait = Math.max(0, this.tat - this.burstMs - now);
    this.tat += (units / this.rate) * 1000;
    return wait;
  }

  /** Charges more (positive) or gives back (negative) units already reserved. */
  correct(units: number): void {
    this.tat += (units / this.rate) * 1000;
  }

  /** When everything reserved so far is paid for (`-Infinity` before the first reservation). */
  get paidUntil(): number {
    return this.tat;
  }

  /** A new rate from `now`: what is reserved and not yet paid for is paid at the new rate. */
  setRate(rate: number, now: number): void {
    const owed = this.rate === Infinity ? 0 : (Math.max(0, this.tat - now) * this.rate) / 1000;
    this.rate = rate;
    this.tat = now + (rate === Infinity ? 0 : (owed / rate) * 1000);
  }
}

/** What a spend is for: the budget needs it only to read the table's provisioned capacity. */
export interface CapacityUse {
  client: DynamoDBSender;
  table: string;
  kind: 'read' | 'write';
  scheduler: SchedulerLike;
}

/**
 * A token bucket in DynamoDB's own units — a write costs one unit per started KB of the item, a strongly consistent
 * read one per started 4 KB, an eventually consistent read half that — shared by every operator it is passed to.
 */
export interface CapacityBudget {
  readonly options: Readonly<CapacityOptions>;
  /** Emits (then completes) when `units` may be spent; spends them. Turns are taken in the order asked. */
  spend(units: number, use: CapacityUse): Observable<void>;
  /** Charges more (positive) or gives back (negative) once DynamoDB reports what a call really consumed. */
  correct(units: number): void;
  /**
   * DynamoDB throttled `units` of a call (returned them unprocessed, or refused the call with a throttling error). With
   * a `store`, the shared bucket is charged twice their number, from now at the earliest: the refused attempt as if it
   * had been spent (the correction gave it back) and as much again as a fine, so that every worker sharing the budget
   * waits for it (a fine smaller than the burst first uses up the burst), and the shared rate is cut (`throttleCut`).
   * Without a store nothing changes: within one process, `concurrency: 'adaptive'` operators that share a budget share
   * their rate controllers instead.
   */
  throttled?(units: number): void;
  /** Units charged as fines for throttling (with a `store`). */
  readonly penalized?: number;
  /** Units spent so far, corrections included (with a `store`: by this budget, in this process). */
  readonly spent: number;
  /** The rate in force, once known. */
  readonly unitsPerSecond: number | undefined;
}

/**
 * Creates a capacity budget to pass to one or more operators and sources (`capacity: budget`): together they spend
 * at most `unitsPerSecond` DynamoDB capacity units per second (plus a burst of `burstSeconds` of unspent units), so a
 * bulk job leaves the rest of a table's capacity to the application that shares it.
 *
 * ```
 * calls wanted:  (abcd)------
 * > capacity({ unitsPerSecond: 50 }), 25 units per call, burstSeconds 0
 * calls made:    a---b---c---d        (one every 500 ms)
 * ```
 *
 * ## Example
 * ```ts
 * import { capacity, dynamoBatchWrite } from 'rxjs-dynamodb';
 * const half = capacity({ fractionOfProvisioned: 0.5 }); // half the table's provisioned write units
 * imports$.pipe(dynamoBatchWrite(client, 'Tickets', { capacity: half })).subscribe();
 * fixes$.pipe(dynamoBatchWrite(client, 'Tickets', { capacity: half })).subscribe(); // shares the same half
 * ```
 *
 * Shared by many processes or machines, through Redis (`redisCapacityStore`): the same code runs on every
 * worker, and together they spend at most 500 units per second, however many of them run.
 * ```ts
 * import { Redis } from 'ioredis';
 * import { capacity, redisCapacityStore } from 'rxjs-dynamodb';
 * const budget = capacity({ unitsPerSecond: 500, store: redisCapacityStore(new Redis(url)), key: jobId });
 * ```
 *
 * @param options `unitsPerSecond`, or `fractionOfProvisioned` (0 < f <= 1); `burstSeconds`; `store` and `key` to
 * share the budget between processes.
 * @returns The budget.
 */
export function capacity(options: CapacityOptions): CapacityBudget {
  const { unitsPerSecond, fractionOfProvisioned, burstSeconds = 1, store, key = 'default', throttleCut = {} } = options;
  if ((unitsPerSecond === undefined) === (fractionOfProvisioned === undefined))
    throw new RangeError(
      `capacity needs exactly one of unitsPerSecond or fractionOfProvisioned, got ${JSON.stringify({ ...options, store: store && '[store]' })}`,
    );
  if (unitsPerSecond !== undefined && !(unitsPerSecond > 0 && Number.isFinite(unitsPerSecond)))
    throw new RangeError(`capacity.unitsPerSecond must be a number > 0, got ${unitsPerSecond}`);
  if (fractionOfProvisioned !== undefined && !(fractionOfProvisioned > 0 && fractionOfProvisioned <= 1))
    throw new RangeError(`capacity.fractionOfProvisioned must be in (0, 1], got ${fractionOfProvisioned}`);
  if (!(burstSeconds >= 0 && Number.isFinite(burstSeconds)))
    throw new RangeError(`capacity.burstSeconds must be a number >= 0, got ${burstSeconds}`);
  if (
    store !== undefined &&
    !['reserve', 'correct', 'penalize'].every((m) => typeof (store as unknown as Record<string, unknown>)[m] === 'function')
  )
    throw new TypeError(`capacity.store must have reserve, correct and penalize methods (redisCapacityStore(redis) makes one)`);
  if (typeof key !== 'string' || key === '') throw new RangeError(`capacity.key must be a non-empty string, got ${JSON.stringify(key)}`);
  const cut = throttleCut === false ? undefined : rateCut(throttleCut);

  let rate = unitsPerSecond;
  let resolving: Observable<number> | undefined;
  let gcra: Gcra | undefined;
  let spent = 0;
  let penalized = 0;
  /** A correction or fine the store failed to record: the next spend fails with it. */
  let storeFailure: { error: unknown } | undefined;
  const record = (work: ObservableInput<void>) => from(work).subscribe({ error: (error: unknown) => (storeFailure ??= { error }) });

  const rateFor = (use: CapacityUse): Observable<number> => {
    if (rate !== undefined) return of(rate);
    resolving ??= sendCommand<DescribeTableCommandOutput>(use.client, new DescribeTableCommand({ TableName: use.table })).pipe(
      map((output) => {
        const table = output.Table;
        const provisioned =
          use.kind === 'write' ? table?.ProvisionedThroughput?.WriteCapacityUnits : table?.ProvisionedThroughput?.ReadCapacityUnits;
        if (table?.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST' || !provisioned) {
          throw new RangeError(
            `Table ${use.table} is on-demand (no provisioned ${use.kind} capacity), so fractionOfProvisioned does not apply: give capacity: { unitsPerSecond: N } instead.`,
          );
        }
        rate = provisioned * fractionOfProvisioned!;
        return rate;
      }),
      shareReplay({ bufferSize: 1, refCount: false }),
    );
    return resolving;
  };

  return {
    options: { ...options },
    get spent() {
      return spent;
    },
    get unitsPerSecond() {
      return rate;
    },
    get penalized() {
      return penalized;
    },
    spend: (units, use) =>
      rateFor(use).pipe(
        concatMap((r) =>
          defer(() => {
            if (storeFailure) {
              const { error } = storeFailure;
              storeFailure = undefined;
              return throwError(() => error);
            }
            spent += units;
            // with a store, the wait it gives goes through the scheduler too (exact in marble tests with a fake store)
            if (store) return from(store.reserve(key, units, r, burstSeconds * 1000)).pipe(first());
            gcra ??= new Gcra(r, burstSeconds * 1000);
            return of(gcra.reserve(units, use.scheduler.now()));
          }),
        ),
        concatMap((wait) => (wait > 0 ? timer(wait, use.scheduler).pipe(map(() => undefined)) : of(undefined))),
      ),
    correct: (units) => {
      spent += units;
      if (!store) return gcra?.correct(units);
      if (rate !== undefined && units !== 0) record(store.correct(key, units, rate));
    },
    throttled: (units) => {
      if (!store || rate === undefined || !(units > 0)) return;
      penalized += 2 * units;
      record(store.penalize(key, 2 * units, rate, cut));
    },
  };
}

/** A `throttleCut` option checked, in milliseconds. */
function rateCut({
  factor = 0.7,
  recoverSeconds = 10,
  holdSeconds = 1,
}: Exclude<CapacityOptions['throttleCut'], false | undefined>): RateCut {
  if (!(factor > 0 && factor < 1)) throw new RangeError(`capacity.throttleCut.factor must be in (0, 1), got ${factor}`);
  if (!(recoverSeconds > 0 && Number.isFinite(recoverSeconds)))
    throw new RangeError(`capacity.throttleCut.recoverSeconds must be a number > 0, got ${recoverSeconds}`);
  if (!(holdSeconds >= 0 && Number.isFinite(holdSeconds)))
    throw new RangeError(`capacity.throttleCut.holdSeconds must be a number >= 0, got ${holdSeconds}`);
  return { factor, recoverMs: recoverSeconds * 1000, holdMs: holdSeconds * 1000 };
}

/** The budget an operator spends: the handle it was given, or one of its own made from options. */
export function toBudget(option: CapacityBudget | CapacityOptions | undefined): CapacityBudget | undefined {
  if (option === undefined) return undefined;
  return typeof (option as CapacityBudget).spend === 'function' ? (option as CapacityBudget) : capacity(option as CapacityOptions);
}

/** Capacity units a response says were consumed, or undefined when it does not say. */
export function unitsConsumed(consumed: Array<{ CapacityUnits?: number }> | undefined): number | undefined {
  if (!consumed || consumed.length === 0) return undefined;
  return consumed.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
}

const shared = new WeakMap<CapacityBudget, Map<string, RateController>>();

/** The rate controllers of the operators that share a budget, one per table and direction (`concurrency: 'adaptive'`). */
export function controllersOf(budget: CapacityBudget): Map<string, RateController> {
  let controllers = shared.get(budget);
  if (!controllers) shared.set(budget, (controllers = new Map()));
  return controllers;
}
