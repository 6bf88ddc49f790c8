import { asyncScheduler, type MonoTypeOperatorFunction, retry, type SchedulerLike, throwError, timer } from 'rxjs';
import { backoffDelay } from './backoff.js';
import { isRetryableError } from './retryable.js';
import type { BackoffOptions } from '../types.js';

/**
 * Re-subscribes to a failed call — a page of a scan or query — after the backoff delay, while its error is
 * retryable and fewer than `maxAttempts` calls were made; other errors pass through at once.
 */
export function retryWithBackoff<T>(
  options: { maxAttempts?: number; backoff?: BackoffOptions; scheduler?: SchedulerLike; random?: () => number } = {},
): MonoTypeOperatorFunction<T> {
  const { maxAttempts = 10, backoff = {}, scheduler = asyncScheduler, random = Math.random } = options;
  return retry({
    count: maxAttempts - 1,
    delay: (error: unknown, retryCount: number) =>
      isRetryableError(error) ? timer(backoffDelay(retryCount, backoff, random), scheduler) : throwError(() => error),
  });
}
