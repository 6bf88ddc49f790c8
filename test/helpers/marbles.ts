import { configure } from 'rxjs-marbles';
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';

/** rxjs-marbles wired to vitest once: `it('should …', marbles((m) => { … }))`. */
export const { marbles } = configure({
  assertDeepEqual: (a, e) => expect(a).toStrictEqual(e),
  frameworkMatcher: true,
});

/** A TestScheduler whose assertions are vitest's, for `testScheduler.run(({ cold, expectObservable }) => …)`. */
export const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toStrictEqual(expected));
