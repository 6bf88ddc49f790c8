import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import {
  BatchWriteError,
  type BatchWriteResult,
  type DynamoDBSender,
  dynamoBatchWrite,
  InvalidRequestError,
  type Item,
  type WriteRequest,
} from '../../src/index.js';
import { capacityStats, faultStats, withFaults, withSimulatedCapacity } from '../../src/testing/index.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { run, sorted } from '../helpers/results.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

const fast = { baseDelayMs: 1, maxDelayMs: 20 };
const failureOf = (results$: Observable<BatchWriteResult>) =>
  run(results$).then(
    (results) => {
      throw new Error(`expected the stream to error, it completed with ${results.length} results`);
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(BatchWriteError);
      return error as BatchWriteError;
    },
  );
const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.pk).localeCompare(String(b.pk));
const puts = (requests: WriteRequest[]) => requests.map((r) => ('put' in r ? r.put : r.delete));
const total = (results: BatchWriteResult[], field: 'requests' | 'failed') => results.reduce((sum, r) => sum + (r[field]?.length ?? 0), 0);

/** A sender in front of `c` recording the keys (`pk`s) of every BatchWriteItem call made through it. */
function recording(c: DynamoDBSender) {
  const record = { calls: [] as string[][], sender: undefined as unknown as DynamoDBSender };
  record.sender = {
    send: (command, options) => {
      if (command instanceof BatchWriteItemCommand) {
        const requests = Object.values(command.input.RequestItems ?? {}).flat();
        record.calls.push(requests.map((r) => String((r.PutRequest?.Item ?? r.DeleteRequest?.Key)?.pk?.S)));
      }
      return c.send(command, options);
    },
  };
  return record;
}

/** `{ m: { m: … 'leaf' } }`, `depth` maps deep. */
const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { m: nested(depth - 1) });

describe('dynamoBatchWrite retries against DynamoDB Local', () => {
  it('should write all 3,000 items through unprocessed items and throttling errors', async () => {
    const table = await createTable(client, uniqueTable('RetryFaults'));
    const items = Array.from({ length: 3_000 }, (_, i) => ({ pk: `r#${i}`, n: i, payload: `p${i}`.repeat(10) }));
    const faulty = withFaults(client, { unprocessedRate: 0.3, throttleRate: 0.2, seed: 42 });

    // A request stays unwritten after a call with probability 0.2 + 0.8 * 0.3 = 0.44; 20 attempts make a loss ~1e-7.
    const results = await run(from(items).pipe(dynamoBatchWrite(faulty, table, { concurrency: 8, maxAttempts: 20, backoff: fast })));

    expect(total(results, 'requests')).toBe(3_000);
    expect(results.every((r) => r.failed === undefined && r.requests.length <= 25)).toBe(true);
    expect(results.some((r) => r.attempts > 1)).toBe(true);
    const stats = faultStats(faulty);
    expect(stats.callsThrottled).toBeGreaterThan(0);
    expect(stats.requestsUnprocessed).toBeGreaterThan(0);
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items));
  });

  it('should error with batchWrite.attemptsExhausted and hand back every item when nothing is ever processed', async () => {
    const table = await createTable(client, uniqueTable('RetryExhausted'));
    const items = Array.from({ length: 100 }, (_, i) => ({ pk: `x#${i}`, n: i }));
    const faulty = withFaults(client, { unprocessedRate: 1 });

    const error = await failureOf(from(items).pipe(dynamoBatchWrite(faulty, table, { maxAttempts: 3, backoff: fast })));

    expect(error.code).toBe('batchWrite.attemptsExhausted');
    expect(error.attempts).toBe(3);
    expect(error.unprocessed.every((r) => r.table === table && 'put' in r)).toBe(true);
    expect(sorted(puts(error.unprocessed))).toEqual(sorted(items));
    expect(await scanAll(client, table)).toEqual([]);
  });

  it.each([
    ['a number set holding 1 and 1.0, duplicates to DynamoDB', { amounts: new Set([NumberValue.from('1'), NumberValue.from('1.0')]) }],
    ['33 nested maps', { deep: nested(33) }],
  ])('should not retry a ValidationException from DynamoDB, failing only the offending item (%s)', async (_, bad) => {
    const table = await createTable(client, uniqueTable('RetryValidation'));
    const items: Item[] = Array.from({ length: 10 }, (_, i) => ({ pk: `v#${i}`, ...(i === 4 ? bad : { n: i }) }));
    const recorder = recording(client);

    const error = await failureOf(from(items).pipe(dynamoBatchWrite(recorder.sender, table, { backoff: fast })));

    expect(error.code).toBe('batchWrite.nonRetryable');
    expect(error.attempts).toBe(1);
    const cause = error.cause as { name: string; $metadata?: { attempts?: number } };
    expect(cause.name).toBe('ValidationException');
    expect(cause.$metadata?.attempts).toBe(1); // the SDK did not retry it either
    expect(error.message).toContain('v#4');
    // DynamoDB rejects a whole call for one bad item. The call is split until the bad item stands alone; no set of
    // requests is ever sent twice, and the bad item alone is sent once.
    expect(recorder.calls[0]).toEqual(items.map((i) => i.pk));
    expect(new Set(recorder.calls.map((keys) => keys.join())).size).toBe(recorder.calls.length);
    expect(recorder.calls.filter((keys) => keys.length === 1 && keys[0] === 'v#4')).toHaveLength(1);
    expect(puts(error.unprocessed)).toEqual([items[4]]);
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items.filter((_, i) => i !== 4)));
  });

  it('should reject a number of 39 significant digits before any call, naming it (issue 8)', async () => {
    const table = await createTable(client, uniqueTable('Reject39'));
    const items: Item[] = [{ pk: 'ok#1' }, { pk: 'digits#39', n: NumberValue.from('123456789012345678901234567890123456789') }];
    const recorder = recording(client);

    const error = await failureOf(from(items).pipe(dynamoBatchWrite(recorder.sender, table)));

    expect(error.code).toBe('batchWrite.invalidRequest');
    expect((error.cause as InvalidRequestError).code).toBe('request.marshallFailed');
    expect(error.message).toMatch(
      /digits#39.*attribute n is not a DynamoDB number: 123456789012345678901234567890123456789 has 39 significant digits/,
    );
    expect(recorder.calls).toEqual([]);
  });

  it('should reject an item with an empty set before any call, since the marshaller refuses it', async () => {
    const table = await createTable(client, uniqueTable('RetryEmptySet'));
    const items: Item[] = [{ pk: 'ok#1' }, { pk: 'empty-set#1', tags: new Set() }, { pk: 'ok#2' }];
    const recorder = recording(client);

    const error = await failureOf(from(items).pipe(dynamoBatchWrite(recorder.sender, table)));

    expect(error.code).toBe('batchWrite.invalidRequest');
    expect(error.attempts).toBe(0);
    expect(error.cause).toBeInstanceOf(InvalidRequestError);
    expect((error.cause as InvalidRequestError).code).toBe('request.marshallFailed');
    expect(error.message).toContain('empty-set#1');
    expect(recorder.calls).toEqual([]);
    expect(puts(error.unprocessed)).toContainEqual(items[1]);
    const written = await scanAll(client, table);
    expect(written.map((i) => i.pk)).not.toContain('empty-set#1');
    const accounted = new Set([...written, ...puts(error.unprocessed)].map((i) => i.pk));
    expect(items.filter((i) => !accounted.has(i.pk))).toEqual([]);
  });

  it.each([
    ['read from DescribeTable', undefined],
    ['given as keyAttributes', ['pk']],
  ])('should error with batchWrite.nonRetryable and hand back every item for a missing table (key %s)', async (_, keyAttributes) => {
    const table = uniqueTable('Missing');
    const items = Array.from({ length: 200 }, (_, i) => ({ pk: `m#${i}` }));

    const error = await failureOf(from(items).pipe(dynamoBatchWrite(client, table, { keyAttributes, backoff: fast })));

    expect(error.code).toBe('batchWrite.nonRetryable');
    expect((error.cause as Error).name).toBe('ResourceNotFoundException');
    expect(error.message).toContain(table);
    expect(sorted(puts(error.unprocessed))).toEqual(sorted(items));
  });

  // Regression: the teardown of an errored stream freed the failed calls' limiter slots, which started every queued
  // call (each aborted at once): 8 calls for 8 batches at concurrency 2, instead of 2.
  it('should make no more calls once the stream has errored', async () => {
    const table = uniqueTable('MissingCalls');
    const items = Array.from({ length: 200 }, (_, i) => ({ pk: `m#${i}` }));
    const recorder = recording(client);

    const error = await failureOf(from(items).pipe(dynamoBatchWrite(recorder.sender, table, { keyAttributes: ['pk'], concurrency: 2 })));
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(error.code).toBe('batchWrite.nonRetryable');
    expect(recorder.calls.length).toBeLessThanOrEqual(2);
  });

  it('should write every item through simulated provisioned capacity, retrying what it throttles', async () => {
    const table = await createTable(client, uniqueTable('RetryCapacity'));
    // 1,000 items of 1,000 bytes: one write unit each, over three times what the 300-unit bucket holds.
    const items = Array.from({ length: 1_000 }, (_, i) => {
      const item = { pk: `c#${String(i).padStart(4, '0')}`, pad: '' };
      item.pad = 'x'.repeat(1_000 - 2 - 7 - 3);
      return item;
    });
    const limited = withSimulatedCapacity(client, { writeUnitsPerSecond: 300, burstSeconds: 1 });

    const started = Date.now();
    const results = await run(
      from(items).pipe(
        dynamoBatchWrite(limited, table, { concurrency: 4, maxAttempts: 30, backoff: { baseDelayMs: 20, maxDelayMs: 400 } }),
      ),
    );

    expect(total(results, 'requests')).toBe(1_000);
    expect(results.some((r) => r.attempts > 1)).toBe(true);
    const stats = capacityStats(limited);
    expect(stats.writeRequestsThrottled).toBeGreaterThan(0);
    expect(stats.writeUnitsConsumed).toBe(1_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_200); // 700 units more than the bucket holds take ~2.3 s to refill
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items));
  });

  describe("with onFailure: 'emit'", () => {
    it('should emit the items DynamoDB rejects as failed results and write every other item', async () => {
      const table = await createTable(client, uniqueTable('EmitValidation'));
      // Items 7, 107 and 207 carry a value DynamoDB rejects: each fails on its own, the rest of its batch is written.
      const items: Item[] = Array.from({ length: 250 }, (_, i) => ({ pk: `e#${i}`, n: i % 100 === 7 ? nested(33) : i }));
      const bad = [7, 107, 207].map((i) => items[i]!);

      const results = await run(from(items).pipe(dynamoBatchWrite(client, table, { onFailure: 'emit', concurrency: 4, backoff: fast })));

      const failures = results.filter((r) => r.failed !== undefined);
      expect(failures).toHaveLength(3);
      for (const f of failures) {
        expect(f.attempts).toBe(1);
        expect(f.failed).toHaveLength(1);
        expect(f.requests).toHaveLength(24);
        expect(f.error).toBeInstanceOf(BatchWriteError);
        const e = f.error as BatchWriteError;
        expect(e.code).toBe('batchWrite.nonRetryable');
        expect((e.cause as Error).name).toBe('ValidationException');
        expect(e.unprocessed).toEqual(f.failed);
        expect(e.message).toContain(String(puts(f.failed!)[0]!.pk));
        expect(f.failures).toEqual([{ request: f.failed![0], error: e }]);
      }
      expect(total(results, 'requests') + total(results, 'failed')).toBe(250);
      expect(sorted(puts(failures.flatMap((f) => f.failed!)))).toEqual(sorted(bad));
      const written = results.flatMap((r) => puts(r.requests));
      expect(sorted(await scanAll(client, table))).toEqual(sorted(written));
      expect(written).toHaveLength(247);
    });

    it('should emit the requests left after maxAttempts as failed results and go on', async () => {
      const table = await createTable(client, uniqueTable('EmitExhausted'));
      const items = Array.from({ length: 500 }, (_, i) => ({ pk: `u#${i}`, n: i }));
      const faulty = withFaults(client, { unprocessedRate: 0.5, seed: 3 });

      const results = await run(
        from(items).pipe(dynamoBatchWrite(faulty, table, { onFailure: 'emit', maxAttempts: 2, concurrency: 4, backoff: fast })),
      );

      const failures = results.filter((r) => r.failed !== undefined && r.failed.length > 0);
      expect(failures.length).toBeGreaterThan(0);
      for (const f of failures) {
        expect(f.attempts).toBe(2);
        // each failed request has an error of its own, naming its own key (issue 8)
        expect(f.failures!.map((x) => x.request)).toEqual(f.failed);
        for (const { request, error } of f.failures!) {
          expect(error.code).toBe('batchWrite.attemptsExhausted');
          expect(error.unprocessed).toEqual([request]);
          expect(error.message).toContain(`pk="${puts([request])[0]!.pk}"`);
        }
        expect(f.error).toBe(f.failures![0]!.error);
      }
      expect(total(results, 'requests') + total(results, 'failed')).toBe(500);
      const written = results.flatMap((r) => puts(r.requests));
      expect(sorted([...written, ...puts(failures.flatMap((f) => f.failed!))])).toEqual(sorted(items));
      // A request held back by the injector never reached DynamoDB: the table holds exactly the written ones.
      expect(sorted(await scanAll(client, table))).toEqual(sorted(written));
    });
  });
});
