/**
 * What one UpdateItem / PutItem / DeleteItem call's answer means for its request: written, a failed condition (an
 * outcome), retried, or failed. Plain synchronous functions, tested with tables of inputs and outputs; the shell
 * (`src/operators/itemWriteInternals.ts`) acts on them. The transaction engine's twin is `../transact/decide.ts`.
 */
import type { ItemWriteErrorCode } from '../../errors.js';
import { isRetryableError, isThrottlingError } from '../retryable.js';

/** What one call's answer means for its request. Plain: tested with tables of inputs and outputs. */
export type ItemStep =
  | { kind: 'written' }
  | { kind: 'conditionFailed' }
  | { kind: 'retry' }
  | { kind: 'failed'; code: Exclude<ItemWriteErrorCode, 'itemWrite.invalidRequest'> };

const nameOf = (error: unknown) => (error as { name?: unknown } | undefined)?.name;

/** Throttling: DynamoDB refused the call before doing anything, so sending it again cannot apply it twice. */
export const isThrottling = isThrottlingError;

/**
 * A call's answer → the request's step. `attempts` counts this call. A failed condition is an outcome; a throttling or
 * transient error (and `TransactionConflictException`: the item is in a transaction now) is retried while attempts
 * are left; any other error fails the request at once.
 */
export function decideItem(answer: { error: unknown } | { output: unknown }, attempts: number, maxAttempts: number): ItemStep {
  if (!('error' in answer)) return { kind: 'written' };
  const name = nameOf(answer.error);
  if (name === 'ConditionalCheckFailedException') return { kind: 'conditionFailed' };
  if (!isRetryableError(answer.error) && name !== 'TransactionConflictException') return { kind: 'failed', code: 'itemWrite.nonRetryable' };
  return attempts < maxAttempts ? { kind: 'retry' } : { kind: 'failed', code: 'itemWrite.attemptsExhausted' };
}
