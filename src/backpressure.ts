import {
  asyncScheduler,
  defer,
  filter,
  finalize,
  type MonoTypeOperatorFunction,
  type Observable,
  of,
  type SchedulerAction,
  type SchedulerLike,
  Subject,
  type Subscription,
  take,
} from 'rxjs';

/**
 * A lossless link between a source and a sink that RxJS alone does not give: the source asks for more (the next
 * page, the next line) only while fewer than `highWaterMark` items it emitted are not yet settled by the sink.
 * Pass the same handle to a source (`dynamoScan`, `dynamoQuery`, `dynamoParallelScan`, `fromAsyncIterable`) and to a sink
 * (`dynamoBatchWrite`, `dynamoBatchDelete`, `dynamoBatchWriteRequests`, `dynamoBatchGet…`): the source counts what it
 * emits, the sink counts what it settles (written, or failed). Items that a step in between drops must be released
 * too, or the source will wait for them for ever: use `link.filter(…)` instead of `filter(…)`, or `link.release(n)`.
 */
export interface Backpressure {
  readonly highWaterMark: number;
  /** Items emitted by the source and not yet settled by the sink. */
  readonly pending: number;
  /** Called by a source for what it emits. */
  emitted(count: number): void;
  /** Called by a sink for what it settled, or by you for items a step in between dropped. */
  release(count: number): void;
  /** Emits once (synchronously if it already is) when `pending` is under `highWaterMark`, then completes. */
  ready(): Observable<void>;
  /**
   * Emits each time a source starts to wait. Sinks close their open batches then: items waiting in a batch that is
   * not full would otherwise never be written, and the source would wait for ever.
   */
  readonly stalled: Observable<void>;
  /**
   * Called by a sink when it subscribes, before it subscribes to its source: `inFlight` counts the items it holds
   * (taken and not yet settled: in open batches, in calls not yet answered, waiting for a retry). Returns the
   * function to call when it unsubscribes. While a sink is attached and all of them hold nothing, a source that
   * waits with nothing released for `stallWarningMs` is stalled (see {@link BackpressureOptions.onStall}).
   */
  attachSink(inFlight: () => number): () => void;
  /** `filter` that releases what it drops. */
  filter<T>(predicate: (value: T, index: number) => boolean): MonoTypeOperatorFunction<T>;
}

/** What {@link BackpressureOptions.onStall} is told. */
export interface BackpressureStall {
  /** Items emitted and not yet settled: the ones a step between source and sink lost. */
  pending: number;
  highWaterMark: number;
  /** How long the source has waited. */
  waitedMs: number;
  /** The text of the default warning. */
  message: string;
}

export interface BackpressureOptions {
  /** Items emitted but not yet settled, above which the source waits. @default 10000 */
  highWaterMark?: number;
  /**
   * How long a source waits, with nothing released and nothing in flight in the attached sinks, before the link
   * calls `onStall`. @default 30000
   */
  stallWarningMs?: number;
  /**
   * Called once per link when the source is stalled: a step between source and sink dropped items without releasing
   * them. @default `process.emitWarning(message, { code: 'RXJS_DYNAMODB_STALLED' })`
   */
  onStall?: (stall: BackpressureStall) => void;
  /** Schedules the stall check. @default asyncScheduler */
  scheduler?: SchedulerLike;
}

/**
 * The default `onStall`: a process warning, not `console.warn`, so that users can handle it
 * (`process.on('warning')`, by its code) or silence it (`node --disable-warning=RXJS_DYNAMODB_STALLED`) like Node's own.
 */
const emitStallWarning = ({ message }: BackpressureStall) => process.emitWarning(message, { code: 'RXJS_DYNAMODB_STALLED' });

/** The stall warning's text. */
const stallMessage = ({ pending, highWaterMark, waitedMs }: Omit<BackpressureStall, 'message'>): string => {
  const items = `${pending} item${pending === 1 ? '' : 's'}`;
  return (
    `rxjs-dynamodb backpressure: the source has waited ${Math.round(waitedMs / 100) / 10} s with ${items} pending ` +
    `(highWaterMark ${highWaterMark}) and nothing in flight in the sink: a step between them dropped items without ` +
    `releasing them. Use link.filter(…) instead of filter(…), or call link.release(n) for what you drop.`
  );
};

/**
 * Creates a {@link Backpressure} link: memory stays flat from source to sink, whatever the size of the table or file.
 *
 * ```
 * scan pages:  --p1--------p2----------p3--|       (each page waits until the writer is under highWaterMark)
 * writer:        ------w------w------w------w--|
 * ```
 *
 * A plain `filter(…)` between them drops items no one releases: the source waits for ever. The link says so, once:
 * ```
 * scan pages:  --p1--p2-----------------------------  (pending >= highWaterMark from p2 on: the source waits)
 * writer:      ---------w---------------------------  (its last call answered: nothing in flight)
 * onStall:     ---------|- stallWarningMs -s--------  (nothing released since; once per link)
 * ```
 *
 * ## Example
 * ```ts
 * import { backpressure, dynamoBatchWrite, dynamoScan } from 'rxjs-dynamodb';
 * const link = backpressure({ highWaterMark: 5_000 });
 * dynamoScan(source, { TableName: 'Tickets' }, { backpressure: link })
 *   .pipe(map(toArchive), dynamoBatchWrite(target, 'Archive', { backpressure: link }))
 *   .subscribe();
 * ```
 *
 * @param options {@link BackpressureOptions}: `highWaterMark` (default 10000), `stallWarningMs` (default 30000),
 * `onStall` (default: a process warning with code `RXJS_DYNAMODB_STALLED`), `scheduler` (default `asyncScheduler`).
 * @returns The link, to pass to one or more sources and sinks.
 */
export function backpressure(options: BackpressureOptions = {}): Backpressure {
  const { highWaterMark = 10_000, stallWarningMs = 30_000, onStall = emitStallWarning, scheduler = asyncScheduler } = options;
  if (!(Number.isInteger(highWaterMark) && highWaterMark >= 1))
    throw new RangeError(`highWaterMark must be an integer >= 1, got ${highWaterMark}`);
  if (!(Number.isInteger(stallWarningMs) && stallWarningMs >= 1))
    throw new RangeError(`stallWarningMs must be an integer >= 1, got ${stallWarningMs}`);
  if (typeof onStall !== 'function') throw new TypeError(`onStall must be a function, got ${String(onStall)}`);
  let pending = 0;
  const released = new Subject<void>();
  const stalled = new Subject<void>();

  // The stall watch: one check on the scheduler while a source waits and a sink is attached, until it warns once.
  const sinks = new Set<() => number>();
  let waiters = 0;
  let waitingSince = 0;
  let releasedAt = -Infinity;
  let warned = false;
  let check: Subscription | undefined;
  /** Looks at the link when a quiet `stallWarningMs` may have passed: warns, or looks again later. */
  function look(this: SchedulerAction<void>): void {
    const now = scheduler.now();
    const quietSince = Math.max(waitingSince, releasedAt);
    // something was released meanwhile: the sink is slow, not starved; look again a full quiet span after it
    if (now - quietSince < stallWarningMs) return void this.schedule(undefined, quietSince + stallWarningMs - now);
    // a sink still holds items (a slow call, a retry): their release will tell
    if ([...sinks].some((inFlight) => inFlight() > 0)) return void this.schedule(undefined, stallWarningMs);
    warned = true;
    check = undefined;
    const stall = { pending, highWaterMark, waitedMs: now - waitingSince };
    onStall({ ...stall, message: stallMessage(stall) });
  }
  /** Starts the check when there is something to watch, stops it when there is not. */
  const watch = () => {
    const watching = waiters > 0 && sinks.size > 0 && !warned;
    if (watching && !check) {
      const quietSince = Math.max(waitingSince, releasedAt);
      check = scheduler.schedule(look, Math.max(0, quietSince + stallWarningMs - scheduler.now()));
    } else if (!watching && check) {
      check.unsubscribe();
      check = undefined;
    }
  };
  /** A source waits until `waiting` emits; the watch runs meanwhile. */
  const watched = (waiting: Observable<void>) =>
    defer(() => {
      if (waiters++ === 0) waitingSince = scheduler.now();
      watch();
      return waiting.pipe(
        finalize(() => {
          waiters--;
          watch();
        }),
      );
    });

  const link: Backpressure = {
    highWaterMark,
    get pending() {
      return pending;
    },
    emitted(count) {
      pending += count;
    },
    release(count) {
      pending -= count;
      if (waiters > 0) releasedAt = scheduler.now();
      if (pending < highWaterMark) released.next();
    },
    ready: () =>
      defer(() => {
        if (pending < highWaterMark) return of(undefined);
        const waiting = released.pipe(
          filter(() => pending < highWaterMark),
          take(1),
        );
        stalled.next();
        // a sink that closed its batches at `stalled` may have released enough already
        return pending < highWaterMark ? of(undefined) : watched(waiting);
      }),
    stalled: stalled.asObservable(),
    attachSink(inFlight) {
      const sink = () => inFlight(); // its own identity, so one function may be attached twice
      sinks.add(sink);
      watch();
      return () => {
        sinks.delete(sink);
        watch();
      };
    },
    filter:
      <T>(predicate: (value: T, index: number) => boolean): MonoTypeOperatorFunction<T> =>
      (source) =>
        source.pipe(
          filter((value, index) => {
            const keep = predicate(value, index);
            if (!keep) link.release(1);
            return keep;
          }),
        ),
  };
  return link;
}
