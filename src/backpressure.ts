import { defer, filter, type MonoTypeOperatorFunction, type Observable, of, Subject, take } from 'rxjs';

/**
 * A lossless link between a source and a sink that RxJS alone does not give: the source asks for more (the next
 * page, the next line) only while fewer than `highWaterMark` items it emitted are not yet settled by the sink.
 * Pass the same handle to a source (`scan`, `query`, `parallelScan`, `fromAsyncIterable`) and to a sink
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
  /** `filter` that releases what it drops. */
  filter<T>(predicate: (value: T, index: number) => boolean): MonoTypeOperatorFunction<T>;
}

/**
 * Creates a {@link Backpressure} link: memory stays flat from source to sink, whatever the size of the table or file.
 *
 * ```
 * scan pages:  --p1--------p2----------p3--|       (each page waits until the writer is under highWaterMark)
 * writer:        ------w------w------w------w--|
 * ```
 *
 * ## Example
 * ```ts
 * import { backpressure, dynamoBatchWrite, scan } from 'rxjs-dynamodb';
 * const link = backpressure({ highWaterMark: 5_000 });
 * scan(source, { TableName: 'Tickets' }, { backpressure: link })
 *   .pipe(map(toArchive), dynamoBatchWrite(target, 'Archive', { backpressure: link }))
 *   .subscribe();
 * ```
 *
 * @param options `highWaterMark`: items emitted but not yet settled, above which the source waits. @default 10000
 * @returns The link, to pass to one or more sources and sinks.
 */
export function backpressure(options: { highWaterMark?: number } = {}): Backpressure {
  const { highWaterMark = 10_000 } = options;
  if (!(Number.isInteger(highWaterMark) && highWaterMark >= 1))
    throw new RangeError(`highWaterMark must be an integer >= 1, got ${highWaterMark}`);
  let pending = 0;
  const released = new Subject<void>();
  const stalled = new Subject<void>();
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
        return pending < highWaterMark ? of(undefined) : waiting;
      }),
    stalled: stalled.asObservable(),
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
