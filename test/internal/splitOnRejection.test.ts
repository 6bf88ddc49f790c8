import { describe, expect, it } from 'vitest';
import { defer, type Observable } from 'rxjs';
import { splitOnRejection } from '../../src/internal/splitOnRejection.js';
import type { CallOutcome } from '../../src/types.js';
import { testScheduler } from '../helpers/marbles.js';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });
const throttled = named('ProvisionedThroughputExceededException', 'slow down');
const denied = named('AccessDeniedException', 'no');

type Outcome = CallOutcome<string, string[] | undefined>;
/** How the fake answers one call: its error, or the requests it leaves unprocessed. */
type Script = (requests: string[]) => { error?: unknown; unprocessed?: string[] };

/**
 * Runs `splitOnRejection` over a fake call that answers one frame after it is subscribed to (`-r|` or `-#`), its response the
 * requests it wrote; returns the calls made (`[frame, requests]`), and the outcome or error with its frame.
 */
function split(requests: string[], script: Script) {
  const calls: Array<[number, string]> = [];
  const events: Array<{ at: number; outcome?: Outcome; error?: unknown; complete?: true }> = [];
  const scheduler = testScheduler();
  scheduler.run(({ cold }) => {
    // lazy, as a real call is (sendCommand): a call is made when it is subscribed to
    const callOnce = (part: string[]): Observable<Outcome> =>
      defer(() => {
        calls.push([scheduler.now(), part.join('')]);
        const { error, unprocessed = [] } = script(part);
        if (error) return cold<Outcome>('-#', {}, error);
        return cold('-r|', { r: { unprocessed, response: part.filter((r) => !unprocessed.includes(r)) } });
      });
    const send = splitOnRejection(callOnce, (a, b) => (a || b ? [...(a ?? []), ...(b ?? [])] : undefined));
    send(requests).subscribe({
      next: (outcome) => events.push({ at: scheduler.now(), outcome }),
      error: (error) => events.push({ at: scheduler.now(), error }),
      complete: () => events.push({ at: scheduler.now(), complete: true }),
    });
  });
  return { calls, events };
}

/** DynamoDB rejects any call that carries one of `bad`, each with its own ValidationException. */
const rejecting =
  (bad: string, otherwise: Script = () => ({})): Script =>
  (part) => {
    const offender = part.find((r) => bad.includes(r));
    return offender ? { error: named('ValidationException', `bad ${offender}`) } : otherwise(part);
  };

describe('splitOnRejection', () => {
  it('should pass a call that succeeds through as it is', () => {
    const { calls, events } = split(['a', 'b'], (part) => ({ unprocessed: part.slice(1) }));
    expect(calls).toEqual([[0, 'ab']]);
    expect(events).toEqual([
      { at: 1, outcome: { unprocessed: ['b'], response: ['a'] } },
      { at: 2, complete: true },
    ]);
  });

  it('should halve a rejected call until the offender stands alone, and reject only it', () => {
    const { calls, events } = split(['a', 'b', 'c', 'd', 'e'], rejecting('c'));
    // halves are sent one after the other: abc|de, then ab|c
    expect(calls).toEqual([
      [0, 'abcde'],
      [1, 'abc'],
      [2, 'ab'],
      [4, 'c'],
      [5, 'de'],
    ]);
    const outcome = events[0]!.outcome!;
    expect(events[0]!.at).toBe(7);
    expect(outcome.unprocessed).toEqual([]);
    expect(outcome.rejected!.map((r) => [r.request, (r.error as Error).message])).toEqual([['c', 'bad c']]);
    // what the other calls wrote, combined
    expect(outcome.response).toEqual(['a', 'b', 'd', 'e']);
    expect(events[1]).toEqual({ at: 7, complete: true });
  });

  it('should reject each offender with its own error', () => {
    const { calls, events } = split(['a', 'b', 'c', 'd'], rejecting('bd'));
    expect(calls.map(([, r]) => r)).toEqual(['abcd', 'ab', 'a', 'b', 'cd', 'c', 'd']);
    const outcome = events[0]!.outcome!;
    expect(outcome.rejected!.map((r) => [r.request, (r.error as Error).name, (r.error as Error).message])).toEqual([
      ['b', 'ValidationException', 'bad b'],
      ['d', 'ValidationException', 'bad d'],
    ]);
    expect(outcome.response).toEqual(['a', 'c']);
    expect(outcome.unprocessed).toEqual([]);
  });

  it('should reject a single rejected request at once, without another call', () => {
    const { calls, events } = split(['x'], rejecting('x'));
    expect(calls).toEqual([[0, 'x']]);
    expect(events[0]!.outcome).toEqual({
      unprocessed: [],
      rejected: [{ request: 'x', error: expect.objectContaining({ message: 'bad x' }) }],
    });
  });

  it('should hand back a half that fails with a retryable error as unprocessed', () => {
    const { events } = split(
      ['a', 'b', 'c', 'd'],
      rejecting('d', (part) => (part.includes('a') ? { error: throttled } : {})),
    );
    const outcome = events[0]!.outcome!;
    expect(outcome.unprocessed).toEqual(['a', 'b']);
    expect(outcome.rejected!.map((r) => r.request)).toEqual(['d']);
    expect(outcome.response).toEqual(['c']);
  });

  it('should reject a half that fails with another error alone, with that error', () => {
    const { events } = split(
      ['a', 'b', 'c', 'd'],
      rejecting('d', (part) => (part.includes('a') ? { error: denied } : {})),
    );
    const outcome = events[0]!.outcome!;
    expect(outcome.unprocessed).toEqual([]);
    expect(outcome.rejected!.map((r) => [r.request, r.error])).toEqual([
      ['a', denied],
      ['b', denied],
      ['d', expect.objectContaining({ message: 'bad d' })],
    ]);
    expect(outcome.response).toEqual(['c']);
  });

  it('should keep what a half left unprocessed in the combined outcome', () => {
    const { events } = split(
      ['a', 'b', 'c', 'd'],
      rejecting('a', (part) => ({ unprocessed: part.filter((r) => r === 'c') })),
    );
    const outcome = events[0]!.outcome!;
    expect(outcome.unprocessed).toEqual(['c']);
    expect(outcome.rejected!.map((r) => r.request)).toEqual(['a']);
    expect(outcome.response).toEqual(['b', 'd']);
  });

  it.each([
    ['a retryable error', throttled],
    ['a non-retryable error other than ValidationException', denied],
  ])('should not split a whole call that fails with %s: it errors as it is', (_, error) => {
    const { calls, events } = split(['a', 'b'], () => ({ error }));
    expect(calls).toEqual([[0, 'ab']]);
    expect(events).toEqual([{ at: 1, error }]);
  });
});
