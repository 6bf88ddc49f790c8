import type { BackoffOptions } from '../types.js';

/** Backoff defaults: 100 ms doubling to at most 20 s, full jitter. */
export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseDelayMs: 100, maxDelayMs: 20_000, jitter: 'full' };

/**
 * The delay before retry `n` (n >= 1): `d = min(maxDelayMs, baseDelayMs * 2^(n-1))`, then jitter as AWS defines it
 * ("Exponential Backoff And Jitter"): `'full'` waits `random() * d`, `'equal'` waits `d/2 + random() * d/2`,
 * `'none'` waits `d`.
 *
 * ## Example
 * ```ts
 * import { backoffDelay } from 'rxjs-dynamodb';
 * backoffDelay(3, { baseDelayMs: 100, jitter: 'none' }); // 400
 * backoffDelay(3, { baseDelayMs: 100, jitter: 'equal' }, () => 0.5); // 300
 * ```
 *
 * @param retry The retry number, 1 for the first retry (the second call).
 * @param options Base delay, cap and jitter; see {@link DEFAULT_BACKOFF}.
 * @param random A function returning a number in [0, 1). @default Math.random
 * @returns The delay in milliseconds.
 */
export function backoffDelay(retry: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { baseDelayMs, maxDelayMs, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const d = Math.min(maxDelayMs, baseDelayMs * 2 ** (retry - 1));
  switch (jitter) {
    case 'none':
      return d;
    case 'equal':
      return d / 2 + (random() * d) / 2;
    case 'full':
      return random() * d;
  }
}

/** Checks backoff options when an operator is created; throws a RangeError naming the bad value. */
export function validateBackoff(options: BackoffOptions = {}): void {
  const { baseDelayMs, maxDelayMs, jitter } = { ...DEFAULT_BACKOFF, ...options };
  if (!(Number.isFinite(baseDelayMs) && baseDelayMs >= 0))
    throw new RangeError(`backoff.baseDelayMs must be a number >= 0, got ${baseDelayMs}`);
  if (!(maxDelayMs >= baseDelayMs)) throw new RangeError(`backoff.maxDelayMs must be >= baseDelayMs (${baseDelayMs}), got ${maxDelayMs}`);
  if (!['full', 'equal', 'none'].includes(jitter))
    throw new RangeError(`backoff.jitter must be 'full', 'equal' or 'none', got ${String(jitter)}`);
}
