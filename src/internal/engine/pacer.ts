/**
 * How fast an engine may call: calls in flight at most, and — with `concurrency: 'adaptive'` — a rate per table in
 * capacity units per second, found by the {@link RateController} from what DynamoDB delivers; with a `capacity()`
 * budget, never more than the budget either. A budget shared by several operators shares their controllers too, so
 * that a throttle one of them meets slows all of them.
 */
import { type Observable, of, type SchedulerLike, concatMap, defer, map, timer } from 'rxjs';
import type { CapacityBudget, CapacityUse } from '../../capacity.js';
import { controllersOf } from '../../capacity.js';
import { type CallSample, controllerIn, type RateController } from './controller.js';

export class Pacer {
  /** Calls in flight allowed now. */
  readonly limit: number;
  /** A rate controller drives each table (`concurrency: 'adaptive'`). */
  readonly adaptive: boolean;
  private readonly controllers: Map<string, RateController> | undefined;

  constructor(
    concurrency: number | 'adaptive',
    maxConcurrency: number,
    private readonly scheduler: SchedulerLike,
    private readonly budget: CapacityBudget | undefined,
  ) {
    const adaptive = (this.adaptive = concurrency === 'adaptive');
    this.limit = adaptive ? maxConcurrency : concurrency;
    this.controllers = adaptive ? (budget ? controllersOf(budget) : new Map()) : undefined;
  }

  /** The controller of a table's reads or writes (adaptive only). */
  controller(table: string, kind: 'read' | 'write'): RateController | undefined {
    return this.controllers && controllerIn(this.controllers, table, kind, () => this.scheduler.now());
  }

  /** Emits once `units` may be spent on `use.table`: at the controller's rate, and within the budget. */
  pay(units: number, use: CapacityUse): Observable<void> {
    const controller = this.controller(use.table, use.kind);
    const paced = defer(() => {
      const wait = controller ? controller.reserve(units) : 0;
      return wait > 0 ? timer(wait, this.scheduler).pipe(map(() => undefined)) : of(undefined);
    });
    return this.budget ? paced.pipe(concatMap(() => this.budget!.spend(units, use))) : paced;
  }

  /** After each call: what it offered and what DynamoDB delivered. */
  observe(table: string, kind: 'read' | 'write', sample: CallSample): void {
    this.controller(table, kind)?.record(sample);
  }

  /** Whether DynamoDB is pushing back on a table now: its retries then wait out a full backoff. */
  saturated(table: string, kind: 'read' | 'write'): boolean {
    return this.controller(table, kind)?.saturated() ?? false;
  }
}
