/**
 * What the single-item engine says when a request fails or the stream stops: sentences naming the operation, the
 * table and key, and what to do. Plain functions of plain data. The transaction engine's twin is
 * `../transact/messages.ts`.
 */
import type { ItemWriteErrorCode } from '../../errors.js';
import { describeKeyValues } from '../engine/entry.js';
import type { PreparedWrite } from './prepare.js';

const named = (error: unknown) => {
  const e = error as { name?: string; message?: string } | undefined;
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
};

/** `table T, key pk="a", sk=1`. */
export const whereOf = (table: string, key: Pick<PreparedWrite, 'key' | 'attributes'>) =>
  `table ${table}, key ${describeKeyValues(key.key, key.attributes)}`;

/** Why a request failed, naming its table and key, and what to do. */
export function itemFailureMessage(
  operation: string,
  where: string,
  code: ItemWriteErrorCode,
  cause: unknown,
  attempts: number,
  uncertain: boolean,
): string {
  if (code === 'itemWrite.nonRetryable')
    return `${operation} on ${where} failed with ${named(cause)}. It was not retried${uncertain ? ' (an earlier attempt failed with a transient error and may have been applied)' : ' and was not written'}: fix the request, then send it again.`;
  return `${operation} on ${where} still failed after ${attempts} attempts (last ${named(cause)}). ${
    uncertain
      ? 'Some attempts failed with a transient error, after which DynamoDB may have applied the write: read the item before sending a write that is not idempotent again.'
      : 'It was not written: send it again later, lower concurrency, or raise maxAttempts or the table capacity.'
  }`;
}

/** A request refused because the table's key attributes could not be read. */
export function describeFailedMessage(table: string, cause: unknown): string {
  return `DescribeTable of ${table} failed with ${named(cause)}; the table's key attributes are needed to find each item's key (pass keyAttributes to do without). The request was not sent.`;
}

/** A write that landed, whose returned attributes could not be unmarshalled. */
export function unmarshalFailedMessage(operation: string, where: string, cause: unknown): string {
  return `${operation} on ${where} was applied, but what DynamoDB returned could not be unmarshalled: ${(cause as Error).message}`;
}

/** `'error'` mode: the first failure's message, and how many requests taken and not written are handed back. */
export function stoppedMessage(message: string, n: number): string {
  return `${message} The stream stopped (onFailure: 'error'): ${n} request${n === 1 ? '' : 's'} taken and not written ${n === 1 ? 'is' : 'are'} in unprocessed.`;
}
