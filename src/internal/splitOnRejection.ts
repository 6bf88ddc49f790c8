import { catchError, concat, type Observable, of, reduce, throwError } from 'rxjs';
import { isRetryableError } from './retryable.js';
import type { CallOutcome } from '../types.js';

/**
 * DynamoDB rejects a whole batch call with a ValidationException when one request in it is bad. This wraps a call so
 * that such a call is halved, and halved again, until the offenders stand alone: only they are `rejected`, each with
 * its own error, and the rest is sent (within the same attempt). A half that then fails with a retryable error
 * comes back unprocessed, to be retried as usual; a half that fails with another error is rejected alone.
 */
export function splitOnRejection<T, R>(
  callOnce: (requests: T[]) => Observable<CallOutcome<T, R>>,
  combine: (a: R | undefined, b: R | undefined) => R | undefined,
): (requests: T[]) => Observable<CallOutcome<T, R | undefined>> {
  const send = (requests: T[]): Observable<CallOutcome<T, R | undefined>> =>
    callOnce(requests).pipe(
      catchError((error: unknown) => {
        if ((error as { name?: unknown } | null)?.name !== 'ValidationException') return throwError(() => error);
        if (requests.length === 1) return of({ unprocessed: [], rejected: [{ request: requests[0]!, error }], response: undefined });
        // a half is its own call: a retryable error leaves it unprocessed, any other error fails it alone, so that
        // what the other half wrote is not lost with it
        const half = (part: T[]) =>
          send(part).pipe(
            catchError((e: unknown) =>
              of<CallOutcome<T, R | undefined>>(
                isRetryableError(e)
                  ? { unprocessed: part, response: undefined }
                  : { unprocessed: [], rejected: part.map((request) => ({ request, error: e })), response: undefined },
              ),
            ),
          );
        const middle = Math.ceil(requests.length / 2);
        return concat(half(requests.slice(0, middle)), half(requests.slice(middle))).pipe(
          reduce((a, b): CallOutcome<T, R | undefined> => ({
            unprocessed: [...a.unprocessed, ...b.unprocessed],
            rejected: [...(a.rejected ?? []), ...(b.rejected ?? [])],
            response: combine(a.response, b.response),
          })),
        );
      }),
    );
  return send;
}
