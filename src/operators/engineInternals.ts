import {
  catchError,
  concatWith,
  defer,
  EMPTY,
  finalize,
  map,
  type MonoTypeOperatorFunction,
  type OperatorFunction,
  type SchedulerLike,
  throwError,
} from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { AdaptiveRate, type CapacityBudget } from '../capacity.js';
import type { Taken } from '../internal/keySchemas.js';
import { ProgressTracker } from '../internal/progress.js';
import type { BatchOptions } from '../types.js';

/**
 * What the write and read engines keep for one subscription: the ledger of requests taken and not yet settled (what
 * an error hands back), progress counts, the concurrency now, the capacity budget (the user's, or the adaptive
 * rate's), and the source's error, held back until what was taken is settled.
 */
export class EngineRun<R> {
  readonly ledger = new Map<number, R>();
  readonly progress: ProgressTracker;
  /** `concurrency: 'adaptive'` without a budget of the user's also adapts a rate, to the one DynamoDB serves. */
  readonly adaptiveRate: AdaptiveRate | undefined;
  readonly budget: CapacityBudget | undefined;
  /** The concurrency limit now: lanes keep twice as many batches in progress per table. */
  concurrency: number;
  private nextId = 0;
  private sourceError: { error: unknown } | undefined;

  constructor(
    options: BatchOptions,
    scheduler: SchedulerLike,
    userBudget: CapacityBudget | undefined,
    private readonly link: Backpressure | undefined,
  ) {
    const { concurrency = 4 } = options;
    this.concurrency = concurrency === 'adaptive' ? 2 : concurrency;
    this.progress = new ProgressTracker(scheduler, options.onProgress, this.concurrency);
    this.adaptiveRate = concurrency === 'adaptive' && !userBudget ? new AdaptiveRate(scheduler) : undefined;
    this.budget = userBudget ?? this.adaptiveRate?.budget;
  }

  /** Takes requests from the source in input order, onto the ledger; the source's error waits for `finish`. */
  take(): OperatorFunction<R, Taken<R>> {
    return (source) =>
      source.pipe(
        catchError((error: unknown) => {
          this.sourceError = { error };
          return EMPTY;
        }),
        map((request) => {
          const id = this.nextId++;
          this.ledger.set(id, request);
          this.progress.progress.taken++;
          return { id, request };
        }),
      );
  }

  /** A request is settled (done, or failed and handed back): off the ledger, counted, off the backpressure link. */
  settle(id: number, outcome: 'done' | 'failed'): void {
    if (!this.ledger.delete(id)) return;
    this.progress.progress[outcome]++;
    this.link?.release(1);
  }

  /** After each call: progress, the adaptive rate, the concurrency now. */
  observe(step: Parameters<ProgressTracker['call']>[0] & { startedAt: number }, units: number): void {
    this.concurrency = step.concurrency;
    this.progress.call(step, units);
    this.adaptiveRate?.observe(units, step.unprocessed.length > 0 && !step.fatal, step.startedAt);
  }

  /** Passes the source's error on once everything else is done, and makes the last progress report. */
  finish<T>(): MonoTypeOperatorFunction<T> {
    return (results) =>
      results.pipe(
        concatWith(defer(() => (this.sourceError ? throwError(() => this.sourceError!.error) : EMPTY))),
        finalize(() => this.progress.report(true)),
      );
  }
}
