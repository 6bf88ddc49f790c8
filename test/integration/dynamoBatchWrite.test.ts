import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { firstValueFrom, from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  BatchWriteError,
  type BatchWriteResult,
  type DynamoDBSender,
  dynamoBatchWrite,
  InvalidRequestError,
  type Item,
  itemSize,
  MAX_ITEM_BYTES,
  MAX_REQUEST_BYTES,
  type WriteRequest,
} from '../../src/index.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { byKey, run, sorted } from '../helpers/results.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

const putsOf = (results: BatchWriteResult[]) => results.flatMap((r) => r.requests).map((r) => ('put' in r ? r.put : undefined));

/** Every kind of attribute value DynamoDB stores: numbers, strings, nested maps and lists, sets, binary, booleans, null. */
const richItem = (i: number): Item => ({
  pk: `item#${i}`,
  n: i,
  negative: -i - 0.5,
  large: 12_345_678_901_234 + i,
  text: `ticket ${i} — ünïcödé ✓`,
  empty: '',
  flag: i % 2 === 0,
  nothing: null,
  list: [i, 'two', { three: 3 }, [true, null]],
  map: { a: { b: { c: `deep ${i}` } }, ratio: i * 1.5 },
  tags: new Set([`t${i % 7}`, 'all']),
  numbers: new Set([i, i + 0.25]),
  bin: new Uint8Array([i & 255, (i >> 8) & 255, 0, 255]),
  bins: new Set([new Uint8Array([1, i & 255]), new Uint8Array([2])]),
});

/** The bodies of the BatchWriteItem calls made through `client`, measured as they leave; one over 16 MiB is never sent. */
function measureBodies(c: DynamoDBClient): number[] {
  const sizes: number[] = [];
  c.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (request.headers?.['x-amz-target']?.endsWith('.BatchWriteItem')) {
        const body = request.body;
        const size = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : Number.NaN;
        sizes.push(size);
        // Never let an oversized body reach DynamoDB Local: it can crash the test worker (DYNAMODB-FACTS.md §1).
        if (!(size < MAX_REQUEST_BYTES)) {
          throw Object.assign(new Error(`BatchWriteItem body of ${size} bytes is over 16 MiB; not sent`), {
            name: 'RequestBodyTooLarge',
            $fault: 'client',
          });
        }
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: 'measureBatchWriteBody' },
  );
  return sizes;
}

describe('dynamoBatchWrite against DynamoDB Local', () => {
  it.each([
    ['a DynamoDBClient', (c: DynamoDBClient): DynamoDBSender => c],
    ['a DynamoDBDocumentClient', (c: DynamoDBClient): DynamoDBSender => DynamoDBDocumentClient.from(c)],
  ])('should write 5,000 items of every attribute type with %s, exactly as given', async (_, wrap) => {
    const table = await createTable(client, uniqueTable('Write'));
    const items = Array.from({ length: 5_000 }, (_, i) => richItem(i));

    const results = await run(from(items).pipe(dynamoBatchWrite(wrap(client), table, { concurrency: 8 })));

    expect(results.reduce((sum, r) => sum + r.requests.length, 0)).toBe(5_000);
    expect(results.every((r) => r.requests.length >= 1 && r.requests.length <= 25)).toBe(true);
    expect(results.every((r) => r.failed === undefined && r.attempts === 1)).toBe(true);
    expect(sorted(putsOf(results) as Item[])).toEqual(sorted(items));
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items));
  });

  it('should write 2,000 items to a table with a number sort key', async () => {
    const table = await createTable(client, uniqueTable('WriteSk'), { sortKey: 'N' });
    const items = Array.from({ length: 2_000 }, (_, i) => ({ pk: `p#${i % 20}`, sk: Math.floor(i / 20) - 50, body: `b${i}` }));

    const results = await run(from(items).pipe(dynamoBatchWrite(client, table)));

    expect(results.reduce((sum, r) => sum + r.requests.length, 0)).toBe(2_000);
    expect(results.every((r) => r.requests.length <= 25)).toBe(true);
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items));
  });

  it('should end with the last item per key when a key repeats in the stream', async () => {
    const table = await createTable(client, uniqueTable('WriteRepeat'));
    const items = Array.from({ length: 1_000 }, (_, i) => ({ pk: `k#${i % 37}`, version: i }));

    const results = await run(from(items).pipe(dynamoBatchWrite(client, table, { concurrency: 8, keyAttributes: ['pk'] })));

    expect(results.reduce((sum, r) => sum + r.requests.length, 0)).toBe(1_000);
    const last = new Map(items.map((item) => [item.pk, item]));
    expect(sorted(await scanAll(client, table))).toEqual(sorted([...last.values()]));
  });

  describe('large items', () => {
    const padded = (pk: string, bytes: number, fill = 'x'): Item => {
      const item = { pk, pad: '' };
      item.pad = fill.repeat(bytes - itemSize(item));
      return item;
    };

    it('should write items of 390 KB and one of exactly 409,600 bytes', async () => {
      const table = await createTable(client, uniqueTable('WriteLarge'));
      const items = Array.from({ length: 30 }, (_, i) => padded(`large#${i}`, 390 * 1024, String.fromCharCode(97 + (i % 26))));
      const limit = padded('exactly-400KB', MAX_ITEM_BYTES);
      expect(itemSize(limit)).toBe(409_600);

      const results = await run(from([...items, limit]).pipe(dynamoBatchWrite(client, table)));

      expect(results.reduce((sum, r) => sum + r.requests.length, 0)).toBe(31);
      expect(sorted(await scanAll(client, table))).toEqual(sorted([...items, limit]));
    });

    it("should never send an item of 409,601 bytes and emit it as failed with onFailure: 'emit', writing the rest", async () => {
      const table = await createTable(client, uniqueTable('WriteTooLarge'));
      const small = Array.from({ length: 10 }, (_, i) => ({ pk: `small#${i}`, n: i }));
      const big = padded('too-big#1', MAX_ITEM_BYTES + 1);
      expect(itemSize(big)).toBe(409_601);
      let calls = 0;
      const counting: DynamoDBSender = {
        send: (command, options) => {
          if (command instanceof BatchWriteItemCommand) calls++;
          return client.send(command, options);
        },
      };

      const results = await run(
        from([...small.slice(0, 5), big, ...small.slice(5)]).pipe(dynamoBatchWrite(counting, table, { onFailure: 'emit' })),
      );

      const failures = results.filter((r) => r.failed !== undefined);
      expect(failures).toHaveLength(1);
      const [failure] = failures;
      expect(failure!.failed).toEqual([{ table, put: big }]);
      expect(failure!.requests).toEqual([]);
      expect(failure!.error).toBeInstanceOf(BatchWriteError);
      expect((failure!.error as BatchWriteError).code).toBe('batchWrite.invalidRequest');
      expect((failure!.error as BatchWriteError).cause).toBeInstanceOf(InvalidRequestError);
      expect(((failure!.error as BatchWriteError).cause as InvalidRequestError).code).toBe('request.itemTooLarge');
      expect((failure!.error as InvalidRequestError).message).toContain('too-big#1');
      expect(results.reduce((sum, r) => sum + r.requests.length, 0)).toBe(10);
      expect(calls).toBe(1); // the other 10 went in one call, without the big one
      expect(sorted(await scanAll(client, table))).toEqual(sorted(small));
    });

    // With onFailure 'error' the stream stops at the first failure: requests the source had not yet handed over
    // (here the 30 after the oversized item, when no DescribeTable delays it) are never taken, so they are neither
    // written nor in `unprocessed`. Everything taken — at least everything up to the bad item — is accounted for.
    it.each([
      ['the key read from DescribeTable', undefined],
      ['keyAttributes given', ['pk']],
    ])(
      'should error with batchWrite.invalidRequest naming the key of a 409,601-byte item by default, handing back what was not written (%s)',
      async (_, keyAttributes) => {
        const table = await createTable(client, uniqueTable('WriteTooLargeError'));
        const small = Array.from({ length: 60 }, (_, i) => ({ pk: `small#${i}`, n: i }));
        const big = padded('too-big#2', MAX_ITEM_BYTES + 1);
        const input: Item[] = [...small.slice(0, 30), big, ...small.slice(30)];

        const error = await run(from(input).pipe(dynamoBatchWrite(client, table, { keyAttributes }))).then(
          () => undefined,
          (e: unknown) => e,
        );

        expect(error).toBeInstanceOf(BatchWriteError);
        const e = error as BatchWriteError;
        expect(e.code).toBe('batchWrite.invalidRequest');
        expect(e.message).toContain('too-big#2');
        expect(e.cause).toBeInstanceOf(InvalidRequestError);
        expect((e.cause as InvalidRequestError).code).toBe('request.itemTooLarge');
        const unprocessed = e.unprocessed.map((r: WriteRequest) => ('put' in r ? r.put : r.delete));
        expect(unprocessed).toContainEqual(big);
        const written = await scanAll(client, table);
        expect(written.map((i) => i.pk)).not.toContain('too-big#2');
        // Nothing is lost: every item taken is in the table or handed back (or both, if its call was cut off mid-flight).
        for (const item of written) expect(input).toContainEqual(item);
        const accounted = new Set([...written, ...unprocessed].map((i) => i.pk));
        const upToTheBadItem = input.slice(0, 31);
        expect(upToTheBadItem.filter((i) => !accounted.has(i.pk))).toEqual([]);
        // what was not accounted for was never taken: a contiguous tail of the input after the bad item
        const missing = input.filter((i) => !accounted.has(i.pk));
        expect(missing).toEqual(input.slice(input.length - missing.length));
      },
    );

    it('should split 25 items of ~390 KB whose JSON is inflated by escaping so that no call carries over 16 MiB', async () => {
      const measured = localClient(inject('dynamoEndpoint'));
      try {
        const bodySizes = measureBodies(measured);
        const table = await createTable(measured, uniqueTable('WriteEscaped'));
        // `"` serializes to 2 bytes and \u0001 to 6: 25 such items are ~40 MB of JSON for ~9.5 MB of item data.
        const items = Array.from({ length: 25 }, (_, i) => padded(`escaped#${i}`, 390 * 1024, i % 2 === 0 ? '"' : '\u0001'));
        expect(items.reduce((sum, item) => sum + Buffer.byteLength(JSON.stringify(item)), 0)).toBeGreaterThan(2 * MAX_REQUEST_BYTES);

        const results = await run(from(items).pipe(dynamoBatchWrite(measured, table, { concurrency: 2 })));

        expect(results.reduce((sum, r) => sum + r.requests.length, 0)).toBe(25);
        expect(bodySizes.length).toBeGreaterThan(1);
        expect(bodySizes.every((size) => size < MAX_REQUEST_BYTES)).toBe(true);
        expect(sorted(await scanAll(measured, table))).toEqual(sorted(items));
      } finally {
        measured.destroy();
      }
    });
  });

  // Regression: unsubscribing freed the active calls' limiter slots, which started every queued call on the way out.
  it('should make no more calls once unsubscribed', async () => {
    const table = await createTable(client, uniqueTable('WriteUnsubscribe'));
    const items = Array.from({ length: 2_000 }, (_, i) => ({ pk: `u#${i}`, n: i }));
    let calls = 0;
    const counting: DynamoDBSender = {
      send: (command, options) => {
        if (command instanceof BatchWriteItemCommand) calls++;
        return client.send(command, options);
      },
    };

    let callsAtUnsubscribe = -1;
    await new Promise<void>((resolve, reject) => {
      const subscription = from(items)
        .pipe(dynamoBatchWrite(counting, table, { concurrency: 2 }))
        .subscribe({
          next: () => {
            callsAtUnsubscribe = calls;
            subscription.unsubscribe();
            resolve();
          },
          error: reject,
        });
    });
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(callsAtUnsubscribe).toBeGreaterThanOrEqual(1);
    expect(calls).toBe(callsAtUnsubscribe);
    const written = await scanAll(client, table);
    expect(written.length).toBeLessThanOrEqual(callsAtUnsubscribe * 25);
    for (const item of written) expect(items).toContainEqual(item);
  });

  it('should have written every request of a result when it is emitted', async () => {
    const table = await createTable(client, uniqueTable('WriteFirst'));
    const items = Array.from({ length: 100 }, (_, i) => ({ pk: `f#${i}` }));
    const first = await firstValueFrom(from(items).pipe(dynamoBatchWrite(client, table, { concurrency: 1 })));
    const written = await scanAll(client, table);
    expect(first.requests.length).toBe(25);
    for (const item of putsOf([first])) expect(written).toContainEqual(item);
  });
});
