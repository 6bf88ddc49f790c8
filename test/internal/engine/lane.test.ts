import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/internal/engine/entry.js';
import { Lane } from '../../../src/internal/engine/lane.js';
import { entry, type Req } from '../../helpers/entries.js';

/** A lane with entries queued, each of its own key, 10 bytes unless given. */
function laneWith(count: number, bytes: number[] = []): { lane: Lane<Req>; queued: Array<Entry<Req>> } {
  const lane = new Lane<Req>('T', 'order');
  const queued = Array.from({ length: count }, (_, i) => entry(i, { key: `q${i}`, bytes: bytes[i] ?? 10 }));
  for (const e of queued) lane.admit(e, 0);
  return { lane, queued };
}
const ids = (call: Array<Entry<Req>> | undefined) => call?.map((e) => e.id);
const BIG = 1_000_000;

describe('Lane.nextCall', () => {
  // queued entries of 10 bytes: count, maxCount, maxBytes, partial → ids sent (undefined: no call now)
  it.each<[string, number, number, number, boolean, number[] | undefined]>([
    ['full by count', 5, 3, BIG, false, [0, 1, 2]],
    ['exactly full by count', 3, 3, BIG, false, [0, 1, 2]],
    ['not full, not partial', 2, 3, BIG, false, undefined],
    ['not full, partial', 2, 3, BIG, true, [0, 1]],
    ['full by bytes (a third would pass maxBytes)', 5, 25, 25, false, [0, 1]],
    ['bytes exactly at maxBytes, more behind', 4, 25, 30, false, [0, 1, 2]],
    ['nothing queued, partial', 0, 3, BIG, true, undefined],
  ])('should form a call: %s', (_, count, maxCount, maxBytes, partial, expected) => {
    const { lane } = laneWith(count);
    expect(ids(lane.nextCall(0, maxCount, maxBytes, partial))).toEqual(expected);
  });

  it('should send an entry larger than maxBytes alone, and count bytes as they come', () => {
    const { lane } = laneWith(3, [50, 10, 10]);
    expect(ids(lane.nextCall(0, 25, 30, false))).toEqual([0]);
    const { lane: other } = laneWith(3, [10, 50, 10]);
    expect(ids(other.nextCall(0, 25, 30, false))).toEqual([0]);
    expect(ids(other.nextCall(0, 25, 30, false))).toEqual([1]);
  });

  it('should mark the entries of a call in flight, and take them off the lane', () => {
    const { lane, queued } = laneWith(4);
    const call = lane.nextCall(0, 3, BIG, false)!;
    expect(call.map((e) => e.state)).toEqual(['flight', 'flight', 'flight']);
    expect(queued[3]!.state).toBe('queued');
    expect(lane.pending).toBe(1);
    expect(ids(lane.nextCall(0, 3, BIG, true))).toEqual([3]);
    expect(lane.pending).toBe(0);
    expect(lane.nextCall(0, 3, BIG, true)).toBeUndefined();
  });

  it('should send a due retry without waiting for a full call, retries first, then queued entries', () => {
    const { lane } = laneWith(2);
    const retried = entry(9, { key: 'r' });
    lane.retry(retried, 10);
    expect(retried.state).toBe('retry');
    expect(lane.nextRetryAt).toBe(10);
    // not due at 9: the two queued entries wait for company
    expect(lane.nextCall(9, 25, BIG, false)).toBeUndefined();
    expect(ids(lane.nextCall(10, 25, BIG, false))).toEqual([9, 0, 1]);
    expect(lane.nextRetryAt).toBe(Infinity);
  });

  it('should send retries in order of readyAt (ties in the order they came back), leaving those not due', () => {
    const { lane } = laneWith(1);
    lane.retry(entry(20, { key: 'a' }), 30);
    lane.retry(entry(21, { key: 'b' }), 10);
    lane.retry(entry(22, { key: 'c' }), 20);
    lane.retry(entry(23, { key: 'd' }), 10);
    lane.retry(entry(24, { key: 'e' }), 50);
    expect(lane.nextRetryAt).toBe(10);
    expect(lane.pending).toBe(6);
    expect(ids(lane.nextCall(30, 25, BIG, false))).toEqual([21, 23, 22, 20, 0]);
    // the one due at 50 stays
    expect(lane.nextRetryAt).toBe(50);
    expect(lane.pending).toBe(1);
    expect(lane.nextCall(49, 25, BIG, false)).toBeUndefined();
    expect(ids(lane.nextCall(50, 25, BIG, false))).toEqual([24]);
  });

  it('should cap a call of due retries at maxCount and maxBytes, keeping the rest for the next call', () => {
    const lane = new Lane<Req>('T', 'order');
    for (let i = 0; i < 4; i++) lane.retry(entry(i, { key: `r${i}` }), 0);
    lane.admit(entry(9, { key: 'q' }), 0);
    expect(ids(lane.nextCall(0, 3, BIG, false))).toEqual([0, 1, 2]);
    expect(ids(lane.nextCall(0, 3, 15, false))).toEqual([3]);
    expect(ids(lane.nextCall(0, 3, BIG, true))).toEqual([9]);
  });

  it('should not queue a request that rides on, or waits behind, a live one', () => {
    const lane = new Lane<Req>('T', 'order');
    const first = entry(0);
    lane.admit(first, 0);
    lane.admit(entry(1), 0);
    expect(lane.pending).toBe(1);
    const call = lane.nextCall(0, 25, BIG, true)!;
    expect(call).toEqual([first]);
    expect(first.id).toBe(1);
    const held = entry(2);
    lane.admit(held, 0);
    expect([lane.pending, held.state, lane.gate.size]).toEqual([0, 'held', 2]);
    expect(lane.nextCall(0, 25, BIG, true)).toBeUndefined();
  });
});

describe('Lane: requests taken and not prepared', () => {
  it('should hand back taken requests in the order taken, with their ids (take, peekId, shift)', () => {
    const lane = new Lane<Req>('T', 'order');
    lane.take(0, { key: 'a' });
    lane.take(3, { key: 'b' });
    lane.take(7, { key: 'c' });
    expect(lane.waiting).toBe(3);
    const seen: Array<[number, string]> = [];
    while (lane.waiting > 0) {
      const id = lane.peekId();
      seen.push([id, lane.shift().key]);
    }
    expect(seen).toEqual([
      [0, 'a'],
      [3, 'b'],
      [7, 'c'],
    ]);
    // emptied, it takes again from the start
    lane.take(8, { key: 'd' });
    expect([lane.waiting, lane.peekId(), lane.shift().key]).toEqual([1, 8, 'd']);
  });

  it('should keep the order when taking and shifting interleave', () => {
    const lane = new Lane<Req>('T', 'order');
    lane.take(0, { key: 'a' });
    lane.take(1, { key: 'b' });
    expect(lane.shift().key).toBe('a');
    lane.take(2, { key: 'c' });
    expect([lane.peekId(), lane.shift().key, lane.peekId(), lane.shift().key]).toEqual([1, 'b', 2, 'c']);
    expect(lane.waiting).toBe(0);
  });
});

describe('Lane.leftovers', () => {
  it('should hand back everything still in the lane: queued, waiting to retry, held, and not prepared', () => {
    const lane = new Lane<Req>('T', 'order');
    const inFlight = entry(0, { key: 'a' });
    const queued = entry(1, { key: 'b' });
    lane.admit(inFlight, 0);
    lane.nextCall(0, 1, BIG, false);
    lane.admit(queued, 0);
    const held = entry(2, { key: 'a' });
    lane.admit(held, 0);
    const retried = entry(3, { key: 'c' });
    lane.retry(retried, 100);
    lane.take(4, { key: 'd' });
    lane.take(5, { key: 'e' });
    lane.shift();
    const { entries, raw } = lane.leftovers();
    // the entry in flight is the engine's to hand back (it knows its calls), not the lane's
    expect(entries).toEqual([queued, retried, held]);
    expect(raw).toEqual([{ id: 5, request: { key: 'e' } }]);
  });

  it('should hand back nothing from an empty lane', () => {
    expect(new Lane<Req>('T', 'share').leftovers()).toEqual({ entries: [], raw: [] });
  });
});

describe('Lane: queues that never empty', () => {
  // A source that stays ahead of the calls (a long copy behind a backpressure link) never lets a lane's queues run
  // empty; before they were cut back, their read parts stayed allocated: 1,000,000 items held some 110 MB more heap.
  it('should keep its raw and queued arrays bounded while they are read from the head and refilled', () => {
    const lane = new Lane<Req>('T', 'order');
    const internals = lane as unknown as { raw: unknown[]; rawIds: number[]; queued: unknown[] };
    let next = 0;
    let sent = 0;
    let largest = 0;
    for (let round = 0; round < 4_000; round++) {
      // taken and prepared up to 125 in each queue, then one call of 25: 100 always left in each
      while (lane.waiting < 125) lane.take(next, { key: `k${next++}` } as unknown as Req);
      while (lane.queuedCount < 125) {
        const id = lane.peekId();
        lane.shift();
        lane.admit(entry(id, { key: `k${id}`, bytes: 10 }), round);
      }
      const call = lane.nextCall(round, 25, 1_000_000, false);
      sent += call?.length ?? 0;
      for (const e of call ?? []) lane.gate.settled(e);
      largest = Math.max(largest, internals.raw.length, internals.rawIds.length, internals.queued.length);
    }
    expect(sent).toBeGreaterThan(90_000);
    expect(largest).toBeLessThanOrEqual(2 * 1024 + 200);
  });
});
