/**
 * The RxJS shell of the batch engine behind every batch operator (as RxJS's `mergeInternals` is behind `mergeMap`,
 * `mergeScan` and `expand`). It subscribes to the source, feeds the plain engine (`src/internal/engine/`), asks
 * DynamoDB for key schemas, sends the calls the engine forms — each paid for from the capacity budget first — and
 * wakes the engine by the scheduler's clock for retries and batch timeouts. What an operator emits is its own
 * business (`BatchOperator`): one result per batch for writes, one outcome per key for reads.
 */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { setMaxListeners } from 'node:events';
import {
  concatMap,
  Observable,
  type Observable as Obs,
  type OperatorFunction,
  type SchedulerLike,
  Subject,
  type Subscriber,
  type Subscription,
  takeUntil,
} from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import type { CapacityBudget } from '../capacity.js';
import { describeKeySchema } from '../internal/client.js';
import type { CallAnswer } from '../internal/engine/decide.js';
import { type Call, countOf, Engine, type EngineSettings, type EngineSpec, type OnSettled } from '../internal/engine/engine.js';
import { Pacer } from '../internal/engine/pacer.js';
import { ProgressTracker } from '../internal/progress.js';
import { backoffDelay } from '../internal/backoff.js';
import { isThrottlingError } from '../internal/retryable.js';
import { type Ends, reentrantLoop, trackIn } from './callRunInternals.js';
import type { BackoffOptions, BatchOptions, DynamoDBSender } from '../types.js';

/** What one call gave: its answer, and the capacity units DynamoDB said it consumed (when it said). */
export interface SendResult<R> {
  answer: CallAnswer<R>;
  /** Units DynamoDB said the call consumed. */
  consumed?: number;
  consumedCapacity?: ConsumedCapacity[];
  /** Reads: the items found, by the entry that asked. */
  found?: Map<unknown, unknown>;
}

/** What the write or read operator puts around the engine. */
export interface BatchOperator<R, O> {
  spec: EngineSpec<R>;
  kind: 'read' | 'write';
  /** The key attributes the user named for a table (no DescribeTable then). */
  keyAttributesOf(table: string): string[] | undefined;
  /** Capacity units a call is estimated to cost, paid before it goes. */
  cost(call: Call<R>): number;
  /** Sends one call; `signal` aborts it (and every other call of the subscription) on unsubscribe. */
  send(call: Call<R>, signal: AbortSignal): Obs<SendResult<R>>;
  /** A call is about to go. */
  started(call: Call<R>): void;
  /** A call came back, before its entries are settled (items found, consumed capacity per batch). */
  answered?(call: Call<R>, result: SendResult<R>): void;
  /** What to emit for a settled entry or refused request (nothing yet, for a batch not complete). */
  settled(...args: Parameters<OnSettled<R>>): readonly O[];
  /** What to emit before the stream stops with an error: partial results of what was done. */
  halted(): readonly O[];
}

export type ShellOptions = BatchOptions & {
  maxConcurrency: number;
  scheduler: SchedulerLike;
  budget?: CapacityBudget;
  backpressure?: Backpressure;
};
/** The engine's settings an operator gives; the shell adds the lookahead and the retry timing (from the pacer). */
export type EngineSettingsOf = Omit<EngineSettings, 'lookahead' | 'retryAt'> & { backoff: BackoffOptions; random: () => number };

/** One controller for every call of a subscription: each call listens to it, so it may have many listeners. */
function abortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** One subscription of a batch operator: the engine, its pacer and progress, and the Observables that drive them. */
class BatchRun<R, O> {
  private readonly pacer: Pacer;
  private readonly progress: ProgressTracker;
  private readonly engine: Engine<R>;
  private readonly scheduler: SchedulerLike;
  private readonly work = new Set<Subscription>();
  private readonly controller = abortController();
  private readonly stopTaking = new Subject<void>();
  private timer: Subscription | undefined;
  private timerAt = Infinity;
  private sourceError: { error: unknown } | undefined;

  constructor(
    private readonly client: DynamoDBSender,
    private readonly operator: BatchOperator<R, O>,
    settings: EngineSettingsOf,
    private readonly options: ShellOptions,
    private readonly subscriber: Subscriber<O>,
  ) {
    this.scheduler = options.scheduler;
    const pacer = (this.pacer = new Pacer(options.concurrency ?? 4, options.maxConcurrency, options.scheduler, options.budget));
    this.progress = new ProgressTracker(options.scheduler, options.onProgress, this.pacer.limit);
    const { backoff, random } = settings;
    /**
     * When a request goes again. Without a rate controller: after the backoff. With one, the rate paces every call
     * already, so a retry waits a few backoff steps at most while the table pushes back; otherwise what came back
     * was not about the table's capacity, and the first retry goes at once, the next ones after one backoff step.
     */
    const retryAt = (entry: { table: string; attempts: number }, now: number) => {
      if (!pacer.adaptive) return now + backoffDelay(entry.attempts, backoff, random);
      if (pacer.saturated(entry.table, operator.kind)) return now + backoffDelay(Math.min(entry.attempts, 3), backoff, random);
      return entry.attempts <= 1 ? now : now + backoffDelay(1, backoff, random);
    };
    this.engine = new Engine<R>(operator.spec, { ...settings, retryAt, lookahead: () => 2 * this.pacer.limit }, (entry, error, refused) => {
      const n = entry ? countOf(entry) : 1;
      this.progress.progress[error ? 'failed' : 'done'] += n;
      options.backpressure?.release(n);
      for (const value of operator.settled(entry, error, refused)) subscriber.next(value);
    });
  }

  /** Subscribes to the source (and to the link: its stalls, and as a sink that tells what it holds); returns the teardown. */
  start(source: Obs<R>): () => void {
    const detach = this.options.backpressure?.attachSink(() => this.engine.unsettled);
    const stalls = this.options.backpressure?.stalled.subscribe(() => {
      this.engine.flushOnce();
      this.drive();
    });
    const input = source.pipe(takeUntil(this.stopTaking)).subscribe({
      next: (request) => {
        this.progress.progress.taken++;
        this.engine.take(request);
        this.drive();
      },
      error: (error: unknown) => {
        this.sourceError = { error };
        this.engine.endOfSource();
        this.drive();
      },
      complete: () => {
        this.engine.endOfSource();
        this.drive();
      },
    });
    return () => {
      this.stopTaking.next();
      input.unsubscribe();
      stalls?.unsubscribe();
      detach?.();
      this.timer?.unsubscribe();
      // calls still in flight (unsubscribed from outside) are aborted, also during the SDK's own backoff
      if (this.engine.inFlight > 0) this.controller.abort();
      for (const w of this.work) w.unsubscribe();
      this.work.clear();
    };
  }

  /** Does what can be done now: prepare, describe, send, end. A call from inside runs the loop once more instead. */
  private readonly drive = reentrantLoop(
    () => this.step(),
    () => this.subscriber.closed,
  );

  private step(): void {
    const { engine, subscriber } = this;
    if (subscriber.closed) return; // unsubscribed while emitting: start nothing more
    const now = this.scheduler.now();
    for (const table of engine.tablesToDescribe()) this.describe(table);
    engine.prepare(now);
    for (let call = engine.nextCall(now, this.pacer.limit); call && !subscriber.closed; call = engine.nextCall(now, this.pacer.limit))
      this.send(call);
    if (engine.stopped) this.stopTaking.next(); // take nothing more; calls in flight finish
    if (engine.halted) {
      for (const value of this.operator.halted()) subscriber.next(value);
      this.progress.report(true);
      return subscriber.error(engine.stopError());
    }
    if (engine.idle) {
      this.progress.report(true);
      return this.sourceError ? subscriber.error(this.sourceError.error) : subscriber.complete();
    }
    this.wake(engine.wakeAt(), now);
  }

  /**
   * A timer for the next thing the engine has to do by the clock, unless one is set for sooner. A time not after
   * `now` — the time this step looked at — needs none: what was due then and was not sent waits for a slot, and the
   * answer of the call holding it drives it on. (Compared with the clock read again instead, work that fell due
   * during the step would get no timer, and with no call in flight the run would stall.)
   */
  private wake(at: number, now: number): void {
    if (at === Infinity || at <= now || at >= this.timerAt) return;
    this.timer?.unsubscribe();
    this.timerAt = at;
    const delay = Math.max(0, at - this.scheduler.now());
    this.timer = this.scheduler.schedule(() => {
      this.timerAt = Infinity;
      this.drive();
    }, delay);
  }

  /** Subscribes to `work`, kept until it ends (or the run is torn down). */
  private track<T>(work: Obs<T>, observer: Ends<T>): void {
    trackIn(this.work, work, observer);
  }

  private describe(table: string): void {
    const given = this.operator.keyAttributesOf(table);
    if (given) return this.engine.described(table, { attributes: given });
    this.track(describeKeySchema(this.client, table), {
      next: (schema) => this.engine.described(table, schema),
      error: (error) => {
        this.engine.described(table, undefined, error);
        this.drive();
      },
      complete: () => this.drive(),
    });
  }

  private send(call: Call<R>): void {
    const { operator, pacer, engine, scheduler, controller } = this;
    operator.started(call);
    const cost = operator.cost(call);
    const table = call.lane.table;
    const use = { client: this.client, table, kind: operator.kind, scheduler };
    /** When the call went out, for the controller's measure of capacity. */
    let sentAt: number | undefined;
    const done = (result: SendResult<R>) => {
      operator.answered?.(call, result);
      const decision = engine.finish(call, result.answer, scheduler.now());
      const units = result.consumed ?? decision.done.reduce((sum, e) => sum + e.units, 0);
      this.options.budget?.correct(units - cost);
      // what DynamoDB throttled is charged to a shared budget, so that every worker sharing it slows down
      const answer = result.answer;
      const throttled =
        'error' in answer ? (isThrottlingError(answer.error) ? cost : 0) : answer.unprocessed.reduce((sum, e) => sum + e.units, 0);
      if (throttled > 0) this.options.budget?.throttled?.(throttled);
      pacer.observe(table, operator.kind, { offered: cost, delivered: units, sentAt });
      const unprocessed = decision.again.length + decision.failed.filter((f) => f.kind === 'exhausted').length;
      this.progress.recordCall(call.entries, unprocessed, units, pacer.limit, engine.inFlight);
      const rate = pacer.controller(table, operator.kind);
      if (rate) this.progress.recordRate(rate.rate, rate.reason);
      this.progress.report();
      this.drive();
    };
    const paid = pacer.pay(cost, use).pipe(
      concatMap(() => {
        sentAt = scheduler.now();
        return operator.send(call, controller.signal);
      }),
    );
    this.track(paid, { next: done, error: (error) => done({ answer: { error } }) });
  }
}

/** The batch engine as an operator: one {@link BatchRun} per subscription. */
export function batchEngine<R, O>(
  client: DynamoDBSender,
  operator: BatchOperator<R, O>,
  settings: EngineSettingsOf,
  options: ShellOptions,
): OperatorFunction<R, O> {
  return (source) => new Observable<O>((subscriber) => new BatchRun(client, operator, settings, options, subscriber).start(source));
}
