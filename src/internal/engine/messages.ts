/**
 * What the engine says when a request fails: one sentence naming the operation, the table and key, and what to do.
 * Plain functions of plain data.
 */
import type { Failure } from './decide.js';

/** The words of one operation: `BatchWriteItem`, `request`, `written`; or `BatchGetItem`, `key`, `read`. */
export interface Words {
  operation: string;
  noun: string;
  verb: string;
}

const named = (error: unknown) => {
  const e = error as { name?: string; message?: string } | undefined;
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
};

/** Why one request failed, naming it (`where` is `table T, pk="1"`). */
export function failureMessage(
  w: Words,
  failure: Pick<Failure<unknown>, 'kind' | 'cause'>,
  where: string,
  attempts: number,
  split: boolean,
): string {
  switch (failure.kind) {
    case 'rejected':
      return `DynamoDB rejected the ${w.noun} for ${where} with ${named(failure.cause)}. It was not ${w.verb}${
        split ? `; its call was split so that the other ${w.noun}s were not rejected with it` : ''
      }.`;
    case 'fatal':
      return `${w.operation} failed with ${named(failure.cause)}. The ${w.noun} for ${where} was not ${w.verb}.`;
    case 'exhausted':
      return `The ${w.noun} for ${where} was still unprocessed after ${attempts} ${w.operation} calls${
        failure.cause ? ` (last error ${(failure.cause as Error).name})` : ''
      }; lower concurrency, raise maxAttempts or the table's capacity.`;
  }
}

/** Why the stream stops: the first failure, and how many of its call failed alike. */
export function stopMessage(w: Words, first: string, failedInCall: number, callSize: number): string {
  if (failedInCall <= 1) return `${first} The stream stopped; everything not ${w.verb} is in .unprocessed.`;
  return `${failedInCall} of ${callSize} ${w.noun}s of a call failed; the first: ${first} The stream stopped; everything not ${w.verb} is in .unprocessed.`;
}

/** A request the engine refused before any call, or whose table could not be described. */
export function describeFailedMessage(table: string, error: unknown): string {
  return `DescribeTable for ${table} failed: ${named(error)}`;
}
