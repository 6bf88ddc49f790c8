/**
 * What one call's answer means for each entry it carried — written (or read), sent again, or failed with its own
 * reason — as a plain function of the answer, tested with tables of inputs and outputs. No RxJS, no clock.
 */
import type { Entry } from './entry.js';

/** What a call gave back: its answer (which entries came back unprocessed, which were rejected alone), or the error it threw. */
export type CallAnswer<R> = { unprocessed: Array<Entry<R>>; rejected: Array<{ entry: Entry<R>; error: unknown }> } | { error: unknown };

/** Why an entry failed for good. */
export type FailureKind =
  /** DynamoDB rejected this request alone (the call was split down to it). */
  | 'rejected'
  /** The whole call failed with an error that is not retried. */
  | 'fatal'
  /** Still unprocessed, or still throttled, after `maxAttempts` calls. */
  | 'exhausted';

export interface Failure<R> {
  entry: Entry<R>;
  kind: FailureKind;
  /** The error behind it: DynamoDB's, or the last throttling error; absent when it simply kept coming back unprocessed. */
  cause?: unknown;
}

export interface Decision<R> {
  done: Array<Entry<R>>;
  again: Array<Entry<R>>;
  failed: Array<Failure<R>>;
  /** DynamoDB pushed back: it returned requests unprocessed, or the call threw a retryable error. */
  pushedBack: boolean;
}

/**
 * Sorts the entries of a call. `attempts` on each entry already counts this call. An unprocessed entry goes again
 * while it has attempts left; a call that threw a retryable error leaves all its entries unprocessed; one that threw
 * another error fails them all.
 */
export function decide<R>(
  entries: Array<Entry<R>>,
  answer: CallAnswer<R>,
  maxAttempts: number,
  isRetryable: (error: unknown) => boolean,
): Decision<R> {
  const decision: Decision<R> = { done: [], again: [], failed: [], pushedBack: false };
  if ('error' in answer) {
    const retryable = isRetryable(answer.error);
    decision.pushedBack = retryable;
    for (const entry of entries) {
      if (!retryable) decision.failed.push({ entry, kind: 'fatal', cause: answer.error });
      else if (entry.attempts >= maxAttempts) decision.failed.push({ entry, kind: 'exhausted', cause: answer.error });
      else decision.again.push(entry);
    }
    return decision;
  }
  const left = new Set<Entry<R>>(answer.unprocessed);
  for (const { entry, error } of answer.rejected) {
    left.add(entry);
    decision.failed.push({ entry, kind: 'rejected', cause: error });
  }
  decision.pushedBack = answer.unprocessed.length > 0;
  for (const entry of answer.unprocessed) {
    if (entry.attempts >= maxAttempts) decision.failed.push({ entry, kind: 'exhausted' });
    else decision.again.push(entry);
  }
  for (const entry of entries) if (!left.has(entry)) decision.done.push(entry);
  return decision;
}
