/**
 * What one TransactWriteItems / TransactGetItems call's answer means for its group: done, cancelled by a failed
 * condition (an outcome), retried, or failed; whether a failed attempt may have been applied; and which actions
 * DynamoDB blamed. Plain synchronous functions, tested with tables of inputs and outputs; the shell
 * (`src/operators/transactInternals.ts`) acts on them. The single-item engine's twin is `../itemWrite/decide.ts`.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { TransactionErrorCode, TransactionReason } from '../../errors.js';
import { isRetryableError, isThrottlingError } from '../retryable.js';
import type { Unmarshal } from '../unmarshal.js';

/** Cancellation reasons a retry may clear: the items were busy, or the table pushed back. */
const RETRYABLE_REASONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
/** Errors of the transaction APIs that a retry may clear, besides throttling and transient ones. */
const RETRYABLE_NAMES = new Set(['TransactionConflictException', 'TransactionInProgressException']);
const nameOf = (error: unknown) => (error as { name?: unknown } | undefined)?.name;

/** DynamoDB's `CancellationReasons` of an error, when it is a `TransactionCanceledException`. */
export function cancellationReasons(error: unknown): Array<{ Code?: string; Message?: string; Item?: Record<string, AttributeValue> }> {
  if (nameOf(error) !== 'TransactionCanceledException') return [];
  const reasons = (error as { CancellationReasons?: unknown }).CancellationReasons;
  return Array.isArray(reasons) ? reasons : [];
}

/** What one call's answer means for its group. Plain: tested with tables of inputs and outputs. */
export type TransactStep =
  | { kind: 'done' }
  /** A condition failed: DynamoDB applied nothing. An outcome, not an error. */
  | { kind: 'cancelled' }
  | { kind: 'retry' }
  | { kind: 'failed'; code: Exclude<TransactionErrorCode, 'transaction.invalidGroup'> };

/**
 * A call's answer → the group's step; `attempts` counts this call. A `TransactionCanceledException` whose reasons
 * include a failed condition is an outcome (`cancelled`), unless a reason other than conflict or throttling came with
 * it; one whose reasons are all conflicts or throttling is retried, as are `TransactionConflictException`,
 * `TransactionInProgressException`, throttling and transient errors, while attempts are left. Anything else fails.
 */
export function decideTransact(answer: { error: unknown } | { output: unknown }, attempts: number, maxAttempts: number): TransactStep {
  if (!('error' in answer)) return { kind: 'done' };
  const { error } = answer;
  const again: TransactStep = attempts < maxAttempts ? { kind: 'retry' } : { kind: 'failed', code: 'transaction.attemptsExhausted' };
  if (nameOf(error) === 'TransactionCanceledException') {
    const codes = cancellationReasons(error)
      .map((r) => r.Code)
      .filter((c) => c !== undefined && c !== 'None');
    const others = codes.filter((c) => !RETRYABLE_REASONS.has(c!));
    if (others.length === 0 && codes.length > 0) return again;
    if (others.length > 0 && others.every((c) => c === 'ConditionalCheckFailed')) return { kind: 'cancelled' };
    return { kind: 'failed', code: 'transaction.nonRetryable' };
  }
  if (isRetryableError(error) || RETRYABLE_NAMES.has(nameOf(error) as string)) return again;
  return { kind: 'failed', code: 'transaction.nonRetryable' };
}

/**
 * A transient error (not throttling, not a conflict), after which DynamoDB may have applied the call. Both engines tell
 * throttling apart with `isThrottlingError` (`../retryable.ts`).
 */
export function mayHaveApplied(error: unknown): boolean {
  return isRetryableError(error) && !isThrottlingError(error);
}

/** DynamoDB's reasons that are not `None`, each with the action it is about and, when returned, the item unmarshalled. */
export function reasonsOf(error: unknown, group: readonly unknown[], unmarshal: Unmarshal): TransactionReason[] {
  const reasons: TransactionReason[] = [];
  cancellationReasons(error).forEach((r, index) => {
    if (r.Code === undefined || r.Code === 'None') return;
    const reason: TransactionReason = { index, action: group[index], code: r.Code };
    if (r.Message) reason.message = r.Message;
    if (r.Item && Object.keys(r.Item).length > 0) {
      try {
        reason.item = unmarshal(r.Item);
      } catch (e) {
        reason.message = `${r.Message ?? r.Code} (the item DynamoDB returned could not be unmarshalled: ${(e as Error).message})`;
      }
    }
    reasons.push(reason);
  });
  return reasons;
}
