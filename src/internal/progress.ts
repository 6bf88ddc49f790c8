import type { SchedulerLike } from 'rxjs';

/** What a batch operator has done so far: counts since subscribe, and the rate and concurrency now. */
export interface Progress {
  /** Requests (writes) or keys (reads) taken from the source. */
  taken: number;
  /** Of those, written (writes) or answered, found or missing (reads). */
  done: number;
  /** Of those, failed and handed back (`failed`, `unprocessed`). */
  failed: number;
  /** Batch calls made. */
  calls: number;
  /** Requests sent, summed over calls: a request sent three times counts three times. */
  requestAttempts: number;
  /** Of those, the ones that came back unprocessed, or went out in a call that failed with a throttling error. */
  unprocessedAttempts: number;
  /** Requests sent again after coming back unprocessed. */
  retried: number;
  /** Capacity units consumed, as DynamoDB reported them (`ConsumedCapacity`), or estimated by item size when it did not. */
  unitsConsumed: number;
  /** `done` per second over the last 5 seconds. */
  ratePerSecond: number;
  /** The concurrency limit now (it moves with `concurrency: 'adaptive'`). */
  concurrency: number;
  /** Calls in flight now. */
  inFlight: number;
  /**
   * With `concurrency: 'adaptive'`: the rate the throughput controller drives the table at now, in capacity units per
   * second (`null` when it sets no bound), and why. While starting it is the rate of the last call paced: it doubles
   * every 50 ms, up to four times what the calls in flight have offered lately.
   */
  rate?: { unitsPerSecond: number | null; reason: string };
  /** Since subscribe. */
  elapsedMs: number;
  /** True on the last report, when the stream completes or errors. */
  complete: boolean;
}

const RATE_WINDOW_MS = 5_000;

/** Counts what an engine does and reports it to `onProgress` after every call and once at the end. */
export class ProgressTracker {
  readonly progress: Progress;
  private readonly started: number;
  private samples: Array<[number, number]> = [];
  private head = 0;

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly onProgress: ((progress: Progress) => void) | undefined,
    concurrency: number,
  ) {
    this.started = scheduler.now();
    this.progress = {
      taken: 0,
      done: 0,
      failed: 0,
      calls: 0,
      requestAttempts: 0,
      unprocessedAttempts: 0,
      retried: 0,
      unitsConsumed: 0,
      ratePerSecond: 0,
      concurrency,
      inFlight: 0,
      elapsedMs: 0,
      complete: false,
    };
  }

  /** One call: the entries it carried, how many came back unprocessed, the units it consumed, the concurrency after it. */
  recordCall(entries: Array<{ attempts: number }>, unprocessed: number, units: number, concurrency: number, inFlight: number): void {
    const p = this.progress;
    p.calls++;
    p.requestAttempts += entries.length;
    p.unprocessedAttempts += unprocessed;
    for (const e of entries) if (e.attempts > 1) p.retried++;
    p.unitsConsumed += units;
    p.concurrency = concurrency;
    p.inFlight = inFlight;
  }

  /** The throughput controller's rate now, and why. */
  recordRate(unitsPerSecond: number, reason: string): void {
    this.progress.rate = { unitsPerSecond: unitsPerSecond === Infinity ? null : Math.round(unitsPerSecond), reason };
  }

  report(complete = false): void {
    if (!this.onProgress) return;
    const now = this.scheduler.now();
    const p = this.progress;
    p.elapsedMs = now - this.started;
    p.complete = complete;
    this.samples.push([now, p.done]);
    while (this.head < this.samples.length - 1 && this.samples[this.head]![0] < now - RATE_WINDOW_MS) this.head++;
    if (this.head > 1024) {
      this.samples = this.samples.slice(this.head);
      this.head = 0;
    }
    const [then, doneThen] = this.samples[this.head]!;
    p.ratePerSecond = now > then ? ((p.done - doneThen) / (now - then)) * 1000 : 0;
    this.onProgress({ ...p });
  }
}
