import { describe, expect, it } from 'vitest';
import { BatchError, InvalidRequestError } from '../../../src/errors.js';
import { type Call, Engine, type EngineSettings, type EngineSpec, type FailureCode } from '../../../src/internal/engine/engine.js';
import { isRetryableError } from '../../../src/internal/retryable.js';
import { entry, type Req } from '../../helpers/entries.js';

class TestBatchError extends BatchError<FailureCode, Req> {
  override readonly name = 'TestBatchError';
}

const missingTable = Object.assign(new Error('no table'), { name: 'ResourceNotFoundException' });

/** A tiny spec: a request is `{ table?, key, bytes?, bad? }`; its entry is made by hand, `bad` ones are refused. */
const spec = (fields: Partial<EngineSpec<Req>> = {}): EngineSpec<Req> => ({
  mode: 'order',
  words: { operation: 'TestCall', noun: 'request', verb: 'done' },
  maxCount: 2,
  maxBytes: 1000,
  tableOf: (r) => r.table ?? 'T',
  prepare: (id, r) =>
    r.bad
      ? new InvalidRequestError('request.invalidKey', `Key ${r.key} is bad. It was not sent.`, r)
      : entry(id, { request: r, key: r.key, table: r.table ?? 'T', values: { pk: r.key }, bytes: r.bytes ?? 10 }),
  failure: (code, message, cause, attempts, unprocessed) => new TestBatchError(code, message, { unprocessed, attempts, cause }),
  ...fields,
});

interface Settled {
  ids: number[];
  code?: string;
  refused?: number;
}

/** An engine over the tiny spec, with every table described, and what it settled. */
function engineOf(settings: Partial<EngineSettings> = {}, fields: Partial<EngineSpec<Req>> = {}) {
  const settled: Settled[] = [];
  const errors: Array<BatchError<string, Req>> = [];
  const engine = new Engine<Req>(
    spec(fields),
    {
      maxAttempts: 3,
      lookahead: () => 10,
      maxBatchWaitMs: Infinity,
      isRetryable: isRetryableError,
      onFailure: 'error',
      retryAt: (e, now) => now + 10 * e.attempts,
      ...settings,
    },
    (e, error, refused) => {
      const s: Settled = { ids: e ? [...(e.merged ?? []).map((t) => t.id), e.id].sort((a, b) => a - b) : [] };
      if (error) {
        s.code = error.code;
        errors.push(error);
      }
      if (refused) s.refused = refused.id;
      settled.push(s);
    },
  );
  /** Takes requests (`'a'`, `'U:b'` for table U, `'!c'` for a bad one), describes new tables, prepares at `now`. */
  const take = (keys: string[], now = 0) => {
    for (const k of keys) {
      const bad = k.startsWith('!');
      const [table, key] = k.replace('!', '').includes(':') ? k.replace('!', '').split(':') : [undefined, k.replace('!', '')];
      engine.take({ ...(table ? { table } : {}), key: key!, ...(bad ? { bad } : {}) });
    }
    for (const t of engine.tablesToDescribe()) engine.described(t, { attributes: ['pk'] });
    engine.prepare(now);
  };
  return { engine, settled, errors, take };
}

const ids = (call: Call<Req> | undefined) => call?.entries.map((e) => e.id);
const keys = (requests: Req[]) => requests.map((r) => (r.table ? `${r.table}:${r.key}` : r.key));
const done = { unprocessed: [], rejected: [] };

describe('Engine: taking and preparing', () => {
  it('should number requests in input order across tables', () => {
    const { engine, take } = engineOf();
    take(['a', 'U:b', 'c', 'U:d']);
    const first = engine.nextCall(0, 10)!;
    const second = engine.nextCall(0, 10)!;
    expect([first.lane.table, ids(first)]).toEqual(['T', [0, 2]]);
    expect([second.lane.table, ids(second)]).toEqual(['U', [1, 3]]);
    expect([first.entries[0]!.attempts, engine.inFlight, engine.unsettled]).toEqual([1, 2, 4]);
  });

  it('should ask for each table once, and prepare nothing of a table before it is described', () => {
    const { engine } = engineOf();
    engine.take({ key: 'a' });
    engine.take({ key: 'b' });
    engine.take({ key: 'c', table: 'U' });
    expect(engine.tablesToDescribe()).toEqual(['T', 'U']);
    expect(engine.tablesToDescribe()).toEqual([]);
    engine.take({ key: 'd' });
    expect(engine.tablesToDescribe()).toEqual([]);
    engine.endOfSource();
    engine.prepare(0);
    expect(engine.nextCall(0, 10)).toBeUndefined();
    engine.described('U', { attributes: ['pk'] });
    engine.prepare(0);
    expect(ids(engine.nextCall(0, 10))).toEqual([2]);
    expect(engine.nextCall(0, 10)).toBeUndefined();
    engine.described('T', { attributes: ['pk'] });
    engine.prepare(0);
    expect(ids(engine.nextCall(0, 10))).toEqual([0, 1]);
    expect(ids(engine.nextCall(0, 10))).toEqual([3]);
  });

  it('should prepare at most lookahead calls worth of entries per table, counting those in flight', () => {
    // lookahead 2 × maxCount 2: four entries live at most; the fifth waits until one is settled
    const { engine, take } = engineOf({ lookahead: () => 2 });
    take(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    const first = engine.nextCall(0, 10)!;
    expect(ids(first)).toEqual([0, 1]);
    expect(ids(engine.nextCall(0, 10))).toEqual([2, 3]);
    engine.endOfSource();
    engine.prepare(0);
    expect(engine.nextCall(0, 10)).toBeUndefined();
    engine.finish(first, done, 1);
    engine.prepare(1);
    expect(ids(engine.nextCall(1, 10))).toEqual([4, 5]);
    expect(engine.nextCall(1, 10)).toBeUndefined();
  });

  it('should settle a refused request as a failure alone and go on, with onFailure "emit"', () => {
    const { engine, settled, errors, take } = engineOf({ onFailure: 'emit' });
    take(['a', '!b', 'c']);
    expect(settled).toEqual([{ ids: [], code: 'invalidRequest', refused: 1 }]);
    expect(errors[0]!.unprocessed).toEqual([{ key: 'b', bad: true }]);
    expect(errors[0]!.attempts).toBe(0);
    expect((errors[0]!.cause as InvalidRequestError).code).toBe('request.invalidKey');
    expect(engine.unsettled).toBe(2);
    expect(engine.stopped).toBeUndefined();
    expect(ids(engine.nextCall(0, 10))).toEqual([0, 2]);
  });

  it('should stop at a refused request with onFailure "error": nothing more prepared or sent, all of it handed back', () => {
    const { engine, settled, take } = engineOf();
    take(['a', '!b', 'c', 'd']);
    expect(settled).toEqual([]);
    expect(engine.stopped).toMatchObject({ code: 'invalidRequest', attempts: 0, message: 'Key b is bad. It was not sent.' });
    expect(engine.nextCall(0, 10)).toBeUndefined();
    expect(engine.halted).toBe(true);
    const error = engine.stopError();
    expect(error.code).toBe('invalidRequest');
    expect(keys(error.unprocessed)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('should refuse the requests of a table that could not be described, and keep others going', () => {
    const { engine, settled, errors } = engineOf({ onFailure: 'emit' });
    engine.take({ key: 'a' });
    engine.take({ key: 'b', table: 'Gone' });
    engine.tablesToDescribe();
    engine.described('T', { attributes: ['pk'] });
    engine.described('Gone', undefined, missingTable);
    engine.endOfSource();
    engine.prepare(0);
    expect(settled).toEqual([{ ids: [], code: 'nonRetryable', refused: 1 }]);
    expect(errors[0]!.message).toBe('DescribeTable for Gone failed: ResourceNotFoundException: no table');
    expect(errors[0]!.cause).toBe(missingTable);
    expect(ids(engine.nextCall(0, 10))).toEqual([0]);
  });
});

describe('Engine: forming calls', () => {
  it('should keep at most `limit` calls in flight', () => {
    const { engine, take } = engineOf();
    take(['a', 'b', 'c', 'd', 'e', 'f']);
    const first = engine.nextCall(0, 2)!;
    expect(ids(engine.nextCall(0, 2))).toEqual([2, 3]);
    expect(engine.nextCall(0, 2)).toBeUndefined();
    expect(engine.inFlight).toBe(2);
    engine.finish(first, done, 1);
    expect(engine.inFlight).toBe(1);
    expect(ids(engine.nextCall(1, 2))).toEqual([4, 5]);
    // a higher limit lets more go at once
    expect(engine.nextCall(1, 3)).toBeUndefined();
  });

  it('should take turns between tables', () => {
    const { engine, take } = engineOf();
    take(['a', 'b', 'c', 'd', 'e', 'f', 'U:g', 'U:h', 'U:i', 'U:j', 'V:k', 'V:l']);
    const order: string[] = [];
    for (let call = engine.nextCall(0, 10); call; call = engine.nextCall(0, 10)) order.push(call.lane.table);
    expect(order).toEqual(['T', 'U', 'V', 'T', 'U', 'T']);
  });

  it('should send a call that is not full only at the end of the source, once on flushOnce, or after maxBatchWaitMs', () => {
    const { engine, take } = engineOf({ maxBatchWaitMs: 50 });
    take(['a'], 100);
    expect(engine.nextCall(100, 10)).toBeUndefined();
    expect(engine.wakeAt()).toBe(150);
    expect(ids(engine.nextCall(150, 10))).toEqual([0]);
    take(['b'], 160);
    engine.flushOnce();
    expect(ids(engine.nextCall(160, 10))).toEqual([1]);
    take(['c'], 161);
    expect(engine.nextCall(161, 10)).toBeUndefined();
    engine.endOfSource();
    expect(ids(engine.nextCall(161, 10))).toEqual([2]);
  });

  // with only a retry waiting in a lane, maxBatchWaitMs has nothing to send; the shell wakes at wakeAt(), so a time
  // already past makes it re-arm a 0 ms timer until the retry is due (a hang under a virtual-time scheduler)
  it('should not ask to be woken at a time already past while only a retry waits, with maxBatchWaitMs', () => {
    const { engine, take } = engineOf({ maxBatchWaitMs: 50, retryAt: () => 1000 });
    take(['a', 'b']);
    const call = engine.nextCall(0, 10)!;
    engine.finish(call, { unprocessed: [call.entries[1]!], rejected: [] }, 1);
    expect(engine.nextCall(50, 10)).toBeUndefined();
    expect(engine.wakeAt()).toBe(1000);
  });

  // maxBatchWaitMs counts from when the oldest *queued* entry was queued (Lane.firstQueuedAt); a retry waiting in the
  // lane keeps `pending` above 0, so a request queued later is stamped with an old time and goes out at once
  it('should wait maxBatchWaitMs for a request queued while a retry of its lane waits out its backoff', () => {
    const { engine, take } = engineOf({ maxBatchWaitMs: 50, retryAt: () => 1000 });
    take(['a', 'b']);
    const call = engine.nextCall(0, 10)!;
    engine.finish(call, { unprocessed: [call.entries[1]!], rejected: [] }, 1);
    take(['c'], 100);
    expect(engine.nextCall(100, 10)).toBeUndefined();
    expect(engine.wakeAt()).toBe(150);
    expect(ids(engine.nextCall(150, 10))).toEqual([2]);
  });
});

describe('Engine: answers', () => {
  it('should settle done entries, and queue unprocessed ones to go again at retryAt', () => {
    const { engine, settled, take } = engineOf();
    take(['a', 'b', 'c', 'd']);
    engine.endOfSource();
    const first = engine.nextCall(0, 10)!;
    const second = engine.nextCall(0, 10)!;
    const decision = engine.finish(first, { unprocessed: [first.entries[1]!], rejected: [] }, 5);
    expect(decision.pushedBack).toBe(true);
    expect(settled).toEqual([{ ids: [0] }]);
    expect(first.entries[1]).toMatchObject({ state: 'retry', readyAt: 15, attempts: 1 });
    expect(engine.wakeAt()).toBe(15);
    expect(engine.nextCall(14, 10)).toBeUndefined();
    const retry = engine.nextCall(15, 10)!;
    expect([ids(retry), retry.entries[0]!.attempts]).toEqual([[1], 2]);
    engine.finish(second, done, 16);
    engine.finish(retry, done, 17);
    expect(settled.map((s) => s.ids)).toEqual([[0], [2], [3], [1]]);
    expect(engine.idle).toBe(true);
  });

  it('should send the requests held behind a key once it is written, merged into one', () => {
    const { engine, settled, take } = engineOf();
    take(['a', 'b']);
    const first = engine.nextCall(0, 10)!;
    take(['a', 'c', 'a'], 1);
    engine.endOfSource();
    // c goes; the later writes of a wait for the first
    expect(ids(engine.nextCall(1, 10))).toEqual([3]);
    expect(engine.nextCall(1, 10)).toBeUndefined();
    engine.finish(first, done, 2);
    const next = engine.nextCall(2, 10)!;
    expect(next.entries.map((e) => [e.id, e.merged?.map((t) => t.id)])).toEqual([[4, [2]]]);
    engine.finish(next, done, 3);
    expect(settled.map((s) => s.ids)).toEqual([[0], [1], [2, 4]]);
  });

  it('should send a request held behind a key as soon as the key is written, without waiting for company', () => {
    const { engine, take } = engineOf();
    take(['a', 'b']);
    const first = engine.nextCall(0, 10)!;
    take(['a'], 1);
    expect(engine.nextCall(1, 10)).toBeUndefined();
    engine.finish(first, done, 2);
    // the source has not ended and the call is not full: it goes all the same, it has waited already
    expect(ids(engine.nextCall(2, 10))).toEqual([2]);
  });

  it('should settle failures with their own error and go on, with onFailure "emit"', () => {
    const { engine, settled, errors, take } = engineOf({ onFailure: 'emit', maxAttempts: 1 });
    take(['a', 'b', 'c', 'd']);
    engine.endOfSource();
    const first = engine.nextCall(0, 10)!;
    const second = engine.nextCall(0, 10)!;
    engine.finish(first, { unprocessed: [first.entries[0]!], rejected: [] }, 1);
    engine.finish(second, { error: missingTable }, 2);
    expect(settled).toEqual([
      { ids: [1] },
      { ids: [0], code: 'attemptsExhausted' },
      { ids: [2], code: 'nonRetryable' },
      { ids: [3], code: 'nonRetryable' },
    ]);
    expect(errors[0]!.message).toBe(
      'The request for table T, pk="a" was still unprocessed after 1 TestCall calls; lower concurrency, raise maxAttempts or the table\'s capacity.',
    );
    expect(errors[1]!.message).toBe(
      'TestCall failed with ResourceNotFoundException: no table. The request for table T, pk="c" was not done.',
    );
    expect(keys(errors[1]!.unprocessed)).toEqual(['c']);
    expect(engine.stopped).toBeUndefined();
    expect(engine.idle).toBe(true);
  });

  it('should, in "error" mode, let calls in flight finish and then hand back exactly what is not settled, in input order', () => {
    const { engine, settled, take } = engineOf({ lookahead: () => 4 });
    take(['a', 'b', 'c', 'd', 'x', 'y']);
    const callA = engine.nextCall(0, 10)!;
    const callB = engine.nextCall(0, 10)!;
    const callC = engine.nextCall(0, 10)!;
    expect([ids(callA), ids(callB), ids(callC)]).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    // x is written, y waits to retry
    engine.finish(callC, { unprocessed: [callC.entries[1]!], rejected: [] }, 5);
    // 6 and 8 wait behind c (in flight), 7 is queued, 9 and 10 are not prepared (lookahead: 8 live)
    take(['c', 'e', 'c', 'g', 'h'], 5);
    expect(engine.nextCall(5, 10)).toBeUndefined();
    // a and b fail: the engine stops, nothing more goes out, callB is still in flight
    engine.finish(callA, { error: missingTable }, 6);
    expect(engine.stopped).toMatchObject({ code: 'nonRetryable', cause: missingTable, attempts: 1 });
    expect(engine.stopped!.message).toBe(
      '2 of 2 requests of a call failed; the first: TestCall failed with ResourceNotFoundException: no table. The request for table T, pk="a" was not done. The stream stopped; everything not done is in .unprocessed.',
    );
    expect(engine.nextCall(100, 10)).toBeUndefined();
    expect(engine.halted).toBe(false);
    // were it to stop now: every request taken and not settled, wherever it is
    expect(keys(engine.stopError().unprocessed)).toEqual(['a', 'b', 'c', 'd', 'y', 'c', 'e', 'c', 'g', 'h']);
    // callB finishes its attempt: c and d are written; the held writes of c are still not
    engine.finish(callB, done, 7);
    expect(engine.halted).toBe(true);
    expect(settled.map((s) => s.ids)).toEqual([[4], [2], [3]]);
    const error = engine.stopError();
    expect(error).toBeInstanceOf(TestBatchError);
    expect([error.code, error.attempts, error.cause]).toEqual(['nonRetryable', 1, missingTable]);
    expect(keys(error.unprocessed)).toEqual(['a', 'b', 'y', 'c', 'e', 'c', 'g', 'h']);
    expect(engine.unsettled).toBe(error.unprocessed.length);
  });

  it('should stop on exhausted attempts in "error" mode with the attempts of the failed entry', () => {
    const { engine, take } = engineOf({ maxAttempts: 2 });
    take(['a', 'b']);
    engine.endOfSource();
    const first = engine.nextCall(0, 10)!;
    engine.finish(first, { unprocessed: [first.entries[1]!], rejected: [] }, 1);
    const retry = engine.nextCall(11, 10)!;
    engine.finish(retry, { unprocessed: retry.entries, rejected: [] }, 12);
    expect(engine.halted).toBe(true);
    expect(engine.idle).toBe(false);
    const error = engine.stopError();
    expect([error.code, error.attempts, keys(error.unprocessed)]).toEqual(['attemptsExhausted', 2, ['b']]);
    expect(error.message).toMatch(/^The request for table T, pk="b" was still unprocessed after 2 TestCall calls; .* The stream stopped;/);
  });

  it('should be idle only once the source has ended and everything taken is settled', () => {
    const { engine, take } = engineOf();
    expect(engine.idle).toBe(false);
    take(['a']);
    engine.endOfSource();
    expect(engine.idle).toBe(false);
    const call = engine.nextCall(0, 10)!;
    expect([engine.idle, engine.halted]).toEqual([false, false]);
    engine.finish(call, done, 1);
    expect([engine.idle, engine.halted]).toEqual([true, false]);
  });
});
