/**
 * The RxJS shell of the batch engine behind every batch operator (as RxJS's `mergeInternals` is behind `mergeMap`,
 * `mergeScan` and `expand`). It subscribes to the source, feeds the plain engine (`src/internal/engine/`), asks
 * DynamoDB for key schemas, sends the calls the engine forms — each paid for from the capacity budget first — and
 * wakes the engine by the scheduler's clock for retries and batch timeouts. What an operator emits is its own
 * business (`output`): one result per batch for writes, one outcome per key for reads.
 */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import {
  concatMap,
  defer,
  Observable,
  type Observable as Obs,
  type OperatorFunction,
  type SchedulerLike,
  Subject,
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
import type { BatchOptions, DynamoDBSender } from '../types.js';

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
  /** What to emit for a settled entry or refused request (nothing yet, for a batch not complete). */
  settled(...args: Parameters<OnSettled<R>>): readonly O[];
  /** What to emit before the stream stops with an error: partial results of what was done. */
  halted(): readonly O[];
  /** A call came back, before its entries are settled (items found, consumed capacity per batch). */
  answered?(call: Call<R>, result: SendResult<R>): void;
}

/** Runs the engine for one subscription. */
export function batchEngine<R, O>(
  client: DynamoDBSender,
  operator: BatchOperator<R, O>,
  settings: Omit<EngineSettings, 'lookahead'>,
  options: BatchOptions & { maxConcurrency: number; scheduler: SchedulerLike; budget?: CapacityBudget; backpressure?: Backpressure },
): OperatorFunction<R, O> {
  const { scheduler, backpressure: link } = options;
  return (source) =>
    new Observable<O>((subscriber) => {
      const pacer = new Pacer(options.concurrency ?? 4, options.maxConcurrency, scheduler, options.budget);
      const progress = new ProgressTracker(scheduler, options.onProgress, pacer.limit);
      const emit = (values: readonly O[]) => {
        for (const value of values) subscriber.next(value);
      };
      const engine = new Engine<R>(operator.spec, { ...settings, lookahead: () => 2 * pacer.limit }, (entry, error, refused) => {
        const n = entry ? countOf(entry) : 1;
        progress.progress[error ? 'failed' : 'done'] += n;
        link?.release(n);
        emit(operator.settled(entry, error, refused));
      });
      const calls = new Set<Subscription>();
      const controller = new AbortController();
      let timer: Subscription | undefined;
      let timerAt = Infinity;
      let sourceError: { error: unknown } | undefined;
      let driving = false;
      let again = false;

      /** Does what can be done now: prepare, describe, send, end. Re-entrant calls run once more instead. */
      const drive = (): void => {
        if (driving) return void (again = true);
        driving = true;
        try {
          do {
            again = false;
            step();
          } while (again && !subscriber.closed);
        } finally {
          driving = false;
        }
      };

      const step = () => {
        if (subscriber.closed) return; // unsubscribed while emitting: start nothing more
        const now = scheduler.now();
        for (const table of engine.tablesToDescribe()) describe(table);
        engine.prepare(now);
        for (let call = engine.nextCall(now, pacer.limit); call && !subscriber.closed; call = engine.nextCall(now, pacer.limit))
          start(call);
        if (engine.halted) {
          stopTaking.next();
          emit(operator.halted());
          progress.report(true);
          return subscriber.error(engine.stopError());
        }
        if (engine.stopped) stopTaking.next(); // take nothing more; calls in flight finish
        if (engine.idle) {
          progress.report(true);
          return sourceError ? subscriber.error(sourceError.error) : subscriber.complete();
        }
        wake(engine.wakeAt());
      };

      const wake = (at: number) => {
        if (at === Infinity || at >= timerAt) return;
        timer?.unsubscribe();
        timerAt = at;
        timer = scheduler.schedule(
          () => {
            timerAt = Infinity;
            drive();
          },
          Math.max(0, at - scheduler.now()),
        );
      };

      const describe = (table: string) => {
        const given = operator.keyAttributesOf(table);
        if (given) return engine.described(table, { attributes: given });
        let subscription: Subscription | undefined = undefined;
        const end = () => {
          if (subscription) calls.delete(subscription);
          drive();
        };
        subscription = describeKeySchema(client, table).subscribe({
          next: (schema) => engine.described(table, schema),
          error: (error: unknown) => {
            engine.described(table, undefined, error);
            end();
          },
          complete: end,
        });
        if (!subscription.closed) calls.add(subscription);
      };

      const start = (call: Call<R>) => {
        operator.started(call);
        const cost = operator.cost(call);
        const startedAt = scheduler.now();
        const { budget } = pacer;
        const paid = budget
          ? budget
              .spend(cost, { client, table: call.lane.table, kind: operator.kind, scheduler })
              .pipe(concatMap(() => operator.send(call, controller.signal)))
          : defer(() => operator.send(call, controller.signal));
        let subscription: Subscription | undefined = undefined;
        const done = (result: SendResult<R>) => {
          if (subscription) calls.delete(subscription);
          operator.answered?.(call, result);
          const decision = engine.finish(call, result.answer, scheduler.now());
          const units = result.consumed ?? decision.done.reduce((sum, e) => sum + e.units, 0);
          budget?.correct(units - cost);
          pacer.observe({ startedAt, units, pushedBack: decision.pushedBack, fatal: decision.failed.some((f) => f.kind === 'fatal') });
          progress.recordCall(
            call.entries,
            decision.again.length + decision.failed.filter((f) => f.kind === 'exhausted').length,
            units,
            pacer.limit,
            engine.inFlight,
          );
          progress.report();
          drive();
        };
        subscription = paid.subscribe({ next: done, error: (error: unknown) => done({ answer: { error } }) });
        if (!subscription.closed) calls.add(subscription);
      };

      const stalls = link?.stalled.subscribe(() => {
        engine.flushOnce();
        drive();
      });
      const stopTaking = new Subject<void>();
      const input = source.pipe(takeUntil(stopTaking)).subscribe({
        next: (request) => {
          progress.progress.taken++;
          engine.take(request);
          drive();
        },
        error: (error: unknown) => {
          sourceError = { error };
          engine.endOfSource();
          drive();
        },
        complete: () => {
          engine.endOfSource();
          drive();
        },
      });
      return () => {
        stopTaking.next();
        input.unsubscribe();
        stalls?.unsubscribe();
        timer?.unsubscribe();
        // calls still in flight (unsubscribed from outside) are aborted, also during the SDK's own backoff
        if (engine.inFlight > 0) controller.abort();
        for (const call of calls) call.unsubscribe();
        calls.clear();
      };
    });
}
