import { describe, expect, it } from 'vitest';
import type { EntryState } from '../../../src/internal/engine/entry.js';
import { KeyGate, supersede } from '../../../src/internal/engine/keyGate.js';
import { answersFor, entry, type Req } from '../../helpers/entries.js';

describe('supersede', () => {
  it('should put the later request in the earlier entry, keep the earlier one as merged, and reset attempts', () => {
    const earlier = entry(0, { attempts: 3, state: 'retry', readyAt: 40, bytes: 10, units: 1 });
    const later = entry(4, { bytes: 30, units: 2, merged: [{ id: 2, request: { key: 'k', label: 'r2' } }] });
    supersede(earlier, later);
    expect(earlier).toMatchObject({
      id: 4,
      request: later.request,
      json: later.json,
      bytes: 30,
      units: 2,
      attempts: 0,
      // its place (state, readyAt) is the earlier entry's
      state: 'retry',
      readyAt: 40,
    });
    expect(earlier.merged).toEqual([
      { id: 0, request: { key: 'k', label: 'r0' } },
      { id: 2, request: { key: 'k', label: 'r2' } },
    ]);
  });
});

describe("KeyGate ('order', writes)", () => {
  it('should admit the first request of a key as new, and requests of other keys as new too', () => {
    const gate = new KeyGate<Req>('order');
    expect(gate.admit(entry(0, { key: 'a' }))).toBe('new');
    expect(gate.admit(entry(1, { key: 'b' }))).toBe('new');
    expect(gate.size).toBe(2);
  });

  it('should let a later request replace a queued one in place: merged list, id and request', () => {
    const gate = new KeyGate<Req>('order');
    const first = entry(0);
    gate.admit(first);
    const second = entry(1, { bytes: 25 });
    expect(gate.admit(second)).toBe('merged');
    const third = entry(2, { bytes: 40 });
    expect(gate.admit(third)).toBe('merged');
    // the first entry keeps its place and now carries the last request; the others count as written by it
    expect(first.id).toBe(2);
    expect(first.request).toBe(third.request);
    expect(first.bytes).toBe(40);
    expect(first.state).toBe('queued');
    expect(answersFor(first)).toEqual([0, 1, 2]);
    expect(gate.size).toBe(1);
    expect(gate.heldEntries()).toEqual([]);
  });

  it.each<[EntryState]>([['flight'], ['retry']])('should hold a later request behind one that is %s', (state) => {
    const gate = new KeyGate<Req>('order');
    const first = entry(0);
    gate.admit(first);
    first.state = state;
    const second = entry(1);
    expect(gate.admit(second)).toBe('held');
    expect(second.state).toBe('held');
    // the live entry is untouched
    expect([first.id, first.merged]).toEqual([0, undefined]);
    expect(gate.size).toBe(2);
    expect(gate.heldEntries()).toEqual([second]);
  });

  it('should let the held requests replace the live one when it comes back unprocessed', () => {
    const gate = new KeyGate<Req>('order');
    const first = entry(0, { attempts: 1 });
    gate.admit(first);
    first.state = 'flight';
    const second = entry(1);
    const third = entry(2, { bytes: 33 });
    gate.admit(second);
    gate.admit(third);
    expect(gate.size).toBe(3);
    gate.unprocessed(first);
    // the first was not written: it now carries the last request, answering for all three; nothing is held
    expect(first.id).toBe(2);
    expect(first.request).toBe(third.request);
    expect(first.bytes).toBe(33);
    expect(first.attempts).toBe(0);
    expect(answersFor(first)).toEqual([0, 1, 2]);
    expect(gate.size).toBe(1);
    expect(gate.heldEntries()).toEqual([]);
  });

  it('should change nothing when an entry with nothing held behind it comes back unprocessed', () => {
    const gate = new KeyGate<Req>('order');
    const first = entry(0, { attempts: 1 });
    gate.admit(first);
    gate.unprocessed(first);
    expect([first.id, first.attempts, first.merged, gate.size]).toEqual([0, 1, undefined, 1]);
  });

  it('should, when the live entry settles, make the held requests live, merged into one and queued', () => {
    const gate = new KeyGate<Req>('order');
    const first = entry(0);
    gate.admit(first);
    first.state = 'flight';
    const second = entry(1);
    const third = entry(2);
    const fourth = entry(3);
    for (const e of [second, third, fourth]) gate.admit(e);
    const next = gate.settled(first);
    expect(next).toBe(second);
    expect(next!.state).toBe('queued');
    expect(next!.id).toBe(3);
    expect(next!.request).toBe(fourth.request);
    // the settled entry answers only for its own request; the next one for the three held
    expect(answersFor(first)).toEqual([0]);
    expect(answersFor(next!)).toEqual([1, 2, 3]);
    expect(gate.size).toBe(1);
    expect(gate.heldEntries()).toEqual([]);
    // a request after that is queued behind the new live entry's place: it replaces it while it is queued
    const fifth = entry(4);
    expect(gate.admit(fifth)).toBe('merged');
    expect(answersFor(next!)).toEqual([1, 2, 3, 4]);
  });

  it('should free the key when the live entry settles with nothing held, and ignore an entry that is not live', () => {
    const gate = new KeyGate<Req>('order');
    const first = entry(0);
    gate.admit(first);
    expect(gate.settled(first)).toBeUndefined();
    expect(gate.size).toBe(0);
    const second = entry(1);
    expect(gate.admit(second)).toBe('new');
    // the first is no longer live: settling it again changes nothing
    expect(gate.settled(first)).toBeUndefined();
    expect(gate.size).toBe(1);
    expect(gate.admit(entry(2))).toBe('merged');
  });

  it('should keep keys apart', () => {
    const gate = new KeyGate<Req>('order');
    const a = entry(0, { key: 'a' });
    const b = entry(1, { key: 'b' });
    gate.admit(a);
    gate.admit(b);
    a.state = 'flight';
    const a2 = entry(2, { key: 'a' });
    const b2 = entry(3, { key: 'b' });
    expect([gate.admit(a2), gate.admit(b2)]).toEqual(['held', 'merged']);
    expect(answersFor(b)).toEqual([1, 3]);
    expect(gate.settled(b)).toBeUndefined();
    expect(gate.settled(a)).toBe(a2);
    expect(gate.size).toBe(1);
  });

  // size: live entries plus held ones, whatever state the live one is in
  it.each<[string, EntryState, number, number]>([
    // description, live state, later requests, size
    ['queued, two later', 'queued', 2, 1],
    ['in flight, two later', 'flight', 2, 3],
    ['waiting to retry, one later', 'retry', 1, 2],
    ['in flight, none later', 'flight', 0, 1],
  ])('should count live and held entries in size (%s)', (_, state, later, size) => {
    const gate = new KeyGate<Req>('order');
    const first = entry(0);
    gate.admit(first);
    first.state = state;
    for (let i = 1; i <= later; i++) gate.admit(entry(i));
    gate.admit(entry(100, { key: 'other' }));
    expect(gate.size).toBe(size + 1);
  });
});

describe("KeyGate ('share', reads)", () => {
  it.each<[EntryState]>([['queued'], ['flight'], ['retry']])('should let a duplicate ride on the live entry when it is %s', (state) => {
    const gate = new KeyGate<Req>('share');
    const first = entry(0, { attempts: 2 });
    gate.admit(first);
    first.state = state;
    const second = entry(1);
    const third = entry(2);
    expect(gate.admit(second)).toBe('merged');
    expect(gate.admit(third)).toBe('merged');
    // the live entry keeps its own request, id, attempts and state; the duplicates share its answer
    expect([first.id, first.request.label, first.attempts, first.state]).toEqual([0, 'r0', 2, state]);
    expect(first.merged).toEqual([
      { id: 1, request: second.request },
      { id: 2, request: third.request },
    ]);
    expect(gate.size).toBe(1);
    expect(gate.heldEntries()).toEqual([]);
  });

  it('should free the key when the live entry settles, so that a later read asks again', () => {
    const gate = new KeyGate<Req>('share');
    const first = entry(0);
    gate.admit(first);
    gate.admit(entry(1));
    gate.unprocessed(first);
    expect(answersFor(first)).toEqual([1, 0]);
    expect(gate.settled(first)).toBeUndefined();
    expect(gate.size).toBe(0);
    expect(gate.admit(entry(2))).toBe('new');
  });
});
