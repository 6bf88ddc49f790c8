import { describe, expect, it } from 'vitest';
import {
  checkCheckpoint,
  compareSequenceNumbers,
  type IteratorStart,
  type ShardListing,
  ShardBook,
  type StreamCheckpoint,
  type StreamStart,
} from '../../src/internal/stream/shardBook.js';

const ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Tickets/stream/2024-01-01T00:00:00.000';
const OTHER_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Tickets/stream/2024-06-01T00:00:00.000';

const open = (shardId: string, parentShardId?: string): ShardListing => ({ shardId, ...(parentShardId ? { parentShardId } : {}) });
const closed = (shardId: string, parentShardId?: string): ShardListing => ({
  ...open(shardId, parentShardId),
  endingSequenceNumber: '999',
});
const checkpointOf = (shards: StreamCheckpoint['shards'], streamArn = ARN): StreamCheckpoint => ({ version: 1, streamArn, shards });

describe('ShardBook: which shards may start', () => {
  it.each<{ name: string; listing: ShardListing[]; expected: string[] }>([
    { name: 'a lone open shard', listing: [open('s1')], expected: ['s1'] },
    { name: 'a parent and its child: the parent only', listing: [closed('p'), open('c', 'p')], expected: ['p'] },
    { name: 'the child listed before its parent: still the parent only', listing: [open('c', 'p'), closed('p')], expected: ['p'] },
    { name: 'a child whose parent is no longer listed (trimmed): at once', listing: [open('c', 'gone')], expected: ['c'] },
    {
      name: 'two children of one parent: neither',
      listing: [closed('p'), open('c1', 'p'), open('c2', 'p')],
      expected: ['p'],
    },
    {
      name: 'a grandchild waits for its parent, which waits for its own',
      listing: [closed('g'), closed('p', 'g'), open('c', 'p')],
      expected: ['g'],
    },
    { name: 'two unrelated shards: both, in listing order', listing: [open('s2'), open('s1')], expected: ['s2', 's1'] },
  ])('should start $name', ({ listing, expected }) => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    expect(book.list(listing)).toEqual(expected);
  });

  it('should make a child startable only once its parent is finished, not when it is begun', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    expect(book.list([closed('p'), open('c', 'p')])).toEqual(['p']);
    book.begin('p');
    expect(book.startable()).toEqual([]);
    book.advance('p', '100');
    expect(book.startable()).toEqual([]);
    book.finish('p');
    expect(book.isDone('p')).toBe(true);
    expect(book.startable()).toEqual(['c']);
    // a listing after the parent ended says the same
    expect(book.list([closed('p'), open('c', 'p')])).toEqual(['c']);
  });

  it('should not offer a begun shard again, nor a finished one', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    book.list([open('s1'), open('s2')]);
    book.begin('s1');
    expect(book.startable()).toEqual(['s2']);
    expect(book.list([open('s1'), open('s2')])).toEqual(['s2']);
    book.begin('s2');
    book.finish('s2');
    expect(book.list([open('s1'), closed('s2')])).toEqual([]);
  });

  it('should start a child at once when its parent stops being listed (trimmed while unread)', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    expect(book.list([closed('p'), open('c', 'p')])).toEqual(['p']);
    expect(book.list([open('c', 'p')])).toEqual(['c']);
  });

  it('should start a shard that appears in a later listing', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    expect(book.list([open('s1')])).toEqual(['s1']);
    book.begin('s1');
    expect(book.list([open('s1'), open('s2')])).toEqual(['s2']);
  });

  it('should start the children of a parent that a checkpoint says is done, and not the parent', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON', checkpointOf({ p: { sequenceNumber: '300', done: true } }));
    expect(book.list([closed('p'), open('c', 'p')])).toEqual(['c']);
  });
});

describe('ShardBook: where each shard starts', () => {
  const starts = (start: StreamStart, checkpoint?: StreamCheckpoint) => new ShardBook(ARN, start, checkpoint);

  // a LATEST reading restarted before its first record goes back to where it began, less the minute's margin
  it.each<{ name: string; start: StreamStart; expected: IteratorStart; resumed: IteratorStart }>([
    {
      name: 'TRIM_HORIZON for a shard of the first listing with start TRIM_HORIZON',
      start: 'TRIM_HORIZON',
      expected: { type: 'TRIM_HORIZON' },
      resumed: { type: 'TRIM_HORIZON' },
    },
    {
      name: 'LATEST for a shard of the first listing with start LATEST',
      start: 'LATEST',
      expected: { type: 'LATEST' },
      resumed: { type: 'TRIM_HORIZON', notBefore: Date.parse('2024-05-01T11:59:00.000Z') },
    },
  ])('should give $name', ({ start, expected, resumed }) => {
    const book = starts(start);
    book.list([open('s1')]);
    expect(book.begin('s1', Date.parse('2024-05-01T12:00:00.000Z'))).toEqual(expected);
    expect(book.resumeAt('s1')).toStrictEqual(resumed);
  });

  it('should give AFTER_SEQUENCE_NUMBER of the last record handed on after advance, whatever the start', () => {
    for (const start of ['TRIM_HORIZON', 'LATEST'] as const) {
      const book = starts(start);
      book.list([open('s1')]);
      book.begin('s1');
      book.advance('s1', '100');
      book.advance('s1', '250');
      expect(book.resumeAt('s1')).toEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '250' });
    }
  });

  it('should read a shard that appeared after the first listing from TRIM_HORIZON, even with start LATEST', () => {
    const book = starts('LATEST');
    book.list([open('s1')]);
    expect(book.list([open('s1'), open('s2')])).toEqual(['s1', 's2']);
    expect(book.begin('s1')).toEqual({ type: 'LATEST' });
    expect(book.begin('s2')).toEqual({ type: 'TRIM_HORIZON' });
  });

  it("should read a split's child that appears later from TRIM_HORIZON with start LATEST", () => {
    const book = starts('LATEST');
    expect(book.list([open('p')])).toEqual(['p']);
    book.begin('p');
    book.advance('p', '100');
    book.finish('p');
    expect(book.list([closed('p'), open('c', 'p')])).toEqual(['c']);
    expect(book.begin('c')).toEqual({ type: 'TRIM_HORIZON' });
  });

  it('should not use LATEST after a checkpoint, even for shards it does not know', () => {
    const book = starts('LATEST', checkpointOf({ s1: { sequenceNumber: '700' } }));
    expect(book.list([open('s1'), open('s2')])).toEqual(['s1', 's2']);
    expect(book.begin('s1')).toEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '700' });
    expect(book.begin('s2')).toEqual({ type: 'TRIM_HORIZON' });
  });

  it('should mark shards already closed at the first listing done without reading them, with start LATEST', () => {
    const book = starts('LATEST');
    expect(book.list([closed('p'), open('c', 'p'), closed('q')])).toEqual(['c']);
    expect(book.isDone('p')).toBe(true);
    expect(book.isDone('q')).toBe(true);
    expect(book.begin('c', Date.parse('2024-05-01T12:00:00.000Z'))).toEqual({ type: 'LATEST' });
    expect(book.checkpoint()).toStrictEqual(
      checkpointOf({ p: { done: true }, q: { done: true }, c: { parent: 'p', since: '2024-05-01T12:00:00.000Z' } }),
    );
  });

  it('should read shards already closed at the first listing with start TRIM_HORIZON', () => {
    const book = starts('TRIM_HORIZON');
    expect(book.list([closed('p'), open('c', 'p'), closed('q')])).toEqual(['p', 'q']);
    expect(book.isDone('p')).toBe(false);
  });

  it('should not mark shards closed in a later listing done with start LATEST', () => {
    const book = starts('LATEST');
    book.list([open('s1')]);
    book.begin('s1');
    expect(book.list([closed('s1'), closed('s2', 's1')])).toEqual([]);
    expect(book.isDone('s1')).toBe(false);
    expect(book.isDone('s2')).toBe(false);
  });

  it('should not mark a checkpointed closed shard done with start LATEST: it is read on from its checkpoint', () => {
    const book = starts('LATEST', checkpointOf({ p: { sequenceNumber: '100' } }));
    expect(book.list([closed('p'), open('c', 'p')])).toEqual(['p']);
    expect(book.begin('p')).toEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '100' });
  });
});

describe('ShardBook: checkpoints', () => {
  it('should refuse a checkpoint of another stream, naming both', () => {
    const create = () => new ShardBook(ARN, 'TRIM_HORIZON', checkpointOf({}, OTHER_ARN));
    expect(create).toThrow(TypeError);
    expect(create).toThrow(OTHER_ARN);
    expect(create).toThrow(ARN);
  });

  it('should hold each shard read, its parent, and done shards', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    book.list([closed('p'), open('c', 'p')]);
    expect(book.checkpoint()).toEqual(checkpointOf({}));
    book.begin('p');
    book.advance('p', '100');
    expect(book.checkpoint()).toEqual(checkpointOf({ p: { sequenceNumber: '100' } }));
    book.finish('p');
    book.list([closed('p'), open('c', 'p')]);
    book.begin('c');
    book.advance('c', '200');
    expect(book.checkpoint()).toStrictEqual({
      version: 1,
      streamArn: ARN,
      shards: { p: { sequenceNumber: '100', done: true }, c: { parent: 'p', sequenceNumber: '200' } },
    });
  });

  it('should hand out a plain JSON copy: changing it changes neither the book nor the next checkpoint', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    book.list([open('s1')]);
    book.begin('s1');
    book.advance('s1', '100');
    const first = book.checkpoint();
    expect(JSON.parse(JSON.stringify(first))).toStrictEqual(first);
    first.shards.s1!.sequenceNumber = '999';
    first.shards.s1!.done = true;
    first.shards.extra = { done: true };
    first.streamArn = OTHER_ARN;
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ s1: { sequenceNumber: '100' } }));
    expect(book.resumeAt('s1')).toEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '100' });
    expect(book.isDone('s1')).toBe(false);
  });

  it("should copy the checkpoint it starts from: reading on does not change the caller's object", () => {
    const given = checkpointOf({ s1: { sequenceNumber: '100' } });
    const book = new ShardBook(ARN, 'TRIM_HORIZON', given);
    book.list([open('s1')]);
    book.begin('s1');
    book.advance('s1', '200');
    book.finish('s1');
    expect(given).toStrictEqual(checkpointOf({ s1: { sequenceNumber: '100' } }));
  });

  it('should drop done shards of a checkpoint that are no longer listed, and keep the others', () => {
    const book = new ShardBook(
      ARN,
      'TRIM_HORIZON',
      checkpointOf({
        old: { sequenceNumber: '1', done: true },
        p: { sequenceNumber: '5', done: true, parent: 'old' },
        c: { sequenceNumber: '9', parent: 'p' },
      }),
    );
    expect(book.list([closed('p', 'old'), open('c', 'p')])).toEqual(['c']);
    expect(book.checkpoint()).toStrictEqual(
      checkpointOf({ p: { sequenceNumber: '5', done: true, parent: 'old' }, c: { sequenceNumber: '9', parent: 'p' } }),
    );
  });

  it('should drop a done shard from the checkpoint at the first listing that no longer holds it', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    book.list([closed('p'), open('c', 'p')]);
    book.begin('p');
    book.advance('p', '100');
    book.finish('p');
    expect(book.list([closed('p'), open('c', 'p')])).toEqual(['c']);
    book.begin('c');
    book.advance('c', '200');
    // 24 hours later DynamoDB trims p
    book.list([open('c', 'p')]);
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ c: { parent: 'p', sequenceNumber: '200' } }));
  });

  it('should keep a shard no longer listed while it is not done', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON');
    book.list([open('s1')]);
    book.begin('s1');
    book.advance('s1', '100');
    book.list([]);
    book.list([]);
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ s1: { sequenceNumber: '100' } }));
  });

  it('should take in the parent of a checkpointed shard from the listing', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON', checkpointOf({ c: { sequenceNumber: '9' } }));
    book.list([open('c', 'p')]);
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ c: { sequenceNumber: '9', parent: 'p' } }));
  });
});

describe('ShardBook: since, where a reading from LATEST began', () => {
  const NOON = Date.parse('2024-05-01T12:00:00.000Z');

  it('should record since (the ISO time of now) for a shard begun at LATEST, and resume it a minute before', () => {
    const book = new ShardBook(ARN, 'LATEST');
    book.list([open('s1')]);
    expect(book.begin('s1', NOON)).toStrictEqual({ type: 'LATEST' });
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ s1: { since: '2024-05-01T12:00:00.000Z' } }));
    expect(book.resumeAt('s1')).toStrictEqual({ type: 'TRIM_HORIZON', notBefore: Date.parse('2024-05-01T11:59:00.000Z') });
  });

  it('should record no since for a shard begun at TRIM_HORIZON or after a sequence number', () => {
    const book = new ShardBook(ARN, 'LATEST', checkpointOf({ s1: { sequenceNumber: '100' } }));
    book.list([open('s1'), open('s2')]);
    expect(book.begin('s1', NOON)).toStrictEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '100' });
    expect(book.begin('s2', NOON)).toStrictEqual({ type: 'TRIM_HORIZON' });
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ s1: { sequenceNumber: '100' } }));
  });

  it('should clear since once a record of the shard is handed on', () => {
    const book = new ShardBook(ARN, 'LATEST');
    book.list([open('s1', 'p0')]);
    book.begin('s1', NOON);
    book.advance('s1', '100');
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ s1: { parent: 'p0', sequenceNumber: '100' } }));
    expect(book.resumeAt('s1')).toStrictEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '100' });
  });

  it.each<StreamStart>(['LATEST', 'TRIM_HORIZON'])(
    'should begin a checkpointed shard with since at TRIM_HORIZON, notBefore a minute before since, keeping since (start %s)',
    (start) => {
      const book = new ShardBook(ARN, start, checkpointOf({ s1: { since: '2024-05-01T12:00:00.000Z' } }));
      expect(book.list([open('s1')])).toEqual(['s1']);
      // begun hours later: since stays where the first reading began
      expect(book.begin('s1', Date.parse('2024-05-01T15:00:00.000Z'))).toStrictEqual({
        type: 'TRIM_HORIZON',
        notBefore: Date.parse('2024-05-01T11:59:00.000Z'),
      });
      expect(book.checkpoint()).toStrictEqual(checkpointOf({ s1: { since: '2024-05-01T12:00:00.000Z' } }));
    },
  );

  it('should prefer the sequence number to since when a position has both', () => {
    const book = new ShardBook(ARN, 'LATEST', checkpointOf({ s1: { sequenceNumber: '100', since: '2024-05-01T12:00:00.000Z' } }));
    book.list([open('s1')]);
    expect(book.begin('s1', NOON)).toStrictEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '100' });
  });
});

describe('ShardBook: checkpointed shards no longer listed', () => {
  it('should report a checkpointed shard not done and no longer listed in lost, and drop it from the positions', () => {
    const book = new ShardBook(
      ARN,
      'TRIM_HORIZON',
      checkpointOf({
        p: { sequenceNumber: '150' },
        q: { since: '2024-05-01T12:00:00.000Z' },
        old: { sequenceNumber: '9', done: true },
        c: { parent: 'p', sequenceNumber: '400' },
      }),
    );
    expect(book.list([open('c', 'p')])).toEqual(['c']);
    expect(book.lost).toStrictEqual([{ shardId: 'p', sequenceNumber: '150' }, { shardId: 'q' }]);
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ c: { parent: 'p', sequenceNumber: '400' } }));
    // said by the listing that found it, not again
    expect(book.list([open('c', 'p')])).toEqual(['c']);
    expect(book.lost).toStrictEqual([]);
  });

  it('should not report a shard being read that a listing no longer holds, nor drop it', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON', checkpointOf({ s1: { sequenceNumber: '100' } }));
    book.list([open('s1')]);
    book.begin('s1');
    book.list([]);
    expect(book.lost).toStrictEqual([]);
    expect(book.checkpoint()).toStrictEqual(checkpointOf({ s1: { sequenceNumber: '100' } }));
  });

  it('should drop a done shard no longer listed without reporting it', () => {
    const book = new ShardBook(ARN, 'TRIM_HORIZON', checkpointOf({ p: { sequenceNumber: '300', done: true } }));
    expect(book.list([open('c', 'p')])).toEqual(['c']);
    expect(book.lost).toStrictEqual([]);
    expect(book.checkpoint()).toStrictEqual(checkpointOf({}));
  });
});

describe('checkCheckpoint', () => {
  it('should return a well-formed checkpoint as it is', () => {
    const c = checkpointOf({
      s1: { sequenceNumber: '000123' },
      s2: { done: true, parent: 's0' },
      s3: {},
      s4: { since: '2024-05-01T12:00:00.000Z' },
    });
    expect(checkCheckpoint(c)).toBe(c);
  });

  it.each<{ name: string; input: unknown; message: string }>([
    { name: 'undefined', input: undefined, message: 'got undefined' },
    { name: 'null', input: null, message: 'got object' },
    { name: 'a string', input: '{"version":1}', message: 'got string' },
    { name: 'no version', input: { streamArn: ARN, shards: {} }, message: 'version must be 1, got undefined' },
    { name: 'version 2', input: { version: 2, streamArn: ARN, shards: {} }, message: 'version must be 1, got 2' },
    { name: "version '1'", input: { version: '1', streamArn: ARN, shards: {} }, message: 'version must be 1, got "1"' },
    { name: 'no streamArn', input: { version: 1, shards: {} }, message: 'streamArn must be a non-empty string' },
    { name: 'an empty streamArn', input: { version: 1, streamArn: '', shards: {} }, message: 'streamArn must be a non-empty string' },
    { name: 'no shards', input: { version: 1, streamArn: ARN }, message: 'shards must be an object' },
    { name: 'shards null', input: { version: 1, streamArn: ARN, shards: null }, message: 'shards must be an object' },
    { name: 'shards an array', input: { version: 1, streamArn: ARN, shards: [] }, message: 'shards must be an object' },
    { name: 'a shard that is a string', input: checkpointOf({ s1: '100' as never }), message: 'shard s1 must be an object' },
    { name: 'a shard that is null', input: checkpointOf({ s1: null as never }), message: 'shard s1 must be an object' },
    {
      name: 'a sequence number with a letter',
      input: checkpointOf({ s1: { sequenceNumber: '12a' } }),
      message: 'shard s1: sequenceNumber must be digits',
    },
    {
      name: 'an empty sequence number',
      input: checkpointOf({ s1: { sequenceNumber: '' } }),
      message: 'shard s1: sequenceNumber must be digits',
    },
    {
      name: 'a negative sequence number',
      input: checkpointOf({ s1: { sequenceNumber: '-1' } }),
      message: 'shard s1: sequenceNumber must be digits',
    },
    {
      // a number would have lost the digits of a 21+ digit sequence number: only text keeps them
      name: 'a sequence number that is a number',
      input: checkpointOf({ s1: { sequenceNumber: 123 as never } }),
      message: 'shard s1: sequenceNumber must be digits',
    },
    { name: "done 'true'", input: checkpointOf({ s1: { done: 'true' as never } }), message: 'shard s1: done must be a boolean' },
    {
      name: 'a parent that is a number',
      input: checkpointOf({ s1: { parent: 7 as never } }),
      message: 'shard s1: parent must be a string',
    },
    {
      name: 'a since that is not a time',
      input: checkpointOf({ s1: { since: 'yesterday' } }),
      message: 'shard s1: since must be an ISO time',
    },
    {
      name: 'a since that is a number',
      input: checkpointOf({ s1: { since: 1714564800000 as never } }),
      message: 'shard s1: since must be an ISO time',
    },
  ])('should refuse $name, saying what is wrong', ({ input, message }) => {
    expect(() => checkCheckpoint(input)).toThrow(TypeError);
    expect(() => checkCheckpoint(input)).toThrow(`checkpoint is not a stream checkpoint: ${message}`);
  });
});

describe('compareSequenceNumbers', () => {
  const big = '1234567890123456789012345678901234567890'; // 40 digits
  it.each<[string, string, -1 | 0 | 1]>([
    ['9', '10', -1],
    ['10', '9', 1],
    ['10', '10', 0],
    ['0010', '10', 0],
    ['10', '0010', 0],
    ['009', '10', -1],
    ['0', '000', 0],
    ['0', '1', -1],
    ['99', '100', -1],
    ['199', '20', 1],
    [big, big, 0],
    [big, `0000${big}`, 0],
    [big, '1234567890123456789012345678901234567891', -1],
    ['1234567890123456789012345678901234567891', big, 1],
    // beyond a double's precision: these differ only in the last digit
    ['100000000000000000000000000000000000000000001', '100000000000000000000000000000000000000000000', 1],
    [big, '999999999999999999999999999999999999999', 1], // 40 digits > 39 digits
    ['000000000000000000000000000000000000000000009', big, -1],
  ])('should compare %s with %s as numbers: %i', (a, b, expected) => {
    expect(Math.sign(compareSequenceNumbers(a, b))).toBe(expected);
  });

  it('should sort sequence numbers as numbers, not as text', () => {
    expect(['10', '9', '0100', '1', '011', big].sort(compareSequenceNumbers)).toEqual(['1', '9', '10', '011', '0100', big]);
  });
});
