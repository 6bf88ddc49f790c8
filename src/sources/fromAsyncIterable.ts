import { firstValueFrom, Observable } from 'rxjs';
import type { Backpressure } from '../backpressure.js';

/**
 * Values of an async (or sync) iterable — a file's lines, a generator, a Node.js stream — as an Observable that
 * pulls the next value only when asked: with a backpressure link, only while the sink keeps up, so that ETL input
 * that is not DynamoDB enters the same pipelines with memory that stays flat. Unsubscribing stops pulling and calls
 * the iterator's `return()`. That closes a Node.js stream iterated directly, but not a `readline` interface: close
 * that one yourself (`finalize(() => lines.close())`), or a stopped pipeline reads the file to its end.
 *
 * ```
 * iterable:  a b c d …
 * > fromAsyncIterable(lines, { backpressure: link })
 * values:    -a-b-c-----d--       (waits while the link is at its high-water mark)
 * ```
 *
 * ## Example
 * ```ts
 * import { createReadStream } from 'node:fs';
 * import { createInterface } from 'node:readline';
 * import { map } from 'rxjs';
 * import { backpressure, dynamoBatchWrite, fromAsyncIterable } from 'rxjs-dynamodb';
 * const link = backpressure({ highWaterMark: 5_000 });
 * fromAsyncIterable(createInterface({ input: createReadStream('tickets.ndjson') }), { backpressure: link })
 *   .pipe(map((line) => JSON.parse(line)), dynamoBatchWrite(client, 'Tickets', { backpressure: link }))
 *   .subscribe();
 * ```
 *
 * @param iterable What to read.
 * @param options `backpressure`: the link to wait on. @default none: read as fast as the iterable gives
 * @returns An Observable of the iterable's values.
 */
export function fromAsyncIterable<T>(
  iterable: AsyncIterable<T> | Iterable<T>,
  options: { backpressure?: Backpressure } = {},
): Observable<T> {
  const { backpressure: link } = options;
  return new Observable<T>((subscriber) => {
    const asyncIterate = (iterable as Partial<AsyncIterable<T>>)[Symbol.asyncIterator];
    const iterator: AsyncIterator<T> | Iterator<T> =
      typeof asyncIterate === 'function' ? asyncIterate.call(iterable) : (iterable as Iterable<T>)[Symbol.iterator]();
    let stopped = false;
    void (async () => {
      try {
        for (;;) {
          if (link && link.pending >= link.highWaterMark) await firstValueFrom(link.ready());
          if (stopped) return;
          const next = await iterator.next();
          if (stopped) return;
          if (next.done) return subscriber.complete();
          link?.emitted(1);
          subscriber.next(next.value);
        }
      } catch (error) {
        if (!stopped) subscriber.error(error);
      }
    })();
    return () => {
      stopped = true;
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
    };
  });
}
