import { describe, expect, it } from 'vitest';
import { map, of, type Observable } from 'rxjs';
import { retryUnprocessed, type CallOutcome } from '../../src/index.js';
import { testScheduler } from '../helpers/marbles.js';

const throttled = () => Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
const invalid = () => Object.assign(new Error('bad'), { name: 'ValidationException' });

describe('retryUnprocessed', () => {
  it('should re-send only the unprocessed requests, at the exact full-jitter delays', () => {
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      // each call answers 2 frames after it starts; the first two calls leave the last request unprocessed
      const answers = [['c'], ['c'], []];
      const sent: string[][] = [];
      const response = cold('--r|');
      const send = (requests: string[]) => {
        sent.push(requests);
        const unprocessed = answers[sent.length - 1]!;
        return response.pipe(map((): CallOutcome<string, null> => ({ unprocessed, response: null })));
      };
      const batches = hot('a|', { a: ['a', 'b', 'c'] });
      // retry 1: d = 100, full jitter with random 0.5 → 50 ms; retry 2: d = 200 → 100 ms
      const result = batches.pipe(
        retryUnprocessed(send, { backoff: { baseDelayMs: 100, jitter: 'full' }, random: () => 0.5 }),
        map((s) => `${s.attempt}:${s.unprocessed.join('')}:${s.final}`),
      );
      expectObservable(result).toBe('--x 51ms y 101ms z|', { x: '1:c:false', y: '2:c:false', z: '3::true' });
      expectSubscriptions(response.subscriptions).toBe(['^--!', '52ms ^--!', '154ms ^--!']);
      return () => expect(sent).toEqual([['a', 'b', 'c'], ['c'], ['c']]);
    });
  });

  it('should wait d/2 + random*d/2 with equal jitter and d with none, capped at maxDelayMs', () => {
    for (const [jitter, delays] of [
      ['equal', [75, 150, 300, 300]],
      ['none', [100, 200, 400, 400]],
      ['full', [50, 100, 200, 200]],
    ] as const) {
      testScheduler().run(({ expectObservable }) => {
        const send = () => of<CallOutcome<string, null>>({ unprocessed: ['x'], response: null });
        const result = of(['x']).pipe(
          retryUnprocessed(send, { maxAttempts: 5, backoff: { baseDelayMs: 100, maxDelayMs: 400, jitter }, random: () => 0.5 }),
          map((s) => s.attempt),
        );
        // calls at 0, then after each delay
        let t = 0;
        const frames = [0, ...delays.map((d) => (t += d))];
        const marble = frames
          .map((f, i) => `${i === 0 ? '' : `${f - frames[i - 1]! - 1}ms `}${'abcde'[i]}`)
          .join(' ')
          .replace(/e$/, '(e|)');
        expectObservable(result).toBe(marble, { a: 1, b: 2, c: 3, d: 4, e: 5 });
      });
    }
  });

  it('should give up after maxAttempts calls with the last unprocessed requests in the final step', () => {
    testScheduler().run(({ expectObservable }) => {
      const send = (r: string[]) => of<CallOutcome<string, null>>({ unprocessed: r, response: null });
      const result = of(['a', 'b']).pipe(
        retryUnprocessed(send, { maxAttempts: 3, backoff: { baseDelayMs: 10, jitter: 'none' } }),
        map((s) => `${s.attempt}${s.final ? '!' : ''}${s.unprocessed.length}`),
      );
      expectObservable(result).toBe('a 9ms b 19ms (c|)', { a: '12', b: '22', c: '3!2' });
    });
  });

  it('should retry throttling errors with backoff and stop at once on a non-retryable error', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      let calls = 0;
      const send = (): Observable<CallOutcome<string, null>> => (++calls === 1 ? cold('-#', {}, throttled()) : cold('-#', {}, invalid()));
      const result = of(['a']).pipe(
        retryUnprocessed(send, { backoff: { baseDelayMs: 10, jitter: 'none' } }),
        map((s) => `${s.attempt}:${s.fatal}:${s.final}:${(s.error as Error).name}`),
      );
      expectObservable(result).toBe('-a 10ms (b|)', {
        a: '1:false:false:ProvisionedThroughputExceededException',
        b: '2:true:true:ValidationException',
      });
    });
  });

  it('should keep at most `concurrency` calls in flight and not count a batch waiting out its backoff', () => {
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const slow = cold('----r|');
      let first = true;
      const send = (requests: string[]) => {
        // the very first call (batch a) comes back with everything unprocessed once
        const unprocessed = first && requests[0] === 'a' ? requests : [];
        first = false;
        return slow.pipe(map((): CallOutcome<string, null> => ({ unprocessed, response: null })));
      };
      const batches = hot('(abc)|', { a: ['a'], b: ['b'], c: ['c'] });
      const result = batches.pipe(
        retryUnprocessed(send, { concurrency: 2, backoff: { baseDelayMs: 2, jitter: 'none' } }),
        map((s) => s.batch[0]! + s.attempt),
      );
      // a and b take both slots at 0 and free them at 5; c waits for a slot and starts at 5. a came back
      // unprocessed at 4 and waits out 2 ms of backoff holding no slot, then takes the free slot at 6.
      expectObservable(result).toBe('----(ab) 1ms cd|', { a: 'a1', b: 'b1', c: 'c1', d: 'a2' });
      expectSubscriptions(slow.subscriptions).toBe(['^----!', '^----!', '-----^----!', '------^----!']);
    });
  });

  it('should cancel pending timers and calls on unsubscribe, and make no further call', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const response = cold('--r|');
      let calls = 0;
      const send = (r: string[]) => {
        calls++;
        return response.pipe(map((): CallOutcome<string, null> => ({ unprocessed: r, response: null })));
      };
      const result = of(['a']).pipe(
        retryUnprocessed(send, { backoff: { baseDelayMs: 10, jitter: 'none' } }),
        map((s) => s.attempt),
      );
      // unsubscribed at 5, while waiting out the 10 ms backoff before the second call
      expectObservable(result, '^----!').toBe('--a', { a: 1 });
      expectSubscriptions(response.subscriptions).toBe(['^--!']);
      return () => expect(calls).toBe(1);
    });
  });

  it('should not start queued calls while being torn down (regression, issue 2: unsubscribe freed slots on the way out)', () => {
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const response = cold('-----r|');
      const send = () => response.pipe(map((): CallOutcome<string, null> => ({ unprocessed: [], response: null })));
      const batches = hot('(abc)', { a: ['a'], b: ['b'], c: ['c'] });
      const result = batches.pipe(
        retryUnprocessed(send, { concurrency: 1 }),
        map((s) => s.batch[0]),
      );
      expectObservable(result, '^--!').toBe('');
      // one call, cancelled at 3; b and c never start
      expectSubscriptions(response.subscriptions).toBe(['^--!']);
    });
  });

  it('should grow adaptive concurrency by one per window of clean calls and halve it once per throttling event', () => {
    const steps: string[] = [];
    testScheduler().run(({ cold, hot, flush }) => {
      const response = cold('---r|'); // every call: answer at +3, done at +4
      const names = 'abcdefghijkl'.split('');
      // the first calls of e and f come back unprocessed (throttled); every other call is clean
      const send = (requests: string[], attempt: number) =>
        response.pipe(
          map((): CallOutcome<string, null> => ({
            unprocessed: attempt === 1 && 'ef'.includes(requests[0]!) ? requests : [],
            response: null,
          })),
        );
      hot('(abcdefghijkl)', Object.fromEntries(names.map((n) => [n, [n]])))
        .pipe(retryUnprocessed(send, { concurrency: 'adaptive', maxConcurrency: 4, backoff: { baseDelayMs: 1, jitter: 'none' } }))
        .subscribe((step) => steps.push(`${step.batch[0]}${step.attempt}:${step.concurrency}`));
      flush();
      // limit 2: a, b at 0; after a window of 2 clean calls, 3: c at 3, d and e at 4 as a and b finish, f at 7.
      // e comes back throttled at 7: halve to 1 (f, started at 7, throttled too, does not cut again). Clean calls then
      // grow it back: e's retry at 11 (limit 1), f's at 14 (2), g at 15, h and i at 18 (3), j at 19, k and l at 22 (4).
      expect(response.subscriptions.map((s) => s.subscribedFrame)).toEqual([0, 0, 3, 4, 4, 7, 11, 14, 15, 18, 18, 19, 22, 22]);
    });
    expect(steps).toEqual(['a1:2', 'b1:3', 'c1:3', 'd1:3', 'e1:1', 'f1:1', 'e2:2', 'f2:2', 'g1:3', 'h1:3', 'i1:3', 'j1:4', 'k1:4', 'l1:4']);
  });

  it('should reject bad options when created', () => {
    const send = () => of({ unprocessed: [], response: null });
    expect(() => retryUnprocessed(send, { concurrency: 0 })).toThrow(/concurrency must be an integer >= 1 or 'adaptive', got 0/);
    expect(() => retryUnprocessed(send, { maxAttempts: 1.5 })).toThrow(/maxAttempts .* got 1.5/);
    expect(() => retryUnprocessed(send, { backoff: { baseDelayMs: 100, maxDelayMs: 10 } })).toThrow(/maxDelayMs/);
  });
});
