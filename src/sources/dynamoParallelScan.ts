import { asyncScheduler, catchError, defer, from, mergeMap, type Observable, tap } from 'rxjs';
import { SourceError } from '../errors.js';
import { toBudget } from '../capacity.js';
import type { DynamoDBSender, Item, Key } from '../types.js';
import { paginate, readController, type ScanInput, type SourceOptions, validateSourceInput } from './pageInternals.js';

export interface ParallelScanOptions extends Omit<SourceOptions, 'startKey'> {
  /** Segments the table is split into (DynamoDB's `TotalSegments`, 1 to 1,000,000). */
  totalSegments: number;
  /**
   * The segments this call scans, e.g. `[0, 1, 2, 3]` of 16, so that several machines or Lambda invocations each take
   * a share and nothing is read twice. @default all of them
   */
  segments?: number[];
  /** Segments scanned at once. @default all of `segments` */
  concurrency?: number;
  /** Where each segment starts: its last page's `lastEvaluatedKey` from an earlier run, by segment number. @default {} */
  startKeys?: Record<number, Key>;
}

/**
 * Every item of a table, with its segments scanned side by side (Scan's `Segment` / `TotalSegments`). Segments are
 * disjoint and together cover the table; `segments` takes a share of them.
 *
 * ```
 * segment 0:  -a---b|
 * segment 1:  --c-d---e|
 * > dynamoParallelScan(client, { TableName: 'Tickets' }, { totalSegments: 2 })
 * items:      -ac-db--e|
 * ```
 *
 * ## Example
 * ```ts
 * import { dynamoParallelScan } from 'rxjs-dynamodb';
 * // this worker takes segments 0-3 of 16; three others take the rest
 * dynamoParallelScan<Ticket>(client, { TableName: 'Tickets' }, { totalSegments: 16, segments: [0, 1, 2, 3] }).subscribe(process);
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param input The Scan input in the document model (without `Segment` / `TotalSegments`).
 * @param options `totalSegments`, `segments`, `concurrency`, and the options of `dynamoScan`.
 * @returns An Observable of items, interleaved across segments.
 * @see dynamoScan
 */
export function dynamoParallelScan<T extends object = Item>(
  client: DynamoDBSender,
  input: ScanInput,
  options: ParallelScanOptions,
): Observable<T> {
  const { totalSegments, startKeys = {}, capacity: budgetOption, ...rest } = options;
  validateSourceInput(input);
  // one budget for every segment, so that together they stay within it
  const budget = toBudget(budgetOption);
  if (!(Number.isInteger(totalSegments) && totalSegments >= 1 && totalSegments <= 1_000_000))
    throw new RangeError(`totalSegments must be an integer from 1 to 1000000, got ${totalSegments}`);
  const segments = options.segments ?? Array.from({ length: totalSegments }, (_, i) => i);
  for (const s of segments)
    if (!(Number.isInteger(s) && s >= 0 && s < totalSegments))
      throw new RangeError(`segments must be integers from 0 to ${totalSegments - 1}, got ${s}`);
  if (new Set(segments).size !== segments.length) throw new RangeError(`segments must not repeat, got [${segments.join(', ')}]`);
  const { concurrency = Math.max(1, segments.length) } = options;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
  return defer(() => {
    // where each segment stands, for the error that lets a stopped scan go on: done, or its last page's key
    const left = new Set(segments);
    const at: Record<number, Key> = { ...startKeys };
    // every segment reads the same table: one controller paces them together
    const shared =
      (rest.throughput ?? 'unlimited') === 'adaptive'
        ? { controller: readController(budget, input.TableName ?? '', rest.scheduler ?? asyncScheduler) }
        : {};
    return from(segments).pipe(
      mergeMap(
        (segment) =>
          paginate<T>(
            client,
            'scan',
            { ...input, Segment: segment, TotalSegments: totalSegments },
            { ...rest, capacity: budget, startKey: startKeys[segment] },
            shared,
          ).pipe(
            tap({
              next: (page) => (page.lastEvaluatedKey ? (at[segment] = page.lastEvaluatedKey) : delete at[segment]),
              complete: () => left.delete(segment),
            }),
            mergeMap((page) => page.items),
          ),
        concurrency,
      ),
      catchError((error: unknown) => {
        const remaining = [...left].sort((a, b) => a - b);
        const keys = Object.fromEntries(remaining.filter((s) => at[s] !== undefined).map((s) => [s, at[s]!]));
        const cause = error instanceof SourceError ? (error.cause ?? error) : error;
        const e = cause as { name?: string; message?: string };
        throw new SourceError(
          `Parallel scan of ${input.TableName} failed with ${e?.name}: ${e?.message}. Segments ${remaining.join(', ')} are not finished: pass .segments and .startKeys to go on.`,
          undefined,
          cause,
          remaining,
          keys,
        );
      }),
    );
  });
}
