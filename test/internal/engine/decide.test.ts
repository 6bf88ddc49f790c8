import { describe, expect, it } from 'vitest';
import { type CallAnswer, decide } from '../../../src/internal/engine/decide.js';
import type { Entry } from '../../../src/internal/engine/entry.js';
import { isRetryableError } from '../../../src/internal/retryable.js';
import { entry, type Req } from '../../helpers/entries.js';

const throttled = Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
const validation = Object.assign(new Error('bad item'), { name: 'ValidationException' });
const missingTable = Object.assign(new Error('no table'), { name: 'ResourceNotFoundException' });
const MAX = 3;

/** What an answer means, by entry id: the decision with entries replaced by their ids. */
function decided(attempts: number[], answer: (e: Array<Entry<Req>>) => CallAnswer<Req>) {
  const entries = attempts.map((a, i) => entry(i, { key: `k${i}`, attempts: a }));
  const d = decide(entries, answer(entries), MAX, isRetryableError);
  return {
    done: d.done.map((e) => e.id),
    again: d.again.map((e) => e.id),
    failed: d.failed.map((f) => [f.entry.id, f.kind, f.cause]),
    pushedBack: d.pushedBack,
  };
}

describe('decide', () => {
  // attempts of each entry (this call counted), the answer → done, again, failed [id, kind, cause], pushedBack
  it.each<[string, number[], (e: Array<Entry<Req>>) => CallAnswer<Req>, ReturnType<typeof decided>]>([
    ['all processed', [1, 1, 2], () => ({ unprocessed: [], rejected: [] }), { done: [0, 1, 2], again: [], failed: [], pushedBack: false }],
    [
      'unprocessed with attempts left go again',
      [1, 2, 1],
      (e) => ({ unprocessed: [e[2]!, e[1]!], rejected: [] }),
      { done: [0], again: [2, 1], failed: [], pushedBack: true },
    ],
    [
      'unprocessed at maxAttempts are exhausted, with no cause',
      [3, 2],
      (e) => ({ unprocessed: [e[0]!, e[1]!], rejected: [] }),
      { done: [], again: [1], failed: [[0, 'exhausted', undefined]], pushedBack: true },
    ],
    [
      'rejected fail alone with their own error',
      [1, 1, 1],
      (e) => ({ unprocessed: [], rejected: [{ entry: e[1]!, error: validation }] }),
      { done: [0, 2], again: [], failed: [[1, 'rejected', validation]], pushedBack: false },
    ],
    [
      'rejected and unprocessed in one answer',
      [1, 3, 1, 1],
      (e) => ({ unprocessed: [e[1]!, e[2]!], rejected: [{ entry: e[3]!, error: validation }] }),
      {
        done: [0],
        again: [2],
        failed: [
          [3, 'rejected', validation],
          [1, 'exhausted', undefined],
        ],
        pushedBack: true,
      },
    ],
    [
      'a retryable error sends them all again',
      [1, 2],
      () => ({ error: throttled }),
      { done: [], again: [0, 1], failed: [], pushedBack: true },
    ],
    [
      'a retryable error at maxAttempts exhausts, with the error as cause',
      [3, 1],
      () => ({ error: throttled }),
      { done: [], again: [1], failed: [[0, 'exhausted', throttled]], pushedBack: true },
    ],
    [
      'a non-retryable error fails them all as fatal, attempts left or not',
      [1, 3],
      () => ({ error: missingTable }),
      {
        done: [],
        again: [],
        failed: [
          [0, 'fatal', missingTable],
          [1, 'fatal', missingTable],
        ],
        pushedBack: false,
      },
    ],
    [
      'a thrown ValidationException (not split) is fatal for all',
      [1],
      () => ({ error: validation }),
      { done: [], again: [], failed: [[0, 'fatal', validation]], pushedBack: false },
    ],
  ])('should decide: %s', (_, attempts, answer, expected) => {
    expect(decided(attempts, answer)).toEqual(expected);
  });

  it('should use the classifier it is given for thrown errors', () => {
    const entries = [entry(0, { attempts: 1 })];
    const odd = new Error('odd');
    expect(decide(entries, { error: odd }, MAX, () => true).again).toEqual(entries);
    expect(decide(entries, { error: throttled }, MAX, () => false).failed).toEqual([
      { entry: entries[0], kind: 'fatal', cause: throttled },
    ]);
  });

  it('should give each entry one place: done, again or failed', () => {
    const entries = Array.from({ length: 6 }, (_, i) => entry(i, { key: `k${i}`, attempts: 1 + (i % 3) }));
    const d = decide(
      entries,
      { unprocessed: [entries[1]!, entries[2]!, entries[5]!], rejected: [{ entry: entries[4]!, error: validation }] },
      MAX,
      isRetryableError,
    );
    const placed = [...d.done, ...d.again, ...d.failed.map((f) => f.entry)].map((e) => e.id).sort();
    expect(placed).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
