/**
 * What the transaction engine says when a group fails or the stream stops: sentences naming the group, the actions
 * DynamoDB blamed, and what to do. Plain functions of plain data. The single-item engine's twin is
 * `../itemWrite/messages.ts`.
 */
import type { TransactionErrorCode, TransactionReason } from '../../errors.js';

const named = (error: unknown) => {
  const e = error as { name?: string; message?: string } | undefined;
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
};

/**
 * Why a group failed, naming it, the actions DynamoDB blamed, and what to do. `uncertain`: an attempt failed with a
 * transient error, after which DynamoDB may have applied the group; `token`: its attempts carried a token, so sending
 * the same group again within 10 minutes cannot apply it twice.
 */
export function transactFailureMessage(
  operation: string,
  index: number,
  code: TransactionErrorCode,
  cause: unknown,
  reasons: TransactionReason[],
  where: (action: number) => string,
  attempts: number,
  uncertain: boolean,
  token: boolean,
): string {
  const blamed = reasons.map((r) => `${where(r.index)}: ${r.code}${r.message ? ` (${r.message})` : ''}`).join('; ');
  const why = blamed ? `${named(cause)} — ${blamed}` : named(cause);
  const maybe = token
    ? 'An attempt failed with a transient error after which DynamoDB may have applied the group; sending the same group again within 10 minutes is safe (its token makes DynamoDB apply it at most once).'
    : 'An attempt failed with a transient error after which DynamoDB may have applied the group: read the items before sending it again.';
  if (code === 'transaction.nonRetryable')
    return `${operation} of group ${index} failed with ${why}. It was not retried. ${
      uncertain ? maybe : 'Nothing in the group was applied: fix the group, then send it again.'
    }`;
  return `${operation} of group ${index} still failed after ${attempts} attempts (last ${why}). ${
    uncertain
      ? maybe
      : 'Nothing in the group was applied: send it again later, lower concurrency, or raise maxAttempts or the table capacity.'
  }`;
}

/** A group refused because the key attributes of one of its tables could not be read. */
export function describeFailedMessage(table: string, index: number, cause: unknown): string {
  return `DescribeTable of ${table} failed with ${named(cause)}; the table's key attributes are needed to check group ${index} (pass keyAttributes to do without). It was not sent.`;
}

/** A group whose `prepare` threw. */
export function prepareFailedMessage(index: number, cause: unknown): string {
  return `Group ${index} could not be prepared: ${(cause as Error).message}. It was not sent.`;
}

/** A group that succeeded, whose answer could not be unmarshalled. */
export function unmarshalFailedMessage(operation: string, index: number, cause: unknown): string {
  return `${operation} of group ${index} succeeded, but what DynamoDB returned could not be unmarshalled: ${(cause as Error).message}`;
}

/** `'error'` mode: the first failure's message, and how many groups taken and not settled are handed back. */
export function stoppedMessage(message: string, n: number): string {
  return `${message} The stream stopped (onFailure: 'error'): ${n} group${n === 1 ? '' : 's'} taken and not settled ${n === 1 ? 'is' : 'are'} in unprocessed.`;
}
