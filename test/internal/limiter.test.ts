import { describe, expect, it } from 'vitest';
import { merge } from 'rxjs';
import { createLimiter } from '../../src/internal/limiter.js';
import { testScheduler } from '../helpers/marbles.js';

describe('createLimiter', () => {
  it('should keep at most `concurrency` active and start queued work first come, first served', () => {
    const ts = testScheduler();
    /** Runs `work` at virtual frame `at`. */
    const at = (frame: number, work: () => void) => void ts.schedule(work, frame);
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limit = createLimiter(2);
      const w1 = cold('-----a|');
      const w2 = cold('-b|');
      const w3 = cold('--c|');
      const w4 = cold('-d|');
      const active: number[] = [];
      const all = merge(limit(w1), limit(w2), limit(w3), limit(w4));
      // w1 and w2 start at 0; w2 ends at 2 and w3, queued first, takes its slot; w4 waits for the next free slot (w3's, at 5)
      expectObservable(all).toBe('-b--cad|');
      expectSubscriptions(w1.subscriptions).toBe('^-----!');
      expectSubscriptions(w2.subscriptions).toBe('^-!');
      expectSubscriptions(w3.subscriptions).toBe('--^--!');
      expectSubscriptions(w4.subscriptions).toBe('-----^-!');
      for (const t of [0, 3, 9]) at(t, () => active.push(limit.active));
      return () => expect(active).toEqual([2, 2, 0]);
    });
  });

  it('should start work with `first: true` before the work queued earlier', () => {
    const ts = testScheduler();
    /** Runs `work` at virtual frame `at`. */
    const at = (frame: number, work: () => void) => void ts.schedule(work, frame);
    ts.run(({ cold, expectSubscriptions }) => {
      const limit = createLimiter(1);
      const w1 = cold('--|');
      const w2 = cold('--|');
      const w3 = cold('--|');
      const w4 = cold('--|');
      merge(limit(w1), limit(w2), limit(w3), limit(w4, { first: true })).subscribe();
      expectSubscriptions(w1.subscriptions).toBe('^-!');
      expectSubscriptions(w4.subscriptions).toBe('--^-!');
      expectSubscriptions(w2.subscriptions).toBe('----^-!');
      expectSubscriptions(w3.subscriptions).toBe('------^-!');
    });
  });

  it('should remove queued work from the queue when it is unsubscribed, so that it never starts', () => {
    const ts = testScheduler();
    /** Runs `work` at virtual frame `at`. */
    const at = (frame: number, work: () => void) => void ts.schedule(work, frame);
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limit = createLimiter(1);
      const w1 = cold('----|');
      const w2 = cold('--|');
      const w3 = cold('--|');
      expectObservable(limit(w1)).toBe('----|');
      expectObservable(limit(w2), '^-!').toBe('');
      expectObservable(limit(w3)).toBe('------|');
      expectSubscriptions(w2.subscriptions).toBe([]);
      expectSubscriptions(w3.subscriptions).toBe('----^-!');
    });
  });

  it('should free the slot of active work when it is unsubscribed, or when it errors', () => {
    const ts = testScheduler();
    /** Runs `work` at virtual frame `at`. */
    const at = (frame: number, work: () => void) => void ts.schedule(work, frame);
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limit = createLimiter(1);
      const w1 = cold('------|');
      const w2 = cold('--#');
      const w3 = cold('--|');
      expectObservable(limit(w1), '^-!').toBe('');
      expectObservable(limit(w2)).toBe('----#');
      expectObservable(limit(w3)).toBe('------|');
      expectSubscriptions(w1.subscriptions).toBe('^-!');
      expectSubscriptions(w2.subscriptions).toBe('--^-!');
      expectSubscriptions(w3.subscriptions).toBe('----^-!');
    });
  });

  it('should start queued work at once when the limit goes up, and let active work finish when it goes down', () => {
    const ts = testScheduler();
    /** Runs `work` at virtual frame `at`. */
    const at = (frame: number, work: () => void) => void ts.schedule(work, frame);
    ts.run(({ cold, expectSubscriptions }) => {
      const limit = createLimiter(1);
      const works = [cold('----|'), cold('----|'), cold('----|'), cold('----|')];
      merge(...works.map((w) => limit(w))).subscribe();
      // at 1 the limit goes to 3: two queued start; at 2 it goes to 1: none is stopped, none starts until one is left
      at(1, () => limit.setLimit(3));
      at(2, () => limit.setLimit(1));
      expectSubscriptions(works[0]!.subscriptions).toBe('^---!');
      expectSubscriptions(works[1]!.subscriptions).toBe('-^---!');
      expectSubscriptions(works[2]!.subscriptions).toBe('-^---!');
      expectSubscriptions(works[3]!.subscriptions).toBe('-----^---!');
    });
  });

  it('should start nothing more once closed: not when active work ends, nor when it is unsubscribed', () => {
    const ts = testScheduler();
    /** Runs `work` at virtual frame `at`. */
    const at = (frame: number, work: () => void) => void ts.schedule(work, frame);
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limit = createLimiter(2);
      const w1 = cold('--|');
      const w2 = cold('------|');
      const w3 = cold('--|');
      const w4 = cold('--|');
      expectObservable(limit(w1)).toBe('--|');
      expectObservable(limit(w2), '^---!').toBe('');
      expectObservable(limit(w3)).toBe('');
      expectObservable(limit(w4)).toBe('');
      at(1, () => limit.close());
      expectSubscriptions(w2.subscriptions).toBe('^---!');
      expectSubscriptions(w3.subscriptions).toBe([]);
      expectSubscriptions(w4.subscriptions).toBe([]);
    });
  });

  it('should not start work queued after it was closed when a slot frees', () => {
    const ts = testScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limit = createLimiter(1);
      const w1 = cold('--|');
      const w2 = cold('--|');
      expectObservable(limit(w1)).toBe('--|');
      ts.schedule(() => limit.close(), 1);
      // w2 comes at 1, after the close, while w1 holds the only slot; w1 ends at 2
      expectObservable(limit(w2), '-^').toBe('');
      expectSubscriptions(w2.subscriptions).toBe([]);
    });
  });
});
