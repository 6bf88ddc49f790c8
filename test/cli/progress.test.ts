import { describe, expect, it } from 'vitest';
import { barFormat, barPayload, formatRate, statusLine, type Tally } from '../../src/cli/progress.js';

const tally: Tally = { read: 1_300, done: 1_200, written: 1_200, failed: 0, skipped: 0 };

describe('CLI progress: the throughput controller rate', () => {
  it('should format the rate in units per second with its reason, and say unbounded while nothing pushed back', () => {
    expect(formatRate({ unitsPerSecond: 1_950, reason: 'throttled' })).toBe('1,950 u/s (throttled)');
    expect(formatRate({ unitsPerSecond: 812.6, reason: 'probing' })).toBe('813 u/s (probing)');
    expect(formatRate({ unitsPerSecond: 0, reason: 'holding' })).toBe('0 u/s (holding)');
    expect(formatRate({ unitsPerSecond: null, reason: 'starting' })).toBe('unbounded (starting)');
  });

  it('should show the rate in the status line only when there is one, and leave the line as it was otherwise', () => {
    const line = { label: 'import', tally, total: 8_000, unit: 'lines', itemsPerSecond: 812, elapsedMs: 1_500 };
    expect(statusLine(line)).toBe('import: 1200 of 8000 lines done, 1200 written, 0 failed, 812/s, 1.5 s');
    expect(statusLine({ ...line, rate: { unitsPerSecond: 1_950, reason: 'throttled' } })).toBe(
      'import: 1200 of 8000 lines done, 1200 written, 0 failed, 812/s, 1,950 u/s (throttled), 1.5 s',
    );
    expect(
      statusLine({ ...line, total: undefined, tally: { ...tally, skipped: 3 }, rate: { unitsPerSecond: null, reason: 'starting' } }),
    ).toBe('import: 1200 lines done, 1200 written, 0 failed, 3 skipped, 812/s, unbounded (starting), 1.5 s');
  });

  it('should put the rate in the bar after the items per second, and nothing without it', () => {
    expect(barFormat('copy', 'items', true)).toBe(
      'copy [{bar}] {percentage}% | {value}/{total} items done | {counts} | {rate}/s{controller} | {duration_formatted}',
    );
    expect(barPayload(tally, 812)).toEqual({ counts: '1200 written, 0 failed', rate: 812, controller: '' });
    expect(barPayload(tally, 812, { unitsPerSecond: 1_950, reason: 'holding' })).toEqual({
      counts: '1200 written, 0 failed',
      rate: 812,
      controller: ', 1,950 u/s (holding)',
    });
  });
});
