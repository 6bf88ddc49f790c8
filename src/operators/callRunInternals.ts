/**
 * The RxJS wiring the single-item engine (`ItemWriteRun`, `./itemWriteInternals.ts`) and the transaction engine
 * (`TransactRun`, `./transactInternals.ts`) share: one subscription's source, its calls and backoff timers, the
 * requests taken and not yet settled, and the re-entrant `drive` loop that calls the engine's `step`. What differs —
 * how a request is taken, prepared, sent and decided — is each engine's own.
 */
import { setMaxListeners } from 'node:events';
import { type Observable, type SchedulerLike, Subject, type Subscriber, type Subscription, takeUntil } from 'rxjs';
import type { Backpressure } from '../backpressure.js';

/** What to do with a tracked call's answer. */
export interface Ends<T> {
  next?: (value: T) => void;
  error: (error: unknown) => void;
  complete?: () => void;
}

/**
 * Subscribes to `work`, its subscription kept in `set` until it ends, so that a teardown can cancel what is still
 * running. The batch engine's `BatchRun` uses it too.
 */
export function trackIn<T>(set: Set<Subscription>, work: Observable<T>, observer: Ends<T>): void {
  let subscription: Subscription | undefined = undefined;
  const end = () => subscription && set.delete(subscription);
  subscription = work.subscribe({
    next: observer.next,
    error: (error: unknown) => {
      end();
      observer.error(error);
    },
    complete: () => {
      end();
      observer.complete?.();
    },
  });
  if (!subscription.closed) set.add(subscription);
}

/**
 * A re-entrant loop: `run()` calls `step` until it asks for nothing more; a `run()` from inside `step` (an answer
 * given synchronously) makes the loop go round once more instead of nesting. It stops going round once `closed()`.
 */
export function reentrantLoop(step: () => void, closed: () => boolean): () => void {
  let running = false;
  let again = false;
  return () => {
    if (running) return void (again = true);
    running = true;
    try {
      do {
        again = false;
        step();
      } while (again && !closed());
    } finally {
      running = false;
    }
  };
}

export abstract class CallRun<In, Out> {
  /** One controller for every call of the subscription: each call listens to it. */
  protected readonly controller = new AbortController();
  /** Stops taking from the source: on unsubscribe, and at the first failure with `onFailure: 'error'`. */
  protected readonly stopTaking = new Subject<void>();
  /** Requests taken and not settled, by input position: what a failure in `'error'` mode hands back. */
  protected readonly open = new Map<number, In>();
  /** Calls (and DescribeTable reads) in progress. */
  protected readonly work = new Set<Subscription>();
  /** Backoff timers in progress. */
  protected readonly timers = new Set<Subscription>();
  protected taken = 0;
  protected inFlight = 0;
  /** Set when the source has ended (with its error, if any). */
  protected sourceDone: { error?: unknown } | undefined;

  constructor(
    protected readonly subscriber: Subscriber<Out>,
    private readonly link: Backpressure | undefined,
    private readonly scheduler: SchedulerLike,
  ) {
    setMaxListeners(0, this.controller.signal);
  }

  /** Takes `value` from the source (its input position is `this.taken++`). */
  protected abstract take(value: In): void;
  /** Does what can be done now: send, settle, end. Called by `drive` only. */
  protected abstract step(): void;

  /** Subscribes to the source; the teardown stops taking, aborts the calls in flight and cancels every timer. */
  start(source: Observable<In>): () => void {
    const detach = this.link?.attachSink(() => this.open.size);
    const input = source.pipe(takeUntil(this.stopTaking)).subscribe({
      next: (value) => this.take(value),
      error: (error: unknown) => this.end({ error }),
      complete: () => this.end({}),
    });
    return () => {
      this.stopTaking.next();
      input.unsubscribe();
      detach?.();
      // calls still in flight are aborted, also during the SDK's own backoff: whether they landed is unknown
      if (this.inFlight > 0) this.controller.abort();
      for (const w of [...this.work, ...this.timers]) w.unsubscribe();
      this.work.clear();
      this.timers.clear();
    };
  }

  private end(done: { error?: unknown }): void {
    this.sourceDone = done;
    this.drive();
  }

  /** Runs `step`; a call from inside (an answer given synchronously) runs it once more afterwards instead. */
  protected readonly drive = reentrantLoop(
    () => this.step(),
    () => this.subscriber.closed,
  );

  /** Subscribes to `work` (a call), keeping its subscription until it ends, so that unsubscribing cancels it. */
  protected track<T>(work: Observable<T>, observer: Ends<T>): void {
    trackIn(this.work, work, observer);
  }

  /** Runs `then` (and `drive`) after `delayMs` on the scheduler, unless cancelled meanwhile. */
  protected later(delayMs: number, then: () => void): void {
    const timer: Subscription = this.scheduler.schedule(() => {
      this.timers.delete(timer);
      then();
      this.drive();
    }, delayMs);
    this.timers.add(timer);
  }

  /** `'error'` mode: take nothing more, and send nothing waiting out a backoff again (it is handed back). */
  protected stopAll(): void {
    this.stopTaking.next();
    for (const t of this.timers) t.unsubscribe();
    this.timers.clear();
  }

  /** Every request taken and not settled, in input order. */
  protected unsettled(): In[] {
    return [...this.open.entries()].sort(([a], [b]) => a - b).map(([, value]) => value);
  }

  /** A request is settled (written, answered, failed): it leaves `open` and releases the link. */
  protected settled(index: number): void {
    this.open.delete(index);
    this.link?.release(1);
  }
}
