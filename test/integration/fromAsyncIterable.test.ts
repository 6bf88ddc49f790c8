import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { count, from, lastValueFrom, map, reduce, take, tap, timeout, toArray, type Observable } from 'rxjs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { backpressure, dynamoBatchWrite, fromAsyncIterable, type Item, dynamoScan } from 'rxjs-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
let dir: string;
beforeAll(async () => {
  client = localClient(inject('dynamoEndpoint'));
  dir = await mkdtemp(join(tmpdir(), 'rxjs-dynamodb-'));
});
afterAll(async () => {
  client.destroy();
  await rm(dir, { recursive: true, force: true });
});

const run = <T>(values$: Observable<T>) => lastValueFrom(values$.pipe(toArray()), { defaultValue: [] as T[] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.pk).localeCompare(String(b.pk));
const sorted = <T extends Record<string, unknown>>(list: T[]) => [...list].sort(byKey);

/** Writes `lines` NDJSON lines `{"pk":"i#<n>","n":<n>}` to a new file, in chunks, without holding them all. */
async function writeNdjson(name: string, lines: number): Promise<string> {
  const path = join(dir, name);
  const out = createWriteStream(path);
  const chunk = 10_000;
  for (let start = 0; start < lines; start += chunk) {
    let text = '';
    for (let n = start; n < Math.min(lines, start + chunk); n++) text += `{"pk":"i#${n}","n":${n}}\n`;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return path;
}
const linesOf = (path: string) => createInterface({ input: createReadStream(path), crlfDelay: Infinity });

describe('fromAsyncIterable', () => {
  it('should read the million lines of an NDJSON file, each parsed once, without collecting them', async () => {
    const path = await writeNdjson('million.ndjson', 1_000_000);

    const tally = await lastValueFrom(
      fromAsyncIterable(linesOf(path)).pipe(
        map((line) => JSON.parse(line) as { pk: string; n: number }),
        reduce(
          (acc, value) => ({
            lines: acc.lines + 1,
            sum: acc.sum + value.n,
            // line k is {"pk":"i#k","n":k}: in file order, none skipped or repeated
            inOrder: acc.inOrder && value.n === acc.lines && value.pk === `i#${acc.lines}`,
          }),
          { lines: 0, sum: 0, inOrder: true },
        ),
      ),
    );

    expect(tally).toEqual({ lines: 1_000_000, sum: (999_999 * 1_000_000) / 2, inOrder: true });
  });

  it('should pull only while the link is under its high-water mark, and go on as it is released', async () => {
    let pulled = 0;
    async function* numbers() {
      for (let i = 0; ; i++) {
        pulled += 1;
        yield i;
      }
    }
    const link = backpressure({ highWaterMark: 10 });
    const seen: number[] = [];

    const subscription = fromAsyncIterable(numbers(), { backpressure: link }).subscribe((n) => seen.push(n));
    await sleep(50);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(link.pending).toBe(10);
    expect(pulled).toBeLessThanOrEqual(11);

    link.release(4);
    await sleep(50);
    expect(seen).toHaveLength(14);
    expect(link.pending).toBe(10);
    subscription.unsubscribe();
  });

  it("should call the iterator's return() when unsubscribed, and pull no more", async () => {
    let pulled = 0;
    let finished = false;
    async function* numbers() {
      try {
        for (let i = 0; ; i++) {
          pulled += 1;
          yield i;
        }
      } finally {
        finished = true;
      }
    }

    const firstThree = await run(fromAsyncIterable(numbers()).pipe(take(3)));

    expect(firstThree).toEqual([0, 1, 2]);
    await sleep(20);
    expect(finished).toBe(true);
    expect(pulled).toBe(3);
  });

  it('should error with the iterator’s error, after the values before it', async () => {
    async function* failing() {
      yield 1;
      yield 2;
      throw new Error('disk gone');
    }
    const seen: number[] = [];

    const error = await lastValueFrom(fromAsyncIterable(failing()).pipe(tap((n) => seen.push(n)))).then(
      () => undefined,
      (e: unknown) => e as Error,
    );

    expect(seen).toEqual([1, 2]);
    expect(error?.message).toBe('disk gone');
  });

  it('should read a plain (sync) iterable', async () => {
    expect(await run(fromAsyncIterable(new Set(['a', 'b', 'c'])))).toEqual(['a', 'b', 'c']);
  });

  // Regression: `Symbol.asyncIterator in iterable` threw a TypeError on a primitive.
  it('should read a string, which is a sync iterable of its characters', async () => {
    expect(await run(fromAsyncIterable('abc'))).toEqual(['a', 'b', 'c']);
  });
});

describe('backpressure from a file and a scan into DynamoDB Local', () => {
  it('should write 10,000 NDJSON lines with the link never over highWaterMark + 1 and ending at 0', async () => {
    const path = await writeNdjson('ten-thousand.ndjson', 10_000);
    const table = await createTable(client, uniqueTable('FromFile'));
    const link = backpressure({ highWaterMark: 1_000 });
    let maxPending = 0;
    let lines = 0;

    const results = await run(
      fromAsyncIterable(linesOf(path), { backpressure: link }).pipe(
        tap(() => {
          lines += 1;
          maxPending = Math.max(maxPending, link.pending);
        }),
        map((line) => JSON.parse(line) as Item),
        dynamoBatchWrite(client, table, { backpressure: link, concurrency: 8 }),
        timeout({ each: 15_000 }),
      ),
    );

    expect(lines).toBe(10_000);
    expect(results.reduce((sum, r) => sum + r.requests.length, 0)).toBe(10_000);
    expect(maxPending).toBeLessThanOrEqual(link.highWaterMark + 1);
    expect(maxPending).toBeGreaterThan(100); // the source ran ahead of the writer, so the link held it back
    expect(link.pending).toBe(0);
    const stored = await scanAll(client, table);
    expect(stored).toHaveLength(10_000);
    expect(sorted(stored)).toEqual(sorted(Array.from({ length: 10_000 }, (_, n) => ({ pk: `i#${n}`, n }))));
  });

  describe('scan → transform → write between two tables', () => {
    let source: string;
    const items: Item[] = Array.from({ length: 5_000 }, (_, i) => ({ pk: `c#${i}`, n: i, status: i % 5 < 2 ? 'closed' : 'open' }));
    const transform = (item: Item): Item => ({ ...item, n: (item.n as number) * 2, archived: true, label: `#${item.n}` });

    beforeAll(async () => {
      source = await createTable(client, uniqueTable('CopySource'));
      await run(from(items).pipe(dynamoBatchWrite(client, source, { concurrency: 8 })));
    });

    it('should copy 5,000 items through a shared link, the target equal to the transformed source', async () => {
      const target = await createTable(client, uniqueTable('CopyTarget'));
      const link = backpressure({ highWaterMark: 1_000 });
      let maxPending = 0;

      await run(
        dynamoScan(client, { TableName: source, Limit: 250 }, { backpressure: link }).pipe(
          tap(() => (maxPending = Math.max(maxPending, link.pending))),
          map(transform),
          dynamoBatchWrite(client, target, { backpressure: link, concurrency: 8 }),
          timeout({ each: 15_000 }),
        ),
      );

      expect(link.pending).toBe(0);
      // a page is asked for only under the mark, and brings at most Limit items
      expect(maxPending).toBeLessThan(link.highWaterMark + 250);
      expect(sorted(await scanAll(client, target))).toEqual(sorted(items.map(transform)));
    });

    it('should not stall when link.filter drops more items than the high-water mark, releasing them', async () => {
      const target = await createTable(client, uniqueTable('CopyFiltered'));
      const link = backpressure({ highWaterMark: 1_000 });

      await run(
        dynamoScan(client, { TableName: source, Limit: 250 }, { backpressure: link }).pipe(
          link.filter((item: Item) => item.status === 'open'), // drops 2,000 of 5,000
          map(transform),
          dynamoBatchWrite(client, target, { backpressure: link, concurrency: 8 }),
          timeout({ each: 15_000 }),
        ),
      );

      expect(link.pending).toBe(0);
      const expected = items.filter((item) => item.status === 'open').map(transform);
      expect(expected).toHaveLength(3_000);
      expect(sorted(await scanAll(client, target))).toEqual(sorted(expected));
    });
  });
});

// `count` is the memory-flat alternative to toArray for a plain tally; keep it exercised on a file too.
describe('fromAsyncIterable with count()', () => {
  it('should count the lines of a file read through readline', async () => {
    const path = await writeNdjson('small.ndjson', 12_345);

    expect(await lastValueFrom(fromAsyncIterable(linesOf(path)).pipe(count()))).toBe(12_345);
  });
});
