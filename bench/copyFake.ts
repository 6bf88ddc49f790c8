/**
 * The memory bench's in-process client (bench/memory.ts): one fake that is both the source table and the target.
 *
 * - Scan: pages of `PAGE_ITEMS` marshalled items `{ pk: 'item#N', n: N, text: ~150 chars }`, each after a real
 *   `setTimeout` of `SCAN_DELAY_MS`. Items are generated on demand from where the page starts (the `pk` in
 *   `ExclusiveStartKey`, as DynamoDB's `LastEvaluatedKey` gives it): the table is never held in memory.
 * - BatchWriteItem: `{ UnprocessedItems: {} }` after `WRITE_DELAY_MS`; only the number of requests is kept.
 *
 * With 1,000 items per 5 ms page the source gives 200,000 items/s; with 25 items per 5 ms call and 8 calls in flight
 * the writer takes 40,000 items/s: 5x slower.
 */
import { type AttributeValue, BatchWriteItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { performance } from 'node:perf_hooks';

export const PAGE_ITEMS = 1_000;
export const SCAN_DELAY_MS = 5;
export const WRITE_DELAY_MS = 5;
/** The operator's `concurrency` in the job, and so the writer's calls in flight. */
export const WRITE_CONCURRENCY = 8;
/** The operator's default (and DynamoDB's maximum) requests per BatchWriteItem call. */
export const WRITE_BATCH_ITEMS = 25;
/** The job's backpressure link: `backpressure({ highWaterMark: HIGH_WATER_MARK })`. */
export const HIGH_WATER_MARK = 10_000;
export const SOURCE_ITEMS_PER_SEC = (PAGE_ITEMS * 1000) / SCAN_DELAY_MS;
export const WRITER_ITEMS_PER_SEC = (WRITE_BATCH_ITEMS * WRITE_CONCURRENCY * 1000) / WRITE_DELAY_MS;

const FILLER = 'The quick brown fox jumps over the lazy dog while the source pages a thousand items at a time. ';

/** Item N of the source table, marshalled. */
export function wireItem(n: number): Record<string, AttributeValue> {
  return { pk: { S: `item#${n}` }, n: { N: `${n}` }, text: { S: `${n} ${FILLER}${FILLER}`.slice(0, 150) } };
}

export interface CopyFake {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  /** Items the Scan pages have handed out so far. */
  readonly itemsRead: number;
  /** Put requests received over all BatchWriteItem calls. */
  readonly requests: number;
  /** BatchWriteItem calls answered. */
  readonly calls: number;
  /** `performance.now()` when the last page was answered; undefined before. */
  readonly lastPageAt: number | undefined;
}

const metadata = { httpStatusCode: 200, attempts: 1, totalRetryDelay: 0 };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A fake over a source table of `totalItems` items (`item#0 … item#(totalItems-1)`). */
export function copyFake(totalItems: number): CopyFake {
  let itemsRead = 0;
  let requests = 0;
  let calls = 0;
  let lastPageAt: number | undefined;
  return {
    async send(command) {
      if (command instanceof ScanCommand) {
        await sleep(SCAN_DELAY_MS);
        const startKey = command.input.ExclusiveStartKey?.pk?.S;
        const start = startKey === undefined ? 0 : Number(startKey.slice('item#'.length)) + 1;
        const end = Math.min(start + PAGE_ITEMS, totalItems);
        const Items: Array<Record<string, AttributeValue>> = [];
        for (let n = start; n < end; n++) Items.push(wireItem(n));
        itemsRead += Items.length;
        const more = end < totalItems;
        if (!more) lastPageAt = performance.now();
        return {
          Items,
          Count: Items.length,
          ScannedCount: Items.length,
          ...(more ? { LastEvaluatedKey: { pk: { S: `item#${end - 1}` } } } : {}),
          $metadata: metadata,
        };
      }
      if (command instanceof BatchWriteItemCommand) {
        await sleep(WRITE_DELAY_MS);
        calls += 1;
        for (const list of Object.values(command.input.RequestItems ?? {})) requests += list.length;
        return { UnprocessedItems: {}, $metadata: metadata };
      }
      throw new Error(`copy fake: unexpected command ${(command as object)?.constructor?.name}`);
    },
    get itemsRead() {
      return itemsRead;
    },
    get requests() {
      return requests;
    },
    get calls() {
      return calls;
    },
    get lastPageAt() {
      return lastPageAt;
    },
  };
}
