import { describe, expect, it } from 'vitest';
import { bufferBatch } from '../../src/index.js';
import { marbles } from '../helpers/marbles.js';

describe('bufferBatch', () => {
  it(
    'should close a batch at maxCount and emit the rest on completion',
    marbles((m) => {
      const source = m.cold('  a-b-c-d-e-|');
      const subs = '           ^---------!';
      const expected = m.cold('--x---y---(z|)', { x: ['a', 'b'], y: ['c', 'd'], z: ['e'] });
      m.expect(source.pipe(bufferBatch({ maxCount: 2 }))).toBeObservable(expected);
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'should close a batch before a value would pass maxBytes',
    marbles((m) => {
      const sizes: Record<string, number> = { a: 6, b: 4, c: 1, d: 10 };
      const source = m.cold('  a-b-c-d-|');
      const expected = m.cold('----x-y-(z|)', { x: ['a', 'b'], y: ['c'], z: ['d'] });
      m.expect(source.pipe(bufferBatch({ maxCount: 25, maxBytes: 10, byteSize: (v) => sizes[v]! }))).toBeObservable(expected);
    }),
  );

  it(
    'should replace a value whose key is already in the open batch, in place, through merge',
    marbles((m) => {
      const source = m.cold('  a-b-A-c-|', { a: 'a1', b: 'b1', A: 'a2', c: 'c1' });
      const result = source.pipe(bufferBatch<string>({ maxCount: 3, key: (v) => v[0]!, merge: (earlier, later) => `${earlier}+${later}` }));
      m.expect(result).toBeObservable(m.cold('------x-|', { x: ['a1+a2', 'b1', 'c1'] }));
    }),
  );

  it(
    'should close the batch and start the next with the merged value when the merge no longer fits',
    marbles((m) => {
      const size = (v: string) => v.length;
      const source = m.cold('  a-b-A-|', { a: 'aa', b: 'bbb', A: 'aaaaaa' });
      // batch [aa, bbb] is 5 bytes; replacing aa by aaaaaa makes 9 > 8, so [bbb] closes and [aaaaaa] opens
      const expected = m.cold('----x-(y|)', { x: ['bbb'], y: ['aaaaaa'] });
      m.expect(source.pipe(bufferBatch<string>({ maxBytes: 8, byteSize: size, key: (v) => v[0]! }))).toBeObservable(expected);
    }),
  );

  it(
    'should close a batch maxWaitMs after its first value, on the given scheduler',
    marbles((m) => {
      const source = m.cold('  a-b------c--|');
      const expected = m.cold('-----x------(y|)', { x: ['a', 'b'], y: ['c'] });
      m.expect(source.pipe(bufferBatch({ maxWaitMs: 5, scheduler: m.scheduler }))).toBeObservable(expected);
    }),
  );

  it(
    'should drop the open batch and pass on a source error, as bufferCount does',
    marbles((m) => {
      const source = m.cold('  a-b-c-#');
      const expected = m.cold('--x---#', { x: ['a', 'b'] });
      m.expect(source.pipe(bufferBatch({ maxCount: 2 }))).toBeObservable(expected);
    }),
  );

  it(
    'should error with a RangeError for a single value over maxBytes',
    marbles((m) => {
      const source = m.cold('  a-b-|', { a: 1, b: 99 });
      const expected = m.cold('--#', undefined, new RangeError('a value of 99 bytes is over maxBytes (10) and cannot be batched'));
      m.expect(source.pipe(bufferBatch<number>({ maxBytes: 10, byteSize: (v) => v }))).toBeObservable(expected);
    }),
  );

  it('should reject bad options when created', () => {
    expect(() => bufferBatch({ maxCount: 0 })).toThrow('maxCount must be an integer >= 1, got 0');
    expect(() => bufferBatch({ maxBytes: -1 })).toThrow('maxBytes must be > 0, got -1');
  });
});
