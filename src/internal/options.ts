import { validateBackoff } from './backoff.js';
import type { BatchOptions } from './types.js';

/** Checks the options every batch operator shares when the operator is created; throws a RangeError naming the bad value. */
export function validateBatchOptions(options: BatchOptions & { batchSize?: number; maxBatchWaitMs?: number }, maxBatchSize: number): void {
  const {
    concurrency = 4,
    maxConcurrency = 16,
    maxAttempts = 10,
    batchSize = maxBatchSize,
    onFailure = 'error',
    backoff,
    maxBatchWaitMs = Infinity,
  } = options;
  validateConcurrency(concurrency, maxConcurrency);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= maxBatchSize))
    throw new RangeError(`batchSize must be an integer from 1 to ${maxBatchSize}, got ${batchSize}`);
  if (onFailure !== 'error' && onFailure !== 'emit') throw new RangeError(`onFailure must be 'error' or 'emit', got ${String(onFailure)}`);
  if (!(maxBatchWaitMs > 0)) throw new RangeError(`maxBatchWaitMs must be > 0, got ${maxBatchWaitMs}`);
  validateBackoff(backoff);
}

/** Checks `concurrency` (an integer >= 1 or 'adaptive') and `maxConcurrency`; throws a RangeError naming the bad value. */
export function validateConcurrency(concurrency: unknown, maxConcurrency: unknown = 16): void {
  if (concurrency !== 'adaptive' && !(Number.isInteger(concurrency) && (concurrency as number) >= 1))
    throw new RangeError(`concurrency must be an integer >= 1 or 'adaptive', got ${String(concurrency)}`);
  if (!(Number.isInteger(maxConcurrency) && (maxConcurrency as number) >= 1))
    throw new RangeError(`maxConcurrency must be an integer >= 1, got ${String(maxConcurrency)}`);
}
