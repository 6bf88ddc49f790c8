import { describe, expect, it } from 'vitest';
import { from, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { type BackoffOptions, type BatchWriteResult, dynamoBatchWrite, type Progress } from '../../src/index.js';
import { type FakeAnswer, type FakeCall, fakeWriteClient } from '../helpers/fakeClient.js';
import { testScheduler } from '../helpers/marbles.js';

const items = (count: number) => Array.from({ length: count }, (_, i) => ({ pk: String(i) }));

/**
 * A clock that moves while it is read, as a real one does during a step: `now()` is the TestScheduler's virtual time
 * plus 1 ms more on every read. Work is scheduled on the TestScheduler itself. How far it moves between two reads
 * depends on how often the operator reads it, so the tests sweep the backoff rather than pick the one delay that falls
 * between a step's read and the next.
 */
class DriftingScheduler implements SchedulerLike {
  reads = 0;
  constructor(private readonly virtual: TestScheduler) {}
  now(): number {
    return this.virtual.now() + this.reads++;
  }
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    return this.virtual.schedule(work, delay, state);
  }
}

interface Outcome {
  calls: FakeCall[];
  results: BatchWriteResult[];
  complete: boolean;
  error?: unknown;
  last?: Progress;
}

/** Writes `count` items through a fake client on the drifting clock; runs the virtual time out and says what happened. */
function run(
  count: number,
  options: { concurrency: number; backoff: BackoffOptions },
  answer: (call: FakeCall, index: number) => FakeAnswer,
): Outcome {
  const virtual = testScheduler();
  const scheduler = new DriftingScheduler(virtual);
  const outcome: Outcome = { calls: [], results: [], complete: false };
  virtual.run(({ cold }) => {
    const fake = fakeWriteClient(() => scheduler.now(), cold, answer);
    outcome.calls = fake.calls;
    from(items(count))
      .pipe(
        dynamoBatchWrite(fake.client, 'T', {
          ...options,
          keyAttributes: ['pk'],
          maxAttempts: 10,
          scheduler,
          onProgress: (p) => (outcome.last = p),
        }),
      )
      .subscribe({
        next: (result) => outcome.results.push(result),
        error: (error) => (outcome.error = error),
        complete: () => (outcome.complete = true),
      });
  }); // flushes: returns once no action is left on the virtual clock
  return outcome;
}

/** The keys the fake client saw processed: every request of every call, less those it sent back unprocessed. */
const written = (outcome: Outcome, answer: (call: FakeCall, index: number) => FakeAnswer) =>
  new Set(
    outcome.calls.flatMap((call, i) => {
      const unprocessed = answer(call, i).unprocessed;
      return call.items.map((item) => String(item.pk)).filter((pk) => !unprocessed?.('T', pk));
    }),
  );

describe('dynamoBatchWrite on a clock that moves during a step', () => {
  it('should still send a retry that falls due between two reads of the clock, with no call in flight', () => {
    // one call of 10 requests; the first answer leaves 3 and 7 unprocessed, and then nothing is in flight: only a
    // timer can send them again. With the backoff (no jitter) swept over 1..20 ms, some retry falls due after the
    // step read the clock and before the clock was read again to decide on the timer (before the fix, no timer then:
    // the stream never ended).
    const answer = (_: FakeCall, i: number): FakeAnswer => ({ unprocessed: (_t, pk) => i === 0 && (pk === '3' || pk === '7') });
    const stalled: number[] = [];
    for (let baseDelayMs = 1; baseDelayMs <= 20; baseDelayMs++) {
      const outcome = run(10, { concurrency: 2, backoff: { baseDelayMs, jitter: 'none' } }, answer);
      expect(outcome.error).toBeUndefined();
      if (!outcome.complete) stalled.push(baseDelayMs);
      else {
        expect(outcome.calls.map((c) => c.requests)).toEqual([items(10).map((i) => `T:${i.pk}`), ['T:3', 'T:7']]);
        expect(written(outcome, answer).size).toBe(10);
        expect(outcome.last).toMatchObject({ taken: 10, done: 10, failed: 0, retried: 2, inFlight: 0, complete: true });
      }
    }
    expect(stalled).toEqual([]); // the backoffs after which the run stalled
  });

  it('should send the retries of the last call to come back, with fixed concurrency 8 and nothing else in flight', () => {
    // as in the stall seen (fixed concurrency 8, a throttled table, retries left and nothing in flight): 8 calls of 25
    // go at once and come back 10 frames apart; the slowest, back last and alone, sends 2 of every 10 requests back.
    // Only a timer can send those again. (Had the others sent requests back too, their retries would still be in
    // flight when it comes back, and their answer would carry its retries.)
    const answer = (_: FakeCall, i: number): FakeAnswer => ({
      marble: i < 8 ? `${'-'.repeat(1 + 10 * i)}r|` : '-r|',
      unprocessed: (_t, pk) => i === 7 && (Number(pk) % 10 === 3 || Number(pk) % 10 === 7),
    });
    const stalled: number[] = [];
    for (let baseDelayMs = 1; baseDelayMs <= 20; baseDelayMs++) {
      const outcome = run(200, { concurrency: 8, backoff: { baseDelayMs, jitter: 'none' } }, answer);
      expect(outcome.error).toBeUndefined();
      if (!outcome.complete) stalled.push(baseDelayMs);
      else {
        expect(outcome.calls.slice(0, 8).map((c) => c.requests.length)).toEqual(Array(8).fill(25));
        expect(outcome.calls.slice(8).flatMap((c) => c.requests)).toEqual(['T:177', 'T:183', 'T:187', 'T:193', 'T:197']);
        expect(written(outcome, answer).size).toBe(200);
        expect(outcome.results.flatMap((r) => r.requests)).toHaveLength(200);
        expect(outcome.last).toMatchObject({ taken: 200, done: 200, failed: 0, retried: 5, inFlight: 0, complete: true });
      }
    }
    expect(stalled).toEqual([]); // the backoffs after which the run stalled
  });
});
