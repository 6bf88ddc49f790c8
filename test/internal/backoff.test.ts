import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/index.js';

describe('backoffDelay', () => {
  it('should double from baseDelayMs up to maxDelayMs', () => {
    const none = (n: number) => backoffDelay(n, { baseDelayMs: 100, maxDelayMs: 1000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 6].map(none)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('should apply full and equal jitter with the random draw', () => {
    expect(backoffDelay(3, { baseDelayMs: 100, jitter: 'full' }, () => 0.25)).toBe(100);
    expect(backoffDelay(3, { baseDelayMs: 100, jitter: 'equal' }, () => 0.25)).toBe(250);
    expect(backoffDelay(3, { baseDelayMs: 100, jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffDelay(3, { baseDelayMs: 100, jitter: 'equal' }, () => 0)).toBe(200);
  });

  it('should default to 100 ms base, 20 s cap, full jitter', () => {
    expect(backoffDelay(1, {}, () => 1)).toBe(100);
    expect(backoffDelay(30, {}, () => 1)).toBe(20_000);
  });
});
