import { describe, expect, it } from 'vitest';
import { EMPTY, from, mergeMap, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  BatchWriteError,
  type BatchWriteResult,
  dynamoBatchGet,
  dynamoBatchWrite,
  dynamoBatchWriteRequests,
  InvalidRequestError,
  type WriteRequest,
} from '../../src/index.js';
import { type FakeAnswer, type FakeCall, fakeWriteClient } from '../helpers/fakeClient.js';

const items = (from: number, count: number, table = 'T') =>
  Array.from({ length: count }, (_, i) => ({ pk: `${table === 'T' ? '' : table}${from + i}` }));
const throttled = Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
const fast = { backoff: { baseDelayMs: 10, jitter: 'none' as const }, keyAttributes: ['pk'] };

/** Runs `build` on a TestScheduler with a scripted fake client; returns the calls and what the stream did. */
function run(
  answer: (call: FakeCall, index: number) => FakeAnswer,
  build: (
    client: ReturnType<typeof fakeWriteClient>['client'],
    helpers: { hot: TestScheduler['createHotObservable']; scheduler: TestScheduler },
  ) => Observable<BatchWriteResult>,
  unsubscribeAt = Infinity,
) {
  const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
  const events: Array<{ at: number; result?: BatchWriteResult; error?: unknown; complete?: true }> = [];
  let fake!: ReturnType<typeof fakeWriteClient>;
  scheduler.run(({ cold, hot }) => {
    fake = fakeWriteClient(() => scheduler.now(), cold, answer);
    const subscription = build(fake.client, { hot, scheduler }).subscribe({
      next: (result) => events.push({ at: scheduler.now(), result }),
      error: (error) => events.push({ at: scheduler.now(), error }),
      complete: () => events.push({ at: scheduler.now(), complete: true }),
    });
    if (unsubscribeAt !== Infinity) scheduler.schedule(() => subscription.unsubscribe(), unsubscribeAt);
  });
  return { calls: fake.calls, events };
}

describe('dynamoBatchWrite (virtual time)', () => {
  it('should send at most 25 requests per call and emit one result per batch', () => {
    const { calls, events } = run(
      () => ({}),
      (client, { scheduler }) => from(items(0, 60)).pipe(dynamoBatchWrite(client, 'T', { ...fast, scheduler })),
    );
    expect(calls.map((c) => c.requests.length)).toEqual([25, 25, 10]);
    expect(events.filter((e) => e.result).map((e) => e.result!.requests.length)).toEqual([25, 25, 10]);
    expect(events.at(-1)).toEqual({ at: 1, complete: true });
    expect(events[0]!.result!.requests[0]).toEqual({ table: 'T', put: { pk: '0' } });
  });

  it('should keep at most `concurrency` calls in flight', () => {
    const { calls } = run(
      () => ({ marble: '-----r|' }),
      (client, { scheduler }) => from(items(0, 25 * 5)).pipe(dynamoBatchWrite(client, 'T', { ...fast, concurrency: 2, scheduler })),
    );
    // each call holds its slot until it is answered at +5
    expect(calls.map((c) => c.at)).toEqual([0, 0, 5, 5, 10]);
  });

  it('should re-send only the unprocessed items, after the backoff delay, and count attempts', () => {
    const { calls, events } = run(
      (_, i) => ({ unprocessed: (_t, pk) => i < 2 && (pk === '3' || pk === '7') }),
      (client, { scheduler }) => from(items(0, 10)).pipe(dynamoBatchWrite(client, 'T', { ...fast, scheduler })),
    );
    // call 1 at 0 answers at 1; wait 10; call 2 at 11 answers at 12; wait 20; call 3 at 32
    expect(calls.map((c) => [c.at, c.requests.join(' ')])).toEqual([
      [
        0,
        items(0, 10)
          .map((i) => `T:${i.pk}`)
          .join(' '),
      ],
      [11, 'T:3 T:7'],
      [32, 'T:3 T:7'],
    ]);
    expect(events[0]).toMatchObject({ at: 33, result: { attempts: 3 } });
    expect(events[0]!.result!.requests.map((r) => (r as { put: { pk: string } } & WriteRequest).put.pk)).toEqual(
      items(0, 10).map((i) => i.pk),
    );
  });

  it('should retry throttling errors with the same backoff, and split a call DynamoDB rejects to fail only the bad request', () => {
    const validation = Object.assign(new Error('bad'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    const { calls, events } = run(
      (call, i) => (i === 0 ? { error: throttled } : call.requests.includes('T:1') ? { error: validation } : {}),
      (client, { scheduler }) => from(items(0, 3)).pipe(dynamoBatchWrite(client, 'T', { ...fast, scheduler })),
    );
    // throttled at 0 → retry at 11 → rejected → halves [0, 1] (12) → [0] (13, done at 15) and [1] (15) → [2] (16)
    expect(calls.map((c) => [c.at, c.requests.join(' ')])).toEqual([
      [0, 'T:0 T:1 T:2'],
      [11, 'T:0 T:1 T:2'],
      [12, 'T:0 T:1'],
      [13, 'T:0'],
      [15, 'T:1'],
      [16, 'T:2'],
    ]);
    // what was written comes out as a result before the error, so that every request is in one or the other
    expect(events[0]!.result).toEqual({
      requests: [
        { table: 'T', put: { pk: '0' } },
        { table: 'T', put: { pk: '2' } },
      ],
      attempts: 2,
    });
    const error = events[1]!.error as BatchWriteError;
    expect(error).toBeInstanceOf(BatchWriteError);
    expect(error.code).toBe('batchWrite.nonRetryable');
    expect(error.attempts).toBe(2);
    expect(error.message).toMatch(/request for table T, pk="1" with ValidationException/);
    expect((error.cause as Error).name).toBe('ValidationException');
    expect(error.unprocessed).toEqual([{ table: 'T', put: { pk: '1' } }]);
  });

  it('should fail only the request DynamoDB rejects and go on, with onFailure "emit"', () => {
    const validation = Object.assign(new Error('bad'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    const { events } = run(
      (call) => (call.requests.includes('T:7') ? { error: validation } : {}),
      (client, { scheduler }) => from(items(0, 30)).pipe(dynamoBatchWrite(client, 'T', { ...fast, onFailure: 'emit', scheduler })),
    );
    const results = events.filter((e) => e.result).map((e) => e.result!);
    expect(results.map((r) => [r.requests.length, r.failed?.length ?? 0]).sort()).toEqual([
      [24, 1],
      [5, 0],
    ]);
    const failedResult = results.find((r) => r.failed)!;
    expect(failedResult.failed).toEqual([{ table: 'T', put: { pk: '7' } }]);
    expect((failedResult.error as BatchWriteError).code).toBe('batchWrite.nonRetryable');
    expect(events.at(-1)!.complete).toBe(true);
  });

  it('should fail every request of a call that throws a non-retryable error, at once', () => {
    const missing = Object.assign(new Error('no table'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
    const { calls, events } = run(
      () => ({ error: missing }),
      (client, { scheduler }) => from(items(0, 3)).pipe(dynamoBatchWrite(client, 'T', { ...fast, scheduler })),
    );
    expect(calls).toHaveLength(1);
    const error = events[0]!.error as BatchWriteError;
    expect([error.code, error.attempts, (error.cause as Error).name]).toEqual(['batchWrite.nonRetryable', 1, 'ResourceNotFoundException']);
    expect(error.unprocessed).toEqual(items(0, 3).map((put) => ({ table: 'T', put })));
  });

  it('should, when attempts run out, let the calls in flight finish, then hand back exactly what was not written (issue 9)', () => {
    const { events, calls } = run(
      (call) => (call.requests[0] === 'T:0' ? { unprocessed: () => true } : { marble: '-------------------r|' }),
      (client, { hot, scheduler }) =>
        // batch A (0-24) at 0, batch B (25-49) at 1, three more queued at 2; the source never completes
        hot('abc', { a: items(0, 25), b: items(25, 25), c: items(50, 3) }).pipe(
          mergeMap((list) => list),
          dynamoBatchWrite(client, 'T', { ...fast, maxAttempts: 2, scheduler }),
        ),
    );
    expect(calls.map((c) => [c.at, c.requests.length])).toEqual([
      [0, 25],
      [1, 25],
      [11, 25],
    ]);
    // A fails at 12; no call starts and A is not retried, but B's call, in flight, finishes its attempt at 20
    expect(calls[1]!.signal?.aborted).toBe(false);
    expect(events.map((e) => [e.at, e.result?.requests.length ?? (e.error as BatchWriteError).code])).toEqual([
      [20, 25],
      [20, 'batchWrite.attemptsExhausted'],
    ]);
    const error = events[1]!.error as BatchWriteError;
    expect(error.attempts).toBe(2);
    expect(error.message).toMatch(
      /25 of 25 requests of a call failed; the first: The request for table T, pk="0" was still unprocessed after 2 BatchWriteItem calls/,
    );
    // B was written: it is in the result, not in unprocessed
    expect(error.unprocessed).toEqual([...items(0, 25), ...items(50, 3)].map((put) => ({ table: 'T', put })));
  });

  it('should put what was written in results before it errors, and start no call on the way out (review of issue 2)', () => {
    const { calls, events } = run(
      () => ({ unprocessed: (_t, pk) => pk === 'B' }),
      (client, { scheduler }) =>
        from([{ pk: 'A' }, { pk: 'B' }, { pk: 'C' }, ...items(100, 25), { pk: 'B', v: 2 }]).pipe(
          dynamoBatchWrite(client, 'T', { ...fast, batchSize: 3, concurrency: 1, maxAttempts: 2, scheduler }),
        ),
    );
    const results = events
      .filter((e) => e.result)
      .map((e) => e.result!.requests.map((r) => (r as { put: { pk: string } } & WriteRequest).put.pk));
    const error = events.at(-1)!.error as BatchWriteError;
    expect(error.code).toBe('batchWrite.attemptsExhausted');
    // A and C were written by the failing batch: they are in a result; B is handed back, with everything not sent
    expect(results.flat()).toContain('A');
    expect(results.flat()).toContain('C');
    const unprocessed = error.unprocessed.map((r) => (r as { put: { pk: string } } & WriteRequest).put.pk);
    expect(unprocessed).toContain('B');
    expect(new Set([...results.flat(), ...unprocessed]).size + 1).toBe(3 + 25 + 1);
    // no call starts once the error is decided (the last call answers at the error's frame)
    expect(Math.max(...calls.map((c) => c.at))).toBeLessThan(events.at(-1)!.at);
  });

  it('should emit failures with onFailure "emit" and go on with the rest of the stream', () => {
    const { events } = run(
      () => ({ unprocessed: (_t, pk) => pk === '5' }),
      (client, { scheduler }) =>
        from(items(0, 30)).pipe(dynamoBatchWrite(client, 'T', { ...fast, maxAttempts: 2, onFailure: 'emit', scheduler })),
    );
    const results = events.filter((e) => e.result).map((e) => e.result!);
    expect(results.map((r) => [r.requests.length, r.failed?.length])).toEqual([
      [5, undefined],
      [24, 1],
    ]);
    expect(results[1]!.failed).toEqual([{ table: 'T', put: { pk: '5' } }]);
    expect((results[1]!.error as BatchWriteError).code).toBe('batchWrite.attemptsExhausted');
    expect(events.at(-1)!.complete).toBe(true);
  });

  it('should cancel the pending backoff timer and the call in flight on unsubscribe, and make no further call', () => {
    const { calls, events } = run(
      (call) => (call.requests.length === 25 ? { unprocessed: () => true } : { marble: '----------r|' }),
      (client, { scheduler }) => from(items(0, 30)).pipe(dynamoBatchWrite(client, 'T', { ...fast, scheduler })),
      5,
    );
    // at 5 batch 1 waits out its 10 ms backoff, batch 2's call is in flight
    expect(calls.map((c) => c.at)).toEqual([0, 0]);
    expect(calls[1]!.signal?.aborted).toBe(true);
    expect(events).toEqual([]);
  });

  it('should not stall other tables while one table waits out its backoff', () => {
    const { calls, events } = run(
      (call) => ({ unprocessed: (table) => table === 'A' && call.at < 100 }),
      (client, { scheduler }) => {
        const requests: WriteRequest[] = [
          ...items(0, 25).map((put) => ({ table: 'A', put })),
          ...[0, 1, 2].flatMap((b) => items(b * 25, 25).map((put) => ({ table: 'B', put }))),
        ];
        return from(requests).pipe(
          dynamoBatchWriteRequests(client, {
            concurrency: 1,
            keyAttributes: { A: ['pk'], B: ['pk'] },
            backoff: { baseDelayMs: 100, jitter: 'none' },
            scheduler,
          }),
        );
      },
    );
    // one slot: A's first call, then B's three batches during A's 100 ms backoff, then A's retry
    expect(calls.map((c) => [c.at, c.requests[0]!.split(':')[0]])).toEqual([
      [0, 'A'],
      [1, 'B'],
      [2, 'B'],
      [3, 'B'],
      [101, 'A'],
    ]);
    expect(events.filter((e) => e.result).map((e) => e.at)).toEqual([2, 3, 4, 102]);
  });

  it('should complete without a call on empty input', () => {
    const { calls, events } = run(
      () => ({}),
      (client) => EMPTY.pipe(dynamoBatchWrite(client, 'T')),
    );
    expect(calls).toEqual([]);
    expect(events).toEqual([{ at: 0, complete: true }]);
  });

  it('should write what it took, then pass on a source error unchanged', () => {
    const sourceError = new Error('the file was truncated');
    const { calls, events } = run(
      () => ({ marble: '---r|' }),
      (client, { hot, scheduler }) =>
        hot('a-b-#', { a: { pk: '1' }, b: { pk: '2' } }, sourceError).pipe(dynamoBatchWrite(client, 'T', { ...fast, scheduler })),
    );
    // the requests taken [1, 2] are sent at the error (4), written (answered at 7), then the error
    expect(calls.map((c) => [c.at, c.requests])).toEqual([[4, ['T:1', 'T:2']]]);
    expect(events.map((e) => [e.at, e.result?.requests.length ?? e.error])).toEqual([
      [7, 2],
      [7, sourceError],
    ]);
  });

  it('should send one request per key in a call and count the replaced one as written by it', () => {
    const { calls, events } = run(
      () => ({}),
      (client, { scheduler }) =>
        from([{ pk: '1', v: 1 }, { pk: '2' }, { pk: '1', v: 2 }]).pipe(dynamoBatchWrite(client, 'T', { ...fast, scheduler })),
    );
    expect(calls.map((c) => c.requests)).toEqual([['T:1', 'T:2']]);
    expect(events[0]!.result!.requests).toEqual([
      { table: 'T', put: { pk: '1', v: 1 } },
      { table: 'T', put: { pk: '2' } },
      { table: 'T', put: { pk: '1', v: 2 } },
    ]);
  });

  it('should hold a later request for a key that an earlier call is still writing, and send it in place of the retry', () => {
    const { calls, events } = run(
      (call) => ({ unprocessed: (_t, pk) => call.at === 0 && pk === '0' }),
      (client, { scheduler }) =>
        from([...items(0, 25), { pk: '0', v: 'last' }, ...items(100, 3)]).pipe(
          dynamoBatchWrite(client, 'T', { ...fast, batchSize: 25, concurrency: 4, scheduler }),
        ),
    );
    // 100-102 do not wait for key 0; the later write of key 0 waits behind the first, and when that comes back
    // unprocessed it goes in its place, after the backoff (call at 11): the first was never written
    expect(calls.map((c) => [c.at, c.requests.join(' ')])).toEqual([
      [
        0,
        items(0, 25)
          .map((i) => `T:${i.pk}`)
          .join(' '),
      ],
      [0, 'T:100 T:101 T:102'],
      [11, 'T:0'],
    ]);
    expect(calls[2]!.items).toEqual([{ pk: '0', v: 'last' }]);
    const written = events.flatMap((e) => e.result?.requests ?? []);
    expect(written).toHaveLength(25 + 1 + 3);
    expect(written).toContainEqual({ table: 'T', put: { pk: '0', v: 'last' } });
  });

  it('should reject an invalid item alone with onFailure "emit" and write the rest of its batch', () => {
    const { calls, events } = run(
      () => ({}),
      (client, { scheduler }) =>
        from([{ pk: '1' }, { nokey: true }, { pk: '' }, { pk: '2' }]).pipe(
          dynamoBatchWrite(client, 'T', { ...fast, onFailure: 'emit', scheduler }),
        ),
    );
    expect(calls.map((c) => c.requests)).toEqual([['T:1', 'T:2']]);
    const failures = events.filter((e) => e.result?.failed);
    const errors = failures.map((e) => e.result!.failures![0]!.error);
    expect(errors.map((e) => e.code)).toEqual(['batchWrite.invalidRequest', 'batchWrite.invalidRequest']);
    expect(errors.map((e) => (e.cause as InvalidRequestError).code)).toEqual(['request.missingKey', 'request.invalidKey']);
    expect(errors[0]!.message).toMatch(/Key attribute "pk" is missing in table T/);
  });

  it('should sum consumed capacity per table over all attempts', () => {
    const { events } = run(
      (call) => ({ consumed: call.requests.length, unprocessed: (_t, pk) => call.at === 0 && pk === '1' }),
      (client, { scheduler }) =>
        from(items(0, 4)).pipe(dynamoBatchWrite(client, 'T', { ...fast, returnConsumedCapacity: 'TOTAL', scheduler })),
    );
    expect(events[0]!.result!.consumedCapacity).toEqual([{ TableName: 'T', CapacityUnits: 5 }]);
  });

  it('should reject bad options when created', () => {
    const client = { send: () => EMPTY };
    expect(() => dynamoBatchWrite(client, 'T', { concurrency: 0 })).toThrow("concurrency must be an integer >= 1 or 'adaptive', got 0");
    expect(() => dynamoBatchWrite(client, 'T', { batchSize: 26 })).toThrow('batchSize must be an integer from 1 to 25, got 26');
    expect(() => dynamoBatchWrite(client, 'T', { onFailure: 'ignore' as 'emit' })).toThrow(/onFailure/);
    // regression (review of issue 2): an empty list made every item the same key
    expect(() => dynamoBatchWrite(client, 'T', { keyAttributes: [] })).toThrow(/keyAttributes must be the partition key name/);
    expect(() => dynamoBatchWrite(client, 'T', { keyAttributes: ['pk', 'pk'] })).toThrow(/keyAttributes/);
    expect(() => dynamoBatchWrite(client, 'T', { returnConsumedCapacity: 'TOTALS' as 'TOTAL' })).toThrow(
      /returnConsumedCapacity must be 'TOTAL' or 'INDEXES', got "TOTALS"/,
    );
    expect(() => dynamoBatchGet(client, 'T', { projection: 'status' as unknown as string[] })).toThrow(
      /projection must be a non-empty array/,
    );
  });
});
