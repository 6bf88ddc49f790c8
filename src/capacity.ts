import { DescribeTableCommand, type DescribeTableCommandOutput } from '@aws-sdk/client-dynamodb';
import { concatMap, defer, map, type Observable, of, type SchedulerLike, shareReplay, timer } from 'rxjs';
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
   * `unitsPerSecond` for those.
   */
  fractionOfProvisioned?: number;
  /** Seconds of unspent budget that may be spent at once. @default 1 */
  burstSeconds?: number;
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
  /** Units spent so far, corrections included. */
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
 * @param options `unitsPerSecond`, or `fractionOfProvisioned` (0 < f <= 1); `burstSeconds`.
 * @returns The budget.
 */
export function capacity(options: CapacityOptions): CapacityBudget {
  const { unitsPerSecond, fractionOfProvisioned, burstSeconds = 1 } = options;
  if ((unitsPerSecond === undefined) === (fractionOfProvisioned === undefined))
    throw new RangeError(`capacity needs exactly one of unitsPerSecond or fractionOfProvisioned, got ${JSON.stringify(options)}`);
  if (unitsPerSecond !== undefined && !(unitsPerSecond > 0 && Number.isFinite(unitsPerSecond)))
    throw new RangeError(`capacity.unitsPerSecond must be a number > 0, got ${unitsPerSecond}`);
  if (fractionOfProvisioned !== undefined && !(fractionOfProvisioned > 0 && fractionOfProvisioned <= 1))
    throw new RangeError(`capacity.fractionOfProvisioned must be in (0, 1], got ${fractionOfProvisioned}`);
  if (!(burstSeconds >= 0 && Number.isFinite(burstSeconds)))
    throw new RangeError(`capacity.burstSeconds must be a number >= 0, got ${burstSeconds}`);

  let rate = unitsPerSecond;
  let resolving: Observable<number> | undefined;
  let gcra: Gcra | undefined;
  let spent = 0;

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
    spend: (units, use) =>
      rateFor(use).pipe(
        concatMap((r) =>
          defer(() => {
            gcra ??= new Gcra(r, burstSeconds * 1000);
            const wait = gcra.reserve(units, use.scheduler.now());
            spent += units;
            return wait > 0 ? timer(wait, use.scheduler).pipe(map(() => undefined)) : of(undefined);
          }),
        ),
      ),
    correct: (units) => {
      spent += units;
      gcra?.correct(units);
    },
  };
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
