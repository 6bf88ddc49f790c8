import { groupBy, mergeMap, type Observable, type OperatorFunction } from 'rxjs';
import { pace } from './pace.js';

/** One table's lane: its batches in progress (sealed, not yet settled), and how to let more requests in. */
export interface Lane {
  readonly table: string;
  inProgress: number;
  /** Call when a batch of this lane settles: requests waiting for room move on. */
  wake(): void;
}

/**
 * Splits requests into one lane per table, each holding at most `maxInProgress()` batches in progress (sent, retrying
 * or waiting out a backoff). Requests beyond that wait, cheaply, in the lane's queue — so a throttled table never
 * floods its own capacity with new first attempts, and never stalls another table's lane. `lane` builds what a
 * lane does with its requests (check, batch, send); it must count its batches in `inProgress` and call `wake` as
 * each settles.
 */
export function lanes<T, R>(
  tableOf: (value: T) => string | undefined,
  maxInProgress: () => number,
  build: (requests: Observable<T>, lane: Lane) => Observable<R>,
): OperatorFunction<T, R> {
  return (source) =>
    source.pipe(
      groupBy((value) => tableOf(value) ?? ''),
      mergeMap((group) => {
        let wake = () => {};
        const lane: Lane = { table: group.key, inProgress: 0, wake: () => wake() };
        const paced = group.pipe(
          pace(
            () => lane.inProgress < maxInProgress(),
            (drain) => (wake = drain),
          ),
        );
        return build(paced, lane);
      }),
    );
}
