import { describe, expect, it } from 'vitest';
import { from, mergeMap, type Observable, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { BatchGetError, BatchGetFailure, dynamoBatchGet, dynamoBatchGetRequests, type GetRequest } from '../../src/index.js';
import { type FakeReadAnswer, type FakeReadCall, fakeReadClient, storedItem } from '../helpers/fakeReadClient.js';

const keys = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ pk: String(from + i) }));
const itemOf = (pk: string) => storedItem('T', pk)!;
const throttled = Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
const fast = { backoff: { baseDelayMs: 10, jitter: 'none' as const }, keyAttributes: ['pk'] };

/** Runs `build` on a TestScheduler with a scripted fake read client; returns the calls and what the stream did. */
function run<T>(
  answer: (call: FakeReadCall, index: number) => FakeReadAnswer,
  build: (
    client: ReturnType<typeof fakeReadClient>['client'],
    helpers: { hot: TestScheduler['createHotObservable']; scheduler: TestScheduler },
  ) => Observable<T>,
  unsubscribeAt = Infinity,
) {
  const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
  const events: Array<{ at: number; value?: T; error?: unknown; complete?: true }> = [];
  let fake!: ReturnType<typeof fakeReadClient>;
  scheduler.run(({ cold, hot }) => {
    fake = fakeReadClient(() => scheduler.now(), cold, answer);
    const subscription = build(fake.client, { hot, scheduler }).subscribe({
      next: (value) => events.push({ at: scheduler.now(), value }),
      error: (error) => events.push({ at: scheduler.now(), error }),
      complete: () => events.push({ at: scheduler.now(), complete: true }),
    });
    if (unsubscribeAt !== Infinity) scheduler.schedule(() => subscription.unsubscribe(), unsubscribeAt);
  });
  return { calls: fake.calls, events };
}

/** `scheduler`, throwing once it has been asked to schedule more than `limit` times (a timer re-armed in a loop). */
function guarded(scheduler: SchedulerLike, limit: number): SchedulerLike {
  let scheduled = 0;
  return {
    now: () => scheduler.now(),
    schedule: (...args: Parameters<SchedulerLike['schedule']>) => {
      if (++scheduled > limit) throw new Error(`scheduled more than ${limit} times, now at ${scheduler.now()}`);
      return scheduler.schedule(...args);
    },
  } as SchedulerLike;
}

/** `pk`s of the items emitted, by the frame they came out at. */
const itemsByFrame = (events: Array<{ at: number; value?: unknown }>) => {
  const frames: Record<number, string[]> = {};
  for (const e of events) if (e.value) (frames[e.at] ??= []).push(String((e.value as { pk: unknown }).pk));
  return frames;
};
const range = (from: number, count: number) => keys(from, count).map((k) => k.pk);

describe('dynamoBatchGet (virtual time)', () => {
  it('should ask at most 100 keys per call and emit each item found', () => {
    const { calls, events } = run(
      () => ({}),
      (client, { scheduler }) => from(keys(0, 250)).pipe(dynamoBatchGet(client, 'T', { ...fast, scheduler })),
    );
    expect(calls.map((c) => [c.at, c.keys.length])).toEqual([
      [0, 100],
      [0, 100],
      [0, 50],
    ]);
    expect(calls[0]!.keys.slice(0, 3)).toEqual(['T:0', 'T:1', 'T:2']);
    expect(itemsByFrame(events)).toEqual({ 1: range(0, 250) });
    expect(events[0]!.value).toEqual({ pk: '0', title: 'Item T:0' });
    expect(events.at(-1)).toEqual({ at: 1, complete: true });
  });

  it('should keep at most `concurrency` calls in flight, a slot freed when its answer arrives', () => {
    const { calls } = run(
      () => ({ marble: '-----r|' }),
      (client, { scheduler }) => from(keys(0, 500)).pipe(dynamoBatchGet(client, 'T', { ...fast, concurrency: 2, scheduler })),
    );
    expect(calls.map((c) => [c.at, c.keys.length])).toEqual([
      [0, 100],
      [0, 100],
      [5, 100],
      [5, 100],
      [10, 100],
    ]);
  });

  it('should re-send the UnprocessedKeys after the backoff delay, at exact virtual times', () => {
    const { calls, events } = run(
      (_, i) => ({ unprocessed: (_t, pk) => i < 2 && (pk === '3' || pk === '7') }),
      (client, { scheduler }) => from(keys(0, 10)).pipe(dynamoBatchGet(client, 'T', { ...fast, scheduler })),
    );
    // call 1 at 0 answers at 1; wait 10; call 2 at 11 answers at 12; wait 20; call 3 at 32, answered at 33
    expect(calls.map((c) => [c.at, c.keys.join(' ')])).toEqual([
      [
        0,
        range(0, 10)
          .map((pk) => `T:${pk}`)
          .join(' '),
      ],
      [11, 'T:3 T:7'],
      [32, 'T:3 T:7'],
    ]);
    expect(itemsByFrame(events)).toEqual({ 1: ['0', '1', '2', '4', '5', '6', '8', '9'], 33: ['3', '7'] });
    expect(events.at(-1)).toEqual({ at: 33, complete: true });
  });

  it('should retry a throttled call whole, after the backoff delay', () => {
    const { calls, events } = run(
      (_, i) => (i === 0 ? { error: throttled } : {}),
      (client, { scheduler }) => from(keys(0, 3)).pipe(dynamoBatchGet(client, 'T', { ...fast, scheduler })),
    );
    expect(calls.map((c) => [c.at, c.keys.length])).toEqual([
      [0, 3],
      [11, 3],
    ]);
    expect(itemsByFrame(events)).toEqual({ 12: ['0', '1', '2'] });
  });

  it('should send a key asked twice in a batch once, and answer it twice', () => {
    const { calls, events } = run(
      () => ({}),
      (client, { scheduler }) => from([{ pk: 'a' }, { pk: 'b' }, { pk: 'a' }]).pipe(dynamoBatchGet(client, 'T', { ...fast, scheduler })),
    );
    expect(calls.map((c) => c.keys)).toEqual([['T:a', 'T:b']]);
    expect(events.filter((e) => e.value).map((e) => e.value)).toEqual([itemOf('a'), itemOf('a'), itemOf('b')]);
  });

  it('should let a key asked again while its call is in flight share that call’s answer', () => {
    const { calls, events } = run(
      () => ({ marble: '-----r|' }),
      (client, { hot, scheduler }) =>
        // a is sent at 1 (maxBatchWaitMs), asked again at 3 while its call is in flight, answered at 6
        hot('a--a--|', { a: { pk: 'a' } }).pipe(dynamoBatchGet(client, 'T', { ...fast, maxBatchWaitMs: 1, scheduler })),
    );
    expect(calls.map((c) => [c.at, c.keys])).toEqual([[1, ['T:a']]]);
    expect(events).toEqual([
      { at: 6, value: itemOf('a') },
      { at: 6, value: itemOf('a') },
      { at: 6, complete: true },
    ]);
  });

  it('should emit nothing for a key with no item', () => {
    const { calls, events } = run(
      () => ({}),
      (client, { scheduler }) =>
        from([{ pk: '1' }, { pk: 'gone1' }, { pk: '2' }]).pipe(dynamoBatchGet(client, 'T', { ...fast, scheduler })),
    );
    expect(calls.map((c) => c.keys)).toEqual([['T:1', 'T:gone1', 'T:2']]);
    expect(events).toEqual([
      { at: 1, value: itemOf('1') },
      { at: 1, value: itemOf('2') },
      { at: 1, complete: true },
    ]);
  });

  it('should, when attempts run out, emit what was read, let calls in flight finish, then hand back exactly the keys not read (issue 9)', () => {
    let source!: { subscriptions: Array<{ subscribedFrame: number; unsubscribedFrame: number }> };
    const { calls, events } = run(
      (call) => (call.keys[0] === 'T:100' ? { marble: '-------------------r|' } : { unprocessed: (_t, pk) => Number(pk) < 5 }),
      (client, { hot, scheduler }) =>
        // 100 keys at 0, 100 more at 1, three more at 2, one more at 15; the source never completes
        (source = hot('abc------------d', { a: keys(0, 100), b: keys(100, 100), c: keys(200, 3), d: keys(300, 1) })).pipe(
          mergeMap((list: Array<{ pk: string }>) => list),
          dynamoBatchGet(client, 'T', { ...fast, maxAttempts: 2, scheduler }),
        ),
    );
    // the stream takes nothing more from the source once it has stopped (12): the key at 15 is never taken
    expect(source.subscriptions.map((s) => [s.subscribedFrame, s.unsubscribedFrame])).toEqual([[0, 12]]);
    // keys 0-4 come back unprocessed at 1 and go again at 11, with the three keys queued since 2
    expect(calls.map((c) => [c.at, c.keys.length])).toEqual([
      [0, 100],
      [1, 100],
      [11, 8],
    ]);
    // at 12 keys 0-4 are out of attempts: no call starts, but the one in flight finishes at 20, not aborted
    expect(calls[1]!.signal?.aborted).toBe(false);
    expect(itemsByFrame(events)).toEqual({ 1: range(5, 95), 12: range(200, 3), 20: range(100, 100) });
    const last = events.at(-1)!;
    expect(last.at).toBe(20);
    const error = last.error as BatchGetError;
    expect(error).toBeInstanceOf(BatchGetError);
    expect([error.code, error.attempts]).toEqual(['batchGet.attemptsExhausted', 2]);
    expect(error.message).toMatch(
      /5 of 8 keys of a call failed; the first: The key for table T, pk="0" was still unprocessed after 2 BatchGetItem calls/,
    );
    expect(error.unprocessed).toEqual(keys(0, 5).map((key) => ({ table: 'T', key })));
  });

  it('should hand back every request for a key not read, a key asked twice twice, in input order', () => {
    const { calls, events } = run(
      () => ({ unprocessed: (_t, pk) => pk === 'a' }),
      (client, { scheduler }) =>
        from([{ pk: 'a' }, { pk: 'b' }, { pk: 'c' }, { pk: 'a' }]).pipe(
          dynamoBatchGet(client, 'T', { ...fast, maxAttempts: 1, scheduler }),
        ),
    );
    expect(calls.map((c) => c.keys)).toEqual([['T:a', 'T:b', 'T:c']]);
    expect(events.map((e) => [e.at, (e.value as { pk?: string } | undefined)?.pk ?? (e.error as BatchGetError).code])).toEqual([
      [1, 'b'],
      [1, 'c'],
      [1, 'batchGet.attemptsExhausted'],
    ]);
    expect((events[2]!.error as BatchGetError).unprocessed).toEqual([
      { table: 'T', key: { pk: 'a' } },
      { table: 'T', key: { pk: 'a' } },
    ]);
  });

  // the engine's wakeAt() stays at firstQueuedAt + maxBatchWaitMs (a time past) while only a retry waits in the lane,
  // and the shell re-arms a 0 ms timer for it again and again until the retry is due; the scheduler below throws
  // instead of hanging the test
  it('should wait out a backoff without re-arming its timer at the same time, with maxBatchWaitMs and a source that goes on', () => {
    const { calls, events } = run(
      (_, i) => ({ unprocessed: (_t, pk) => i === 0 && pk === '0' }),
      (client, { hot, scheduler }) =>
        hot('a', { a: keys(0, 100) }).pipe(
          mergeMap((list) => list),
          dynamoBatchGet(client, 'T', {
            ...fast,
            maxBatchWaitMs: 50,
            backoff: { baseDelayMs: 1000, jitter: 'none' },
            scheduler: guarded(scheduler, 100),
          }),
        ),
    );
    expect(calls.map((c) => [c.at, c.keys.length])).toEqual([
      [0, 100],
      [1001, 1],
    ]);
    expect(itemsByFrame(events)).toEqual({ 1: range(1, 99), 1002: ['0'] });
  });

  // a retry due while every slot is busy: wakeAt() gives its time, already past, and the shell re-arms a 0 ms timer for
  // it again and again until a call's answer frees a slot; the scheduler below throws instead of hanging the test
  it('should wait for a free slot without re-arming its timer when a retry is due and every slot is busy', () => {
    const { calls, events } = run(
      (_, i) => (i === 0 ? { unprocessed: (_t, pk) => pk === '0' } : i === 1 ? { marble: '-------------------r|' } : {}),
      (client, { scheduler }) =>
        from(keys(0, 200)).pipe(dynamoBatchGet(client, 'T', { ...fast, concurrency: 1, scheduler: guarded(scheduler, 100) })),
    );
    // key 0 is due again at 11, but the only slot is busy until 20
    expect(calls.map((c) => [c.at, c.keys.length])).toEqual([
      [0, 100],
      [1, 100],
      [20, 1],
    ]);
    expect(itemsByFrame(events)).toEqual({ 1: range(1, 99), 20: range(100, 100), 21: ['0'] });
    expect(events.at(-1)).toEqual({ at: 21, complete: true });
  });

  it('should abort the calls in flight on unsubscribe, cancel the backoff timer, and make no further call', () => {
    const { calls, events } = run(
      (call) => (call.keys.length === 100 ? { unprocessed: () => true } : { marble: '----------r|' }),
      (client, { scheduler }) => from(keys(0, 130)).pipe(dynamoBatchGet(client, 'T', { ...fast, scheduler })),
      5,
    );
    // at 5 the first 100 keys wait out their 10 ms backoff, the call for the other 30 is in flight
    expect(calls.map((c) => [c.at, c.keys.length])).toEqual([
      [0, 100],
      [0, 30],
    ]);
    expect(calls[1]!.signal?.aborted).toBe(true);
    expect(events).toEqual([]);
  });

  it('should emit a BatchGetFailure in place of a key that could not be read, with onFailure "emit"', () => {
    const { events } = run(
      () => ({ unprocessed: (_t, pk) => pk === '1' }),
      (client, { scheduler }) =>
        from(keys(0, 3)).pipe(dynamoBatchGet(client, 'T', { ...fast, maxAttempts: 2, onFailure: 'emit', scheduler })),
    );
    const values = events.filter((e) => e.value).map((e) => e.value);
    expect(values.slice(0, 2)).toEqual([itemOf('0'), itemOf('2')]);
    const failure = values[2] as BatchGetFailure;
    expect(failure).toBeInstanceOf(BatchGetFailure);
    expect([failure.table, failure.key, failure.error.code]).toEqual(['T', { pk: '1' }, 'batchGet.attemptsExhausted']);
    expect(events.at(-1)).toEqual({ at: 12, complete: true });
  });
});

describe('dynamoBatchGetRequests (virtual time)', () => {
  it('should answer every key taken, with item undefined for a key with no item, across tables', () => {
    const requests: GetRequest[] = [
      { table: 'T', key: { pk: '1' } },
      { table: 'U', key: { pk: 'gone2' } },
      { table: 'T', key: { pk: 'gone3' } },
      { table: 'U', key: { pk: '4' } },
      { table: 'T', key: { pk: '1' } },
    ];
    const { calls, events } = run(
      () => ({}),
      (client, { scheduler }) =>
        from(requests).pipe(dynamoBatchGetRequests(client, { ...fast, keyAttributes: { T: ['pk'], U: ['pk'] }, scheduler })),
    );
    expect(calls.map((c) => c.keys)).toEqual([
      ['T:1', 'T:gone3'],
      ['U:gone2', 'U:4'],
    ]);
    expect(events.filter((e) => e.value).map((e) => e.value)).toEqual([
      { table: 'T', key: { pk: '1' }, item: storedItem('T', '1') },
      { table: 'T', key: { pk: '1' }, item: storedItem('T', '1') },
      { table: 'T', key: { pk: 'gone3' }, item: undefined },
      { table: 'U', key: { pk: 'gone2' }, item: undefined },
      { table: 'U', key: { pk: '4' }, item: storedItem('U', '4') },
    ]);
  });
});
