import { afterEach, describe, expect, it, vi } from 'vitest';
import { filter, type MonoTypeOperatorFunction, Subject } from 'rxjs';
import { backpressure, type Backpressure, dynamoBatchWrite, type Item, scan } from 'rxjs-dynamodb';
import { fakeScanClient } from '../helpers/fakeScanClient.js';
import { testScheduler } from '../helpers/marbles.js';

type Stall = { pending: number; highWaterMark: number; waitedMs: number; message: string };

/** 8 pages of 5 items (`0a` … `7e`); the sink is told to keep only the `a`s. */
const pages = Array.from({ length: 8 }, (_, p) => ['a', 'b', 'c', 'd', 'e'].map((x) => ({ pk: `${p}${x}` })));
const keepA = (item: Item) => String(item.pk).endsWith('a');

/**
 * scan → `between(link)` → dynamoBatchWrite on one link (highWaterMark 10, stallWarningMs 1000), each BatchWriteItem
 * answered after `writeMarble`, all on a TestScheduler. What `onStall` was told, and when.
 */
function run(between: (link: Backpressure) => MonoTypeOperatorFunction<Item>, writeMarble = '-r|') {
  const scheduler = testScheduler();
  const stalls: Array<Stall & { at: number }> = [];
  let completed = false;
  let link!: Backpressure;
  let fake!: ReturnType<typeof fakeScanClient>;
  scheduler.run(({ cold, flush }) => {
    fake = fakeScanClient(() => scheduler.now(), cold, pages, { writeMarble });
    link = backpressure({ highWaterMark: 10, stallWarningMs: 1000, scheduler, onStall: (s) => stalls.push({ at: scheduler.now(), ...s }) });
    const subscription = scan(fake.client, { TableName: 'T' }, { backpressure: link })
      .pipe(between(link), dynamoBatchWrite(fake.client, 'Copy', { backpressure: link, keyAttributes: ['pk'], scheduler }))
      .subscribe({ complete: () => (completed = true) });
    flush();
    subscription.unsubscribe();
  });
  return { stalls, completed, link, fake };
}

describe('backpressure stall warning (issue 11)', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('should warn once, stallWarningMs after the last release, when a plain filter drops items between source and sink', () => {
    const { stalls, completed, fake } = run(() => filter(keepA));
    // pages 0 and 1 (answered at 2 and 4) fill the link: the stalled writer sends 0a,1a at 4, released at 5. Page 2
    // (5 → 7) makes 13 pending; the writer sends 2a at 7, released at 8: 12 pending, none of them anywhere.
    expect(fake.scans.map((s) => s.at)).toEqual([0, 2, 5]);
    expect(fake.writes.map((w) => [w.at, w.count])).toEqual([
      [4, 2],
      [7, 1],
    ]);
    expect(completed).toBe(false);
    expect(stalls).toEqual([
      {
        at: 1008,
        pending: 12,
        highWaterMark: 10,
        waitedMs: 1001,
        message:
          'rxjs-dynamodb backpressure: the source has waited 1 s with 12 items pending (highWaterMark 10) and nothing in ' +
          'flight in the sink: a step between them dropped items without releasing them. Use link.filter(…) instead of ' +
          'filter(…), or call link.release(n) for what you drop.',
      },
    ]);
  });

  it('should not warn while the sink has calls in flight longer than stallWarningMs, only once they are answered', () => {
    // healthy: each write takes 2.5 s, the source waits that long with nothing released, and the run completes
    const healthy = run(() => (source) => source, '2500ms r|');
    expect(healthy.completed).toBe(true);
    expect(healthy.fake.scans.map((s) => s.at).slice(0, 3)).toEqual([0, 2, 2504]);
    expect(healthy.stalls).toEqual([]);
    expect(healthy.link.pending).toBe(0);
    // the same slow writer behind a plain filter: page 2 comes at 2506, its write is answered at 5006: the
    // warning waits for that answer, and a quiet second after it
    const dropping = run(() => filter(keepA), '2500ms r|');
    expect(dropping.fake.writes.map((w) => [w.at, w.count])).toEqual([
      [4, 2],
      [2506, 1],
    ]);
    expect(dropping.stalls.map(({ at, pending, waitedMs }) => ({ at, pending, waitedMs }))).toEqual([
      { at: 6006, pending: 12, waitedMs: 3500 },
    ]);
  });

  it('should never warn when link.filter drops the items (the same pipeline with filter does)', () => {
    const safe = run((link) => link.filter(keepA));
    expect(safe.completed).toBe(true);
    expect(safe.fake.scans).toHaveLength(8);
    expect(safe.link.pending).toBe(0);
    expect(safe.stalls).toEqual([]);
    expect(run(() => filter(keepA)).stalls).toHaveLength(1);
  });

  it('should look again a full stallWarningMs after a release that does not end the wait, and warn only once per link', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const stalls = new Subject<Omit<Stall, 'message'>>();
      const link = backpressure({
        highWaterMark: 2,
        stallWarningMs: 5,
        onStall: ({ pending, highWaterMark, waitedMs }) => stalls.next({ pending, highWaterMark, waitedMs }),
      });
      link.attachSink(() => 0);
      link.emitted(4);
      const steps = '   ---r------R-e';
      const first = '   ----------(x|)';
      const secondSub = '-------------^';
      const expected = ' --------s';
      cold(steps).subscribe((step) => (step === 'r' ? link.release(1) : step === 'R' ? link.release(2) : link.emitted(2)));
      expectObservable(link.ready()).toBe(first, { x: undefined });
      expectObservable(link.ready(), secondSub).toBe('-');
      expectObservable(stalls).toBe(expected, { s: { pending: 3, highWaterMark: 2, waitedMs: 8 } });
    });
  });

  it('should not warn while an attached sink holds items, nor with no sink attached', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const stalls = new Subject<string>();
      const make = (name: string) => backpressure({ highWaterMark: 1, stallWarningMs: 5, onStall: () => stalls.next(name) });
      const idle = make('i');
      idle.attachSink(() => 0);
      const busy = make('b');
      let held = 1;
      busy.attachSink(() => held);
      const alone = make('a');
      for (const link of [idle, busy, alone]) {
        link.emitted(1);
        link.ready().subscribe();
      }
      const settle = '  ------------x';
      const expected = '-----i';
      cold(settle).subscribe(() => {
        held = 0;
        busy.release(1);
      });
      expectObservable(stalls).toBe(expected);
    });
  });

  it('should warn with process.emitWarning after 30 s by default, and leave no timer once a wait ends or is unsubscribed', () => {
    vi.useFakeTimers();
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const link = backpressure({ highWaterMark: 1 });
    const detach = link.attachSink(() => 0);
    link.emitted(1);
    const ended = link.ready().subscribe();
    expect(vi.getTimerCount()).toBe(1);
    link.release(1);
    expect(ended.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);

    link.emitted(1);
    link.ready().subscribe().unsubscribe();
    expect(vi.getTimerCount()).toBe(0);

    const waiting = link.ready().subscribe();
    expect(vi.getTimerCount()).toBe(1);
    detach();
    expect(vi.getTimerCount()).toBe(0);
    link.attachSink(() => 0);
    vi.advanceTimersByTime(29_999);
    expect(emitWarning).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(emitWarning).toHaveBeenCalledTimes(1);
    expect(emitWarning).toHaveBeenCalledWith(expect.stringContaining('has waited 30 s with 1 item pending (highWaterMark 1)'), {
      code: 'RXJS_DYNAMODB_STALLED',
    });
    expect(vi.getTimerCount()).toBe(0);
    expect(waiting.closed).toBe(false);
    waiting.unsubscribe();
  });

  it.each([0, -1, 1.5, NaN, Infinity])('should reject stallWarningMs %s', (stallWarningMs) => {
    expect(() => backpressure({ stallWarningMs })).toThrow(new RangeError(`stallWarningMs must be an integer >= 1, got ${stallWarningMs}`));
  });

  it('should reject an onStall that is not a function', () => {
    expect(() => backpressure({ onStall: 'warn' as never })).toThrow(new TypeError('onStall must be a function, got warn'));
  });
});
