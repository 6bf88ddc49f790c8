import {
  asyncScheduler,
  catchError,
  concatMap,
  defer,
  Observable,
  EMPTY,
  expand,
  filter,
  from,
  map,
  mergeMap,
  type ObservableInput,
  of,
  type OperatorFunction,
  timer,
} from 'rxjs';
import { backoffDelay, validateBackoff } from '../internal/backoff.js';
import { createLimiter } from '../internal/limiter.js';
import { validateConcurrency } from '../internal/options.js';
import { isRetryableError } from '../internal/retryable.js';
import type { BatchOptions, CallOutcome, Rejection } from '../types.js';

export type { CallOutcome, Rejection };

/** One attempt of one batch. The last step of a batch has `final: true`. */
export interface RetryStep<T, R> {
  /** The batch as it first came in (the same array for every step of a batch). */
  batch: T[];
  /** 1 for the first call, 2 for the first retry, … */
  attempt: number;
  /** The requests this call carried. */
  requests: T[];
  /** The requests this call did not process: all of them when it threw. */
  unprocessed: T[];
  /** The requests this call rejected for good, each with its error (not retried). */
  rejected: Array<Rejection<T>>;
  /** The call's response, when it answered. */
  response?: R;
  /** The call's error, when it threw. */
  error?: unknown;
  /** True when the call threw an error that is not retried: the batch ends here. */
  fatal: boolean;
  /** True on a batch's last step: nothing is left, the error is fatal, or attempts ran out. */
  final: boolean;
  /** The concurrency limit after this call (it changes only with `concurrency: 'adaptive'`). */
  concurrency: number;
  /** Calls in flight when this step was emitted, this one included. */
  inFlight: number;
  /** When this call started, by the scheduler's clock. */
  startedAt: number;
}

/** The batch operators' concurrency, attempts, backoff, scheduler and random, plus which errors are retried. */
export interface RetryUnprocessedOptions extends Pick<
  BatchOptions,
  'concurrency' | 'maxConcurrency' | 'maxAttempts' | 'backoff' | 'scheduler' | 'random'
> {
  /** Which thrown errors are retried. @default isRetryableError (throttling, 5xx, socket errors; by name, never message) */
  isRetryable?: (error: unknown) => boolean;
}

/**
 * Sends each batch with `send`, then re-sends only what came back unprocessed — with exponential backoff and jitter
 * through `timer` on the given scheduler — until nothing is left or `maxAttempts` calls were made. A call that throws
 * a retryable error (throttling, 5xx, connection reset) counts as an attempt with everything unprocessed; any other
 * error ends the batch (`fatal`). Emits one {@link RetryStep} per call. Retries go to the front of the call queue.
Empty batches are skipped.
 *
 * ```
 * batches:  --b-----------------|
 * send:       (1 of 3 unprocessed, then 0)
 * > retryUnprocessed(send, { backoff: { baseDelayMs: 5, jitter: 'none' } })
 * steps:    --s----(t)----------|        s: attempt 1, unprocessed 1;  t: attempt 2, final
 * ```
 *
 * ## Example
 * ```ts
 * import { bufferBatch, retryUnprocessed } from 'rxjs-dynamodb';
 * requests$.pipe(
 *   bufferBatch({ maxCount: 25 }),
 *   retryUnprocessed((batch) => callBatchWrite(batch), { concurrency: 8, maxAttempts: 10 }),
 * );
 * ```
 *
 * @param send Makes one call for some requests; returns what was left unprocessed.
 * @param options Concurrency, attempts, backoff, scheduler, random, error classification.
 * @returns An operator from batches to attempt steps.
 * @see backoffDelay
 */
export function retryUnprocessed<T, R>(
  send: (requests: T[], attempt: number) => ObservableInput<CallOutcome<T, R>>,
  options: RetryUnprocessedOptions = {},
): OperatorFunction<T[], RetryStep<T, R>> {
  const {
    concurrency = 4,
    maxConcurrency = 16,
    maxAttempts = 10,
    backoff = {},
    scheduler = asyncScheduler,
    random = Math.random,
    isRetryable = isRetryableError,
  } = options;
  validateConcurrency(concurrency, maxConcurrency);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  validateBackoff(backoff);

  return (batches) =>
    new Observable<RetryStep<T, R>>((subscriber) => {
      const adaptive = concurrency === 'adaptive';
      const limit = createLimiter(adaptive ? Math.min(2, maxConcurrency) : concurrency);
      let lastCut = -Infinity;
      let clean = 0;
      /** AIMD: +1 after a window of `limit` clean calls; halve on throttling, once for calls started after the last cut. */
      const adapt = (step: Omit<RetryStep<T, R>, 'concurrency' | 'inFlight' | 'startedAt'>, startedAt: number) => {
        if (!adaptive || step.fatal) return;
        if (step.unprocessed.length > 0) {
          clean = 0;
          if (startedAt >= lastCut) {
            lastCut = scheduler.now();
            limit.setLimit(Math.max(1, Math.floor(limit.limit / 2)));
          }
        } else if (++clean >= limit.limit) {
          clean = 0;
          if (limit.limit < maxConcurrency) limit.setLimit(limit.limit + 1);
        }
      };
      const call = (batch: T[], requests: T[], attempt: number) =>
        limit(
          defer(() => {
            const startedAt = scheduler.now();
            const done = (step: Omit<RetryStep<T, R>, 'concurrency' | 'inFlight' | 'startedAt'>): RetryStep<T, R> => {
              adapt(step, startedAt);
              return { ...step, concurrency: limit.limit, inFlight: limit.active, startedAt };
            };
            return from(send(requests, attempt)).pipe(
              map((outcome) =>
                done({
                  batch,
                  attempt,
                  requests,
                  unprocessed: outcome.unprocessed,
                  rejected: outcome.rejected ?? [],
                  response: outcome.response,
                  fatal: false,
                  final: outcome.unprocessed.length === 0 || attempt >= maxAttempts,
                }),
              ),
              catchError((error: unknown) => {
                const fatal = !isRetryable(error);
                return of(
                  done({
                    batch,
                    attempt,
                    requests,
                    unprocessed: requests,
                    rejected: [],
                    error,
                    fatal,
                    final: fatal || attempt >= maxAttempts,
                  }),
                );
              }),
            );
          }),
          { first: attempt > 1 },
        );
      const subscription = batches
        .pipe(
          filter((batch) => batch.length > 0),
          mergeMap((batch) =>
            call(batch, batch, 1).pipe(
              expand((step) =>
                step.final
                  ? EMPTY
                  : timer(backoffDelay(step.attempt, backoff, random), scheduler).pipe(
                      concatMap(() => call(batch, step.unprocessed, step.attempt + 1)),
                    ),
              ),
            ),
          ),
        )
        // an observer, not `subscriber` itself, so that the finalizer below runs before this subscription's own
        .subscribe({
          next: (step) => subscriber.next(step),
          error: (e: unknown) => subscriber.error(e),
          complete: () => subscriber.complete(),
        });
      return () => {
        // close first: unsubscribing an active call frees its slot, which must not start a queued call on the way out
        limit.close();
        subscription.unsubscribe();
      };
    });
}
