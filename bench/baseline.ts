/**
 * The bare baseline the operator is measured against: pre-built, pre-marshalled 25-item batches sent with
 * BatchWriteItemCommand by a plain promise pool (N workers pulling the next batch from a shared index). Unprocessed
 * items are re-sent with exponential backoff and full jitter (the operator's defaults: base 100 ms, cap 20 s); a thrown
 * ProvisionedThroughputExceededException counts as the whole call unprocessed. A worker sleeps through its backoff
 * (it keeps its pool slot), as a hand-written pool does.
 */
import { BatchWriteItemCommand, type BatchWriteItemCommandOutput, type WriteRequest as WireWriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

/** The one method the baseline needs: `DynamoDBClient`, a wrapper of it, or the bench's fake. */
export interface BatchWriteSender {
  send(command: BatchWriteItemCommand): Promise<BatchWriteItemCommandOutput>;
}

export interface BaselineOptions {
  /** Workers, i.e. calls in flight at most. */
  concurrency: number;
  /** @default 100 */
  baseDelayMs?: number;
  /** @default 20000 */
  maxDelayMs?: number;
  /** Calls per batch before giving up, as the operator's default. @default 10 */
  maxAttempts?: number;
}

export interface BaselineOutcome {
  /** Items acknowledged as written. */
  written: number;
  /** BatchWriteItem calls made (a thrown call included). */
  calls: number;
  /** The first error that stopped the pool, if any. */
  error?: unknown;
}

/** Marshals `items` into batches of `size` PutRequests. Done before timing starts. */
export function prebuildBatches(items: Record<string, unknown>[], size = 25): WireWriteRequest[][] {
  const batches: WireWriteRequest[][] = [];
  for (let i = 0; i < items.length; i += size) {
    batches.push(items.slice(i, i + size).map((item) => ({ PutRequest: { Item: marshall(item) } })));
  }
  return batches;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes every batch to `table`; resolves with what was written (and the error that stopped it, if one did). */
export async function baselineWrite(
  client: BatchWriteSender,
  table: string,
  batches: WireWriteRequest[][],
  options: BaselineOptions,
): Promise<BaselineOutcome> {
  const { concurrency, baseDelayMs = 100, maxDelayMs = 20_000, maxAttempts = 10 } = options;
  const outcome: BaselineOutcome = { written: 0, calls: 0 };
  let next = 0;
  let stopped = false;

  const worker = async (): Promise<void> => {
    while (!stopped) {
      const index = next++;
      if (index >= batches.length) return;
      let pending = batches[index]!;
      for (let attempt = 1; ; attempt++) {
        let unprocessed: WireWriteRequest[];
        outcome.calls += 1;
        try {
          const output = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
          unprocessed = output.UnprocessedItems?.[table] ?? [];
        } catch (error) {
          if ((error as { name?: unknown } | null)?.name !== 'ProvisionedThroughputExceededException') throw error;
          unprocessed = pending;
        }
        outcome.written += pending.length - unprocessed.length;
        if (unprocessed.length === 0) break;
        if (attempt >= maxAttempts)
          throw new Error(`baseline: ${unprocessed.length} items of batch ${index} still unprocessed after ${attempt} calls`);
        await sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
        pending = unprocessed;
      }
    }
  };

  const workers = Array.from({ length: concurrency }, () =>
    worker().catch((error: unknown) => {
      stopped = true; // the other workers finish their current batch and stop: nothing leaks into the next run
      outcome.error ??= error;
    }),
  );
  await Promise.all(workers);
  return outcome;
}
