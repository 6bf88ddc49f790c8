/**
 * How fast an engine may call: calls in flight at most (`concurrency`, fixed or adaptive), and a rate in capacity
 * units per second (the user's budget, or with `concurrency: 'adaptive'` the rate DynamoDB serves). Plain code:
 * the engine asks `limit` before each call and reports each answer to `observe`.
 */
import type { SchedulerLike } from 'rxjs';
import { AdaptiveRate, type CapacityBudget } from '../../capacity.js';

/** One call's answer, as the pacer sees it. */
export interface CallReport {
  startedAt: number;
  /** Units the call got done (consumed, or estimated). */
  units: number;
  /** DynamoDB returned requests unprocessed, or threw a throttling error. */
  pushedBack: boolean;
  /** The call failed with an error that is not retried. */
  fatal: boolean;
}

export class Pacer {
  /** Calls in flight allowed now. */
  limit: number;
  /** What each call spends before it goes: the user's budget, or the adaptive rate's. */
  readonly budget: CapacityBudget | undefined;
  private readonly adaptiveRate: AdaptiveRate | undefined;
  private lastCut = -Infinity;
  private clean = 0;

  constructor(
    private readonly concurrency: number | 'adaptive',
    private readonly maxConcurrency: number,
    private readonly scheduler: SchedulerLike,
    userBudget: CapacityBudget | undefined,
  ) {
    this.limit = concurrency === 'adaptive' ? Math.min(2, maxConcurrency) : concurrency;
    this.adaptiveRate = concurrency === 'adaptive' && !userBudget ? new AdaptiveRate(scheduler) : undefined;
    this.budget = userBudget ?? this.adaptiveRate?.budget;
  }

  /**
   * After each call. With `concurrency: 'adaptive'`: AIMD on calls in flight — one more after a window of `limit`
   * clean calls, half when DynamoDB pushes back (once per event: calls started before the last cut do not cut
   * again) — and the adaptive rate.
   */
  observe(report: CallReport): void {
    if (this.concurrency !== 'adaptive' || report.fatal) return;
    this.adaptiveRate?.observe(report.units, report.pushedBack, report.startedAt);
    if (report.pushedBack) {
      this.clean = 0;
      if (report.startedAt >= this.lastCut) {
        this.lastCut = this.scheduler.now();
        this.limit = Math.max(1, Math.floor(this.limit / 2));
      }
    } else if (++this.clean >= this.limit) {
      this.clean = 0;
      if (this.limit < this.maxConcurrency) this.limit++;
    }
  }
}
