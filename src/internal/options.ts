import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { validateBackoff } from './backoff.js';
import type { BackoffOptions, BatchOptions } from '../types.js';

type BatchOptionsWithSize = BatchOptions & { batchSize?: number; maxBatchWaitMs?: number };

/** The options every batch operator shares, with their documented defaults applied. */
export interface BatchSettings {
  concurrency: number | 'adaptive';
  maxConcurrency: number;
  maxAttempts: number;
  batchSize: number;
  maxBatchWaitMs: number;
  backoff: BackoffOptions;
  scheduler: SchedulerLike;
  random: () => number;
  onFailure: 'error' | 'emit';
}

function withDefaults(options: BatchOptionsWithSize, maxBatchSize: number): BatchSettings {
  const {
    concurrency = 4,
    maxConcurrency = 16,
    maxAttempts = 10,
    batchSize = maxBatchSize,
    maxBatchWaitMs = Infinity,
    backoff = {},
    scheduler = asyncScheduler,
    random = Math.random,
    onFailure = 'error',
  } = options;
  return { concurrency, maxConcurrency, maxAttempts, batchSize, maxBatchWaitMs, backoff, scheduler, random, onFailure };
}

/** Checks the shared options (see {@link validateBatchOptions}) and returns them with their defaults applied. */
export function batchSettings(options: BatchOptionsWithSize, maxBatchSize: number): BatchSettings {
  validateBatchOptions(options, maxBatchSize);
  return withDefaults(options, maxBatchSize);
}

/** Checks the options every batch operator shares when the operator is created; throws a RangeError naming the bad value. */
export function validateBatchOptions(options: BatchOptionsWithSize, maxBatchSize: number): void {
  const { concurrency, maxConcurrency, maxAttempts, batchSize, onFailure, backoff, maxBatchWaitMs } = withDefaults(options, maxBatchSize);
  validateConcurrency(concurrency, maxConcurrency);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= maxBatchSize))
    throw new RangeError(`batchSize must be an integer from 1 to ${maxBatchSize}, got ${batchSize}`);
  if (onFailure !== 'error' && onFailure !== 'emit') throw new RangeError(`onFailure must be 'error' or 'emit', got ${String(onFailure)}`);
  if (!(maxBatchWaitMs > 0)) throw new RangeError(`maxBatchWaitMs must be > 0, got ${maxBatchWaitMs}`);
  validateBackoff(backoff);
  const { returnConsumedCapacity, projection } = options as { returnConsumedCapacity?: unknown; projection?: unknown };
  if (returnConsumedCapacity !== undefined && returnConsumedCapacity !== 'TOTAL' && returnConsumedCapacity !== 'INDEXES')
    throw new RangeError(`returnConsumedCapacity must be 'TOTAL' or 'INDEXES', got ${JSON.stringify(returnConsumedCapacity)}`);
  if (
    projection !== undefined &&
    (!Array.isArray(projection) || projection.length === 0 || projection.some((a) => typeof a !== 'string' || a.length === 0))
  )
    throw new RangeError(`projection must be a non-empty array of attribute names, got ${JSON.stringify(projection)}`);
  const { keyAttributes } = options as { keyAttributes?: unknown };
  if (Array.isArray(keyAttributes) || keyAttributes === undefined) validateKeyAttributes(keyAttributes);
  else if (typeof keyAttributes === 'object' && keyAttributes !== null)
    for (const [table, attributes] of Object.entries(keyAttributes)) validateKeyAttributes(attributes, `keyAttributes.${table}`);
  else
    throw new RangeError(
      `keyAttributes must be an array of names (or, across tables, an object of them), got ${JSON.stringify(keyAttributes)}`,
    );
}

/** Checks `concurrency` (an integer >= 1 or 'adaptive') and `maxConcurrency`; throws a RangeError naming the bad value. */
export function validateConcurrency(concurrency: unknown, maxConcurrency: unknown = 16): void {
  if (concurrency !== 'adaptive' && !(Number.isInteger(concurrency) && (concurrency as number) >= 1))
    throw new RangeError(`concurrency must be an integer >= 1 or 'adaptive', got ${String(concurrency)}`);
  if (!(Number.isInteger(maxConcurrency) && (maxConcurrency as number) >= 1))
    throw new RangeError(`maxConcurrency must be an integer >= 1, got ${String(maxConcurrency)}`);
}

/** Checks key attribute names given by the user: one or two distinct, non-empty strings (partition key first). */
export function validateKeyAttributes(keyAttributes: unknown, where = 'keyAttributes'): void {
  if (keyAttributes === undefined) return;
  if (
    !Array.isArray(keyAttributes) ||
    keyAttributes.length < 1 ||
    keyAttributes.length > 2 ||
    keyAttributes.some((a) => typeof a !== 'string' || a.length === 0) ||
    new Set(keyAttributes).size !== keyAttributes.length
  )
    throw new RangeError(
      `${where} must be the partition key name and, if the table has one, the sort key name, got ${JSON.stringify(keyAttributes)}`,
    );
}
