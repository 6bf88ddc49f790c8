import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export interface BufferBatchOptions<T> {
  /** Values per batch. @default 25 */
  maxCount?: number;
  /** Bytes per batch, as counted by `byteSize`; a batch closes before a value would pass it. @default Infinity */
  maxBytes?: number;
  /** The bytes a value adds to a batch. Needed with `maxBytes`. @default () => 0 */
  byteSize?: (value: T) => number;
  /**
   * Identity of a value within a batch. When given, a value whose key is already in the open batch replaces the
   * earlier one in place (through `merge`) instead of joining it: a batch never holds one key twice.
   */
  key?: (value: T) => string;
  /** Combines an earlier value and a later one with the same key. @default (earlier, later) => later */
  merge?: (earlier: T, later: T) => T;
  /** Closes a batch this long after its first value, full or not. @default Infinity (only count, bytes and completion) */
  maxWaitMs?: number;
  /** For `maxWaitMs`. @default asyncScheduler */
  scheduler?: SchedulerLike;
  /** Closes the open batch, full or not, whenever this emits (a backpressure link's `stalled`, for one). @default never */
  flushWhen?: Observable<unknown>;
}

/**
 * A size-aware `bufferCount`: collects values into batches of at most `maxCount` values and `maxBytes` bytes,
 * closing a batch before a value would pass the byte limit; with `key`, a later value for a key already in the open
 * batch replaces the earlier one. Emits what is left when the source completes; on error, the open batch is dropped
 * (as `bufferCount` does). A single value over `maxBytes` errors the stream with a RangeError.
 *
 * ```
 * source:   --a--b--c--d--e--|
 * > bufferBatch({ maxCount: 2 })
 * result:   -----x-----y-----(z|)     x = [a, b], y = [c, d], z = [e]
 * ```
 *
 * ## Example
 * ```ts
 * import { bufferBatch } from 'rxjs-dynamodb';
 * requests$.pipe(bufferBatch({ maxCount: 25, maxBytes: 16 * 1024 * 1024, byteSize: (r) => JSON.stringify(r).length }));
 * ```
 *
 * @param options Limits, byte measure, key and merge, time limit.
 * @returns An operator from values to arrays of values.
 */
export function bufferBatch<T>(options: BufferBatchOptions<T> = {}): OperatorFunction<T, T[]> {
  const {
    maxCount = 25,
    maxBytes = Infinity,
    byteSize = () => 0,
    key,
    merge = (_: T, later: T) => later,
    maxWaitMs = Infinity,
    scheduler = asyncScheduler,
    flushWhen,
  } = options;
  if (!(Number.isInteger(maxCount) && maxCount >= 1)) throw new RangeError(`maxCount must be an integer >= 1, got ${maxCount}`);
  if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be > 0, got ${maxBytes}`);
  if (!(maxWaitMs > 0)) throw new RangeError(`maxWaitMs must be > 0, got ${maxWaitMs}`);

  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let sizes: number[] = [];
      let bytes = 0;
      const positions = new Map<string, number>();
      let timeout: Subscription | undefined;

      const flush = () => {
        timeout?.unsubscribe();
        timeout = undefined;
        if (batch.length === 0) return;
        const full = batch;
        batch = [];
        sizes = [];
        bytes = 0;
        positions.clear();
        subscriber.next(full);
      };
      const append = (value: T, size: number, k: string | undefined) => {
        if (size > maxBytes) throw new RangeError(`a value of ${size} bytes is over maxBytes (${maxBytes}) and cannot be batched`);
        if (bytes + size > maxBytes) flush();
        if (k !== undefined) positions.set(k, batch.length);
        batch.push(value);
        sizes.push(size);
        bytes += size;
        if (batch.length === 1 && maxWaitMs !== Infinity) timeout = scheduler.schedule(flush, maxWaitMs);
        if (batch.length >= maxCount) flush();
      };
      const replace = (at: number, value: T, k: string) => {
        const merged = merge(batch[at]!, value);
        const size = byteSize(merged);
        if (bytes - sizes[at]! + size <= maxBytes) {
          bytes += size - sizes[at]!;
          batch[at] = merged;
          sizes[at] = size;
          return;
        }
        // The merged value no longer fits: take the earlier one out, close the batch, start the next with the merge.
        bytes -= sizes[at]!;
        batch.splice(at, 1);
        sizes.splice(at, 1);
        positions.clear();
        flush();
        append(merged, size, k);
      };

      const flushes = flushWhen?.subscribe(() => flush());
      const subscription = source.subscribe({
        next: (value) => {
          try {
            const k = key?.(value);
            const at = k === undefined ? undefined : positions.get(k);
            if (at !== undefined) replace(at, value, k!);
            else append(value, byteSize(value), k);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        flushes?.unsubscribe();
        timeout?.unsubscribe();
      };
    });
}
