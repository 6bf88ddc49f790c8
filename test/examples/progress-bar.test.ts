import { describe, expect, inject, it } from 'vitest';
import { progressLines, writeWithProgress } from '../../examples/progress-bar.js';
import { uniqueTable } from '../helpers/tables.js';
import type { Progress } from 'rxjs-dynamodb';

describe('examples/progress-bar.ts', () => {
  it('should print plain progress lines when stdout is not a terminal, ending with every ticket written', async () => {
    const lines = await writeWithProgress(inject('dynamoEndpoint'), uniqueTable('Progress'));
    expect(lines.at(-1)).toMatch(/^5000\/5000 written, 0 failed, 0 retried, \d+\/s, concurrency 4$/);
  });

  it('should print at most one line per interval, and always the last', () => {
    const lines: string[] = [];
    const report = progressLines(100, 1000, (line) => lines.push(line));
    const p = (elapsedMs: number, done: number, complete = false) =>
      ({ elapsedMs, done, complete, failed: 0, retried: 0, ratePerSecond: 0, concurrency: 4 }) as Progress;
    [p(0, 10), p(500, 20), p(1000, 30), p(1500, 40), p(1600, 100, true)].forEach(report);
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['10/100', '30/100', '100/100']);
  });
});
