import { describe, expect, it } from 'vitest';
import { concat, from, type Observable, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { BatchGetError, dynamoLookup, type Lookup } from '../../src/index.js';
import { type FakeReadAnswer, type FakeReadCall, fakeReadClient, storedItem } from '../helpers/fakeReadClient.js';

const fast = { backoff: { baseDelayMs: 10, jitter: 'none' as const }, keyAttributes: ['pk'] };
const row = (pk: string): Lookup => ({ key: { pk }, item: storedItem('T', pk) });

/** Runs `build` on a TestScheduler with a scripted fake read client; returns the calls and what the stream did. */
function run(
  answer: (call: FakeReadCall, index: number) => FakeReadAnswer,
  build: (client: ReturnType<typeof fakeReadClient>['client'], scheduler: TestScheduler) => Observable<Lookup>,
) {
  const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
  const events: Array<{ at: number; value?: Lookup; error?: unknown; complete?: true }> = [];
  let fake!: ReturnType<typeof fakeReadClient>;
  scheduler.run(({ cold }) => {
    fake = fakeReadClient(() => scheduler.now(), cold, answer);
    build(fake.client, scheduler).subscribe({
      next: (value) => events.push({ at: scheduler.now(), value }),
      error: (error) => events.push({ at: scheduler.now(), error }),
      complete: () => events.push({ at: scheduler.now(), complete: true }),
    });
  });
  return { calls: fake.calls, events };
}

/** Answers each call after the delay given for its first key (`-r|` when not named). */
const timedBy =
  (delays: Record<string, string>): ((call: FakeReadCall) => FakeReadAnswer) =>
  (call) => ({ marble: delays[call.keys[0]!] ?? '-r|' });

describe('dynamoLookup (virtual time)', () => {
  it('should emit rows in input order even when later keys are answered first', () => {
    const { calls, events } = run(timedBy({ 'T:a': '-----r|', 'T:c': '-r|', 'T:e': '--r|' }), (client, scheduler) =>
      from(['a', 'b', 'c', 'd', 'e'].map((pk) => ({ pk }))).pipe(dynamoLookup(client, 'T', { ...fast, batchSize: 2, scheduler })),
    );
    expect(calls.map((c) => [c.at, c.keys])).toEqual([
      [0, ['T:a', 'T:b']],
      [0, ['T:c', 'T:d']],
      [0, ['T:e']],
    ]);
    // c, d (answered at 1) and e (at 2) wait for a and b (at 5)
    expect(events).toEqual([...['a', 'b', 'c', 'd', 'e'].map((pk) => ({ at: 5, value: row(pk) })), { at: 5, complete: true }]);
  });

  it('should emit a row as soon as the keys before it are answered, not waiting for those after', () => {
    const { events } = run(timedBy({ 'T:a': '-r|', 'T:c': '-----r|', 'T:e': '--r|' }), (client, scheduler) =>
      from(['a', 'b', 'c', 'd', 'e'].map((pk) => ({ pk }))).pipe(dynamoLookup(client, 'T', { ...fast, batchSize: 2, scheduler })),
    );
    expect(events.map((e) => [e.at, e.value?.key.pk ?? 'complete'])).toEqual([
      [1, 'a'],
      [1, 'b'],
      [5, 'c'],
      [5, 'd'],
      [5, 'e'],
      [5, 'complete'],
    ]);
  });

  it('should give item undefined for a key with no item, in its place', () => {
    const { events } = run(
      () => ({}),
      (client, scheduler) => from([{ pk: '1' }, { pk: 'gone2' }, { pk: '3' }]).pipe(dynamoLookup(client, 'T', { ...fast, scheduler })),
    );
    expect(events.filter((e) => e.value).map((e) => e.value)).toEqual([row('1'), { key: { pk: 'gone2' }, item: undefined }, row('3')]);
  });

  it('should answer a key asked twice in each of its places, from one read', () => {
    const { calls, events } = run(
      () => ({}),
      (client, scheduler) => from([{ pk: '1' }, { pk: '2' }, { pk: '1' }]).pipe(dynamoLookup(client, 'T', { ...fast, scheduler })),
    );
    expect(calls.map((c) => c.keys)).toEqual([['T:1', 'T:2']]);
    expect(events.filter((e) => e.value).map((e) => e.value)).toEqual([row('1'), row('2'), row('1')]);
  });

  it('should hand back the keys read but held back for order in the error’s unprocessed', () => {
    const { calls, events } = run(
      (call) => (call.keys[0] === 'T:a' ? { marble: '---r|', unprocessed: () => true } : {}),
      (client, scheduler) =>
        from(['a', 'b', 'c', 'd', 'e'].map((pk) => ({ pk }))).pipe(
          dynamoLookup(client, 'T', { ...fast, batchSize: 2, maxAttempts: 1, scheduler }),
        ),
    );
    expect(calls.map((c) => c.keys)).toEqual([['T:a', 'T:b'], ['T:c', 'T:d'], ['T:e']]);
    // c, d and e were read at 1, held back behind a; a and b run out of attempts at 3: no row comes out
    expect(events.map((e) => e.at)).toEqual([3]);
    const error = events[0]!.error as BatchGetError;
    expect(error).toBeInstanceOf(BatchGetError);
    expect([error.code, error.attempts]).toEqual(['batchGet.attemptsExhausted', 1]);
    expect(error.message).toMatch(/2 of 2 keys of a call failed; the first: The key for table T, pk="a"/);
    expect(error.unprocessed.map((r) => r.key.pk).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  // every BatchError's `unprocessed` is "in input order" (src/errors.ts); a lookup re-run from it must keep the order
  it('should hand back the held keys and the keys not read in input order', () => {
    const { events } = run(
      (call) => (call.keys[0] === 'T:a' ? { marble: '---r|', unprocessed: () => true } : {}),
      (client, scheduler) =>
        from(['a', 'b', 'c', 'd', 'e'].map((pk) => ({ pk }))).pipe(
          dynamoLookup(client, 'T', { ...fast, batchSize: 2, maxAttempts: 1, scheduler }),
        ),
    );
    const error = events[0]!.error as BatchGetError;
    expect(error.unprocessed).toEqual(['a', 'b', 'c', 'd', 'e'].map((pk) => ({ table: 'T', key: { pk } })));
  });

  it('should emit the rows before the first key not read, then the error with the rest', () => {
    const { events } = run(
      (call) => (call.keys[0] === 'T:c' ? { marble: '---r|', unprocessed: (_t, pk) => pk === 'd' } : {}),
      (client, scheduler) =>
        from(['a', 'b', 'c', 'd', 'e'].map((pk) => ({ pk }))).pipe(
          dynamoLookup(client, 'T', { ...fast, batchSize: 2, maxAttempts: 1, scheduler }),
        ),
    );
    // a, b at 1; e read at 1 but held behind d; c read at 3, d out of attempts at 3
    expect(events.map((e) => [e.at, e.value?.key.pk ?? (e.error as BatchGetError).code])).toEqual([
      [1, 'a'],
      [1, 'b'],
      [3, 'c'],
      [3, 'batchGet.attemptsExhausted'],
    ]);
    expect((events[3]!.error as BatchGetError).unprocessed.map((r) => r.key.pk).sort()).toEqual(['d', 'e']);
  });

  it('should put a failure in its place and go on, with onFailure "emit"', () => {
    const { events } = run(
      (call) => ({ unprocessed: (_t, pk) => pk === 'b', marble: call.keys.includes('T:b') ? '---r|' : '-r|' }),
      (client, scheduler) =>
        from(['a', 'b', 'c'].map((pk) => ({ pk }))).pipe(
          dynamoLookup(client, 'T', { ...fast, maxAttempts: 1, onFailure: 'emit', scheduler }),
        ),
    );
    expect(events.map((e) => [e.at, e.value?.key.pk ?? 'complete'])).toEqual([
      [3, 'a'],
      [3, 'b'],
      [3, 'c'],
      [3, 'complete'],
    ]);
    const failed = events[1]!.value!;
    expect(failed.item).toBeUndefined();
    expect((failed.error as BatchGetError).code).toBe('batchGet.attemptsExhausted');
    expect([events[0]!.value!.error, events[2]!.value!.error]).toEqual([undefined, undefined]);
  });

  it('should pass an error that is not a BatchGetError on unchanged', () => {
    const sourceError = new Error('the key file was truncated');
    const { events } = run(
      () => ({ marble: '--r|' }),
      (client, scheduler) =>
        concat(
          from([{ pk: '1' }]),
          throwError(() => sourceError),
        ).pipe(dynamoLookup(client, 'T', { ...fast, scheduler })),
    );
    expect(events).toEqual([
      { at: 2, value: row('1') },
      { at: 2, error: sourceError },
    ]);
  });
});
