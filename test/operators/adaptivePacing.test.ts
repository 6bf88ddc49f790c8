import { describe, expect, it } from 'vitest';
import { from, mergeMap, tap } from 'rxjs';
import { type BatchWriteResult, dynamoBatchWrite, type Progress } from '../../src/index.js';
import { type FakeAnswer, type FakeCall, fakeWriteClient } from '../helpers/fakeClient.js';
import { testScheduler } from '../helpers/marbles.js';

/**
 * The throughput controller's decisions (`concurrency: 'adaptive'`), as seen from outside `dynamoBatchWrite`: when
 * calls are sent, what `onProgress` says the rate is and why, and how long retries wait. Small items cost one write
 * unit each, so a full call of 25 costs 25 units. The controller starts at 1000 units/s and doubles every 50 ms; the
 * backoff is 100 ms doubling with full jitter, and `random` is 0.5, so `backoffDelay(n)` is 50 × 2^(n-1) ms.
 */

type Item = { pk: string };
const items = (first: number, count: number): Item[] => Array.from({ length: count }, (_, i) => ({ pk: `x#${first + i}` }));
const puts = (first: number, count: number) => items(first, count).map((put) => ({ table: 'T', put }));
/** Times to the microsecond: pacing at a doubling rate sends calls between frames. */
const ms = (t: number) => Math.round(t * 1000) / 1000;
const keyOf = (request: string) => request.replace(/^T:/, '');

/** What one call's answer is, from how many times its first request has been sent (1: a first attempt). */
type Script = (first: string, attempt: number) => { latency: number; unprocessed: 'none' | 'all' | 'allButFirst5' };

/** A fake client's answers from a {@link Script}: `latency` frames later, with the requests it names unprocessed. */
function scripted(script: Script): (call: FakeCall) => FakeAnswer {
  const sent = new Map<string, number>();
  return (call) => {
    for (const r of call.requests) sent.set(r, (sent.get(r) ?? 0) + 1);
    const { latency, unprocessed } = script(keyOf(call.requests[0]!), sent.get(call.requests[0]!)!);
    const kept = new Set(call.requests.slice(0, unprocessed === 'allButFirst5' ? 5 : unprocessed === 'all' ? 0 : Infinity).map(keyOf));
    return { marble: `${'-'.repeat(latency)}r|`, unprocessed: (_table, pk) => !kept.has(pk) };
  };
}

interface Run {
  /** When each call was sent, and its requests. */
  sends: Array<{ at: number; requests: string[] }>;
  results: Array<{ at: number; first: string; count: number; attempts: number }>;
  completeAt: number | undefined;
  /** Every onProgress report's time and rate. */
  rates: Array<{ at: number; unitsPerSecond: number | null; reason: string }>;
}

/**
 * Writes the items `source` emits (each value an array of items, at its marble's frame) through a scripted fake client
 * with `concurrency: 'adaptive'`, and runs the virtual clock out. `expectResults`, when given, is checked with
 * `expectObservable` against the operator's results.
 */
function run(
  source: { marble: string; values: Record<string, Item[]> },
  script: Script,
  expectResults?: { marble: string; values: Record<string, BatchWriteResult> },
): Run {
  const scheduler = testScheduler();
  const out: Run = { sends: [], results: [], completeAt: undefined, rates: [] };
  let calls: FakeCall[] = [];
  scheduler.run(({ cold, expectObservable }) => {
    const fake = fakeWriteClient(() => scheduler.now(), cold, scripted(script));
    calls = fake.calls; // filled in as the clock runs
    const onProgress = (p: Progress) => out.rates.push({ at: scheduler.now(), ...p.rate! });
    const result$ = cold(source.marble, source.values).pipe(
      mergeMap((batch) => from(batch)),
      dynamoBatchWrite(fake.client, 'T', {
        concurrency: 'adaptive',
        maxConcurrency: 8,
        keyAttributes: ['pk'],
        backoff: { baseDelayMs: 100, jitter: 'full' },
        scheduler,
        random: () => 0.5,
        onProgress,
      }),
    );
    const recorded$ = result$.pipe(
      tap({
        next: (r) => {
          const request = r.requests[0]!;
          const first = 'put' in request ? String(request.put.pk) : '';
          out.results.push({ at: ms(scheduler.now()), first, count: r.requests.length, attempts: r.attempts });
        },
        complete: () => (out.completeAt = ms(scheduler.now())),
      }),
    );
    // one subscription only: the marble assertion's when there is one
    if (expectResults) expectObservable(recorded$).toBe(expectResults.marble, expectResults.values);
    else recorded$.subscribe();
  });
  out.sends = calls.map((c) => ({ at: ms(c.at), requests: c.requests }));
  return out;
}

/** `[at, first request, count]` of every call. */
const sendsOf = (r: Run) => r.sends.map((c) => [c.at, keyOf(c.requests[0]!), c.requests.length]);

/** The rate reported while starting may lag the clock, but never runs ahead of 1000 × 2^(t/50) from the first call. */
function expectStartingRates(rates: Run['rates'], startAt: number) {
  for (const r of rates) {
    expect(r.reason).toBe('starting');
    expect(r.unitsPerSecond).toBeGreaterThanOrEqual(1000);
    expect(r.unitsPerSecond).toBeLessThanOrEqual(Math.ceil(1000 * 2 ** ((r.at - startAt) / 50)));
  }
  for (let i = 1; i < rates.length; i++) expect(rates[i]!.unitsPerSecond).toBeGreaterThanOrEqual(rates[i - 1]!.unitsPerSecond!);
}

describe('dynamoBatchWrite with adaptive concurrency: the throughput controller (virtual time)', () => {
  it('should space the first calls by the starting rate, doubling every 50 ms, with every call slot free', () => {
    // 100 one-unit items: 4 full calls, all formed at 0 with 8 slots free, so all 4 reserve at 0. The first goes at
    // once and owes 25 units (25 ms at 1000/s). Call k reserves at the rate the controller will have at the slot it
    // would get, T(k-1), where the owed units are then re-priced (Gcra.setRate):
    //   wait(k) = 25(k-1) / 2^(T(k-1)/50) ms, T(k) = 25k / 2^(T(k-1)/50) ms, T(1) = 25
    //   k=2: 25/2^0.5 = 17.678 (T 35.355); k=3: 50/2^0.7071 = 30.627 (T 45.941); k=4: 75/2^0.9188 = 39.671
    // (at a fixed 1000/s they would go at 0, 25, 50, 75). Every call is answered 5 frames later, all written.
    const r = run({ marble: 'a|', values: { a: items(0, 100) } }, () => ({ latency: 5, unprocessed: 'none' }));
    expect(sendsOf(r)).toEqual([
      [0, 'x#0', 25],
      [17.678, 'x#25', 25],
      [30.627, 'x#50', 25],
      [39.671, 'x#75', 25],
    ]);
    expect(r.results).toEqual([
      { at: 5, first: 'x#0', count: 25, attempts: 1 },
      { at: 22.678, first: 'x#25', count: 25, attempts: 1 },
      { at: 35.627, first: 'x#50', count: 25, attempts: 1 },
      { at: 44.671, first: 'x#75', count: 25, attempts: 1 },
    ]);
    expect(r.completeAt).toBe(44.671);
    // one report per call and one at the end, all 'starting' (nothing pushed back)
    expect(r.rates.map((p) => ms(p.at))).toEqual([5, 22.678, 35.627, 44.671, 44.671]);
    expectStartingRates(r.rates, 0);
  });

  it('should retry at once, then after one backoff step, and report a growing starting rate, when nothing pushes back', () => {
    // 25 items at 300: one call, answered 30 frames later (its 25 units at 1000/s are paid by then, so pacing adds
    // nothing) with 20 requests unprocessed. Not saturated: the first retry goes at once (330), and its answer leaves
    // 15: the second retry waits backoffDelay(1) = 50 (360 → 410). Too few calls for a window to judge a loss.
    const r = run(
      { marble: '300ms b|', values: { b: items(100, 25) } },
      (_first, attempt) => ({ latency: 30, unprocessed: attempt < 3 ? 'allButFirst5' : 'none' }),
      { marble: '440ms (r|)', values: { r: { requests: puts(100, 25), attempts: 3 } } },
    );
    expect(sendsOf(r)).toEqual([
      [300, 'x#100', 25],
      [330, 'x#105', 20],
      [410, 'x#110', 15],
    ]);
    expect(r.rates.map((p) => p.at)).toEqual([330, 360, 440, 440]);
    expectStartingRates(r.rates, 300);
    // the rate reported grows as calls reserve later and later into the start
    expect(r.rates[1]!.unitsPerSecond).toBeGreaterThan(r.rates[0]!.unitsPerSecond!);
    expect(r.rates[2]!.unitsPerSecond).toBeGreaterThan(r.rates[1]!.unitsPerSecond!);
  });

  it('should cut the rate and hold when the table pushes back, and make retries wait the backoff while saturated', () => {
    // 100 items at 0: the 4 calls go as in the first test (0, 17.678, 30.627, 39.671). The first three come back
    // 5 frames later with everything unprocessed, the fourth with everything written; their retries are written.
    //  - 5, 22.678, 35.627: not saturated, so the unprocessed go again at once — paced at the starting rate at the slot
    //    they would get (e.g. at 5: 90.547 units owed until 52.894, re-priced at 1000·2^(52.894/50) = 2081.9/s: 48.493).
    //  - 44.671: the window (opened at the first answer, 5) has 4 calls, 100 units offered, 25 delivered: a loss of
    //    0.75 (> 0.5: DynamoDB pushing back, no waiting for a second window). It is cut to what was delivered,
    //    25 units / 39.671 ms = 630.18/s (at least a quarter of what was offered, at most half the rate): 'holding'.
    // 25 more items at 300, answered 30 frames later, with 20 unprocessed then with 15 (a loss still, after the cut):
    //  - 300: paced at 630/s with nothing owed: goes at once.
    //  - 330: saturated (cut at 44.671, hold 500): the first retry waits backoffDelay(1) = 50: 380. The holding window
    //    (opened at 44.671) now has 100 units offered, 80 delivered in 285.329 ms: the cut is not confirmed, cut
    //    again to 80 / 285.329 ms = 280.38/s, at 330.
    //  - 410: saturated (cut at 330): the second retry waits backoffDelay(2) = 100: 510 (paced at 280/s: nothing owed).
    const r = run({ marble: 'a 299ms b|', values: { a: items(0, 100), b: items(100, 25) } }, (first, attempt) => {
      const n = Number(first.slice(2));
      if (n < 100) return { latency: 5, unprocessed: attempt === 1 && n < 75 ? 'all' : 'none' };
      return { latency: 30, unprocessed: attempt < 3 ? 'allButFirst5' : 'none' };
    });
    expect(sendsOf(r)).toEqual([
      [0, 'x#0', 25],
      [17.678, 'x#25', 25],
      [30.627, 'x#50', 25],
      [39.671, 'x#75', 25],
      [48.493, 'x#0', 25],
      [56.716, 'x#25', 25],
      [64.564, 'x#50', 25],
      [300, 'x#100', 25],
      [380, 'x#105', 20],
      [510, 'x#110', 15],
    ]);
    expect(r.results).toEqual([
      { at: 44.671, first: 'x#75', count: 25, attempts: 1 },
      { at: 53.493, first: 'x#0', count: 25, attempts: 2 },
      { at: 61.716, first: 'x#25', count: 25, attempts: 2 },
      { at: 69.564, first: 'x#50', count: 25, attempts: 2 },
      { at: 540, first: 'x#100', count: 25, attempts: 3 },
    ]);
    expect(r.completeAt).toBe(540);
    const reported = r.rates.map((p) => [ms(p.at), p.reason, p.reason === 'starting' ? 'growing' : p.unitsPerSecond]);
    expect(reported).toEqual([
      [5, 'starting', 'growing'],
      [22.678, 'starting', 'growing'],
      [35.627, 'starting', 'growing'],
      [44.671, 'holding', 630],
      [53.493, 'holding', 630],
      [61.716, 'holding', 630],
      [69.564, 'holding', 630],
      [330, 'holding', 280],
      [410, 'holding', 280],
      [540, 'holding', 280],
      [540, 'holding', 280],
    ]);
    // while starting, the rate reported grows (retries reserve later and later); the cut takes it below all of it
    const starting = r.rates.slice(0, 3);
    expectStartingRates(starting, 0);
    expect(starting[1]!.unitsPerSecond).toBeGreaterThan(starting[0]!.unitsPerSecond!);
    expect(starting[2]!.unitsPerSecond).toBeGreaterThan(starting[1]!.unitsPerSecond!);
    expect(r.rates[3]!.unitsPerSecond).toBeLessThan(starting[0]!.unitsPerSecond!);
  });
});
