import { filter, map, type Observable, of, take, throwError } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  backpressure,
  capacity,
  type ChangeBatch,
  type ChangeRecord,
  dynamoStream,
  dynamoStreamBatches,
  StreamError,
  type StreamCheckpoint,
  type StreamOptions,
} from 'rxjs-dynamodb';
import { testScheduler } from '../helpers/marbles.js';
import {
  awsError,
  type FakeShard,
  type FakeWireRecord,
  fakeStreamsClient,
  insert,
  modify,
  remove,
  STREAM_ARN,
} from '../helpers/fakeStreamsClient.js';

/** A batch as one short string: `shard:seq,seq`, then `|` when it ends its shard, `~` when it says the reader caught up. */
const summary = (b: ChangeBatch) =>
  `${b.shardId}:${b.records.map((r) => r.sequenceNumber).join(',')}${b.shardEnded ? '|' : ''}${b.caughtUp ? '~' : ''}`;

/** Subscribes and keeps what comes out with its virtual time; unsubscribes at `until` if given. */
function watch<T>(scheduler: TestScheduler, source: Observable<T>, until?: number) {
  const seen: Array<[number, T]> = [];
  const out: { error?: unknown; errorAt?: number; completeAt?: number } = {};
  const subscription = source.subscribe({
    next: (value) => seen.push([scheduler.now(), value]),
    error: (error: unknown) => Object.assign(out, { error, errorAt: scheduler.now() }),
    complete: () => (out.completeAt = scheduler.now()),
  });
  if (until !== undefined) scheduler.schedule(() => subscription.unsubscribe(), until);
  return { seen, out, subscription };
}

const checkpointOf = (shards: StreamCheckpoint['shards']): StreamCheckpoint => ({ version: 1, streamArn: STREAM_ARN, shards });

/** `record`, stamped by DynamoDB at `time` (ISO; the TestScheduler's clock is virtual ms from 1970-01-01T00:00:00.000Z). */
const createdAt = (record: FakeWireRecord, time: string): FakeWireRecord => ({
  ...record,
  dynamodb: { ...record.dynamodb, ApproximateCreationDateTime: new Date(time) },
});

describe('dynamoStreamBatches: shard splits (virtual time)', () => {
  it("should read a split's child only after its parent ended, handing on every record of the parent first", () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      // p is closed: its second GetRecords answer has no NextShardIterator; c, its child, is listed with it
      const shards: FakeShard[] = [
        { shardId: 'p', closed: true, pages: [[insert('a', '1', '100'), modify('a', '1', '2', '200')], [modify('a', '2', '3', '300')]] },
        { shardId: 'c', parentShardId: 'p', pages: [[modify('a', '3', '4', '400')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards);
      const batches = dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50, discoveryIntervalMs: 1000 });
      // d: c answered with nothing new at 8, 9 and 10, and it is the only shard being read: caught up at the 3rd (said once)
      expectObservable(batches.pipe(map(summary)), '^ 99ms !').toBe('---ab--c--d', { a: 'p:100,200', b: 'p:300|', c: 'c:400', d: 'c:~' });
      flush();
      expect(fake.log()).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator p TRIM_HORIZON', // c is listed too, and waits
        '2 GetRecords p/0/0',
        '3 GetRecords p/1/0',
        '4 DescribeStream', // p ended at 4: list again, c may start
        '5 GetShardIterator c TRIM_HORIZON',
        '6 GetRecords c/0/0',
        '7 GetRecords c/1/0',
        '8 GetRecords c/1/0', // c is open and had nothing new at 8 and 9: polled again at once
        '9 GetRecords c/1/0',
        '60 GetRecords c/1/0', // nothing new at 10, the 3rd empty answer in a row: idle, polled again idleDelayMs later
      ]);
    });
  });

  it('should keep a child found while its parent is being read waiting until the parent ends', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 'p', closed: true, pages: [[insert('a', '1', '100')], [modify('a', '1', '2', '200')], [modify('a', '2', '3', '300')]] },
        { shardId: 'c', parentShardId: 'p', pages: [[modify('a', '3', '4', '400')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, {
        listing: (n) => (n === 0 ? ['p'] : ['p', 'c']), // the split shows from the second listing on
        answer: (call) => (call.name === 'GetRecords' ? { marble: '---(r|)' } : undefined),
      });
      const changes = watch(scheduler, dynamoStream(fake.client, STREAM_ARN, { scheduler, discoveryIntervalMs: 2 }), 17);
      flush();
      expect(changes.seen.map(([at, r]) => [at, r.shardId, r.newImage?.n])).toEqual([
        [5, 'p', 1],
        [8, 'p', 2],
        [11, 'p', 3],
        [16, 'c', 4],
      ]);
      // listings at 3, 6 and 9 hold c, but p has not ended: c's first call comes after p's end at 11
      expect(fake.log().filter((l) => !l.includes('GetRecords'))).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator p TRIM_HORIZON',
        '3 DescribeStream',
        '6 DescribeStream',
        '9 DescribeStream',
        '11 DescribeStream',
        '12 GetShardIterator c TRIM_HORIZON',
        '14 DescribeStream',
      ]);
    });
  });

  it('should read a closed shard on at once through its empty pages, never idle, and catch up only after its child was read', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [
        // p is closed (listed with an EndingSequenceNumber): three empty pages in its middle, then its last record
        { shardId: 'p', closed: true, pages: [[insert('a', '1', '100')], [], [], [], [modify('a', '1', '2', '300')]] },
        { shardId: 'c', parentShardId: 'p', pages: [[modify('a', '2', '3', '400')]] },
        // o is open and has nothing: idle from 5 on, while p is still being read
        { shardId: 'o', pages: [] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards);
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50 }), 100);
      flush();
      // no caught-up batch while p is read (o idle at 5 is not enough), nor before c's 3rd empty answer, at 13
      expect(batches.seen.map(([at, b]) => [at, summary(b), b.caughtUp])).toEqual([
        [3, 'p:100', false],
        [7, 'p:300|', false],
        [10, 'c:400', false],
        [13, 'c:~', true],
      ]);
      expect(fake.log().filter((l) => !l.includes(' o'))).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator p TRIM_HORIZON',
        '2 GetRecords p/0/0',
        '3 GetRecords p/1/0',
        '4 GetRecords p/2/0', // empty answers at 4, 5 and 6: p is closed, polled again at once each time
        '5 GetRecords p/3/0',
        '6 GetRecords p/4/0',
        '7 DescribeStream', // p ended at 7
        '8 GetShardIterator c TRIM_HORIZON',
        '9 GetRecords c/0/0',
        '10 GetRecords c/1/0',
        '11 GetRecords c/1/0',
        '12 GetRecords c/1/0',
        '63 GetRecords c/1/0',
      ]);
      expect(fake.log().filter((l) => l.includes(' o'))).toEqual([
        '1 GetShardIterator o TRIM_HORIZON',
        '2 GetRecords o/0/0',
        '3 GetRecords o/0/0',
        '4 GetRecords o/0/0',
        '55 GetRecords o/0/0', // idle from 5: idleDelayMs later
      ]);
    });
  });
});

describe('dynamoStreamBatches: polling (virtual time)', () => {
  it('should poll an open shard that answered with no records again idleDelayMs later, doubling up to maxIdleDelayMs', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [[insert('a', '1', '100')]] }]);
      const options = { scheduler, idleDelayMs: 50, maxIdleDelayMs: 300 };
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, options), 700);
      flush();
      // caught up at 6 (the 3rd empty answer in a row), said once: the empty answers after it say nothing
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
        [3, 's:100'],
        [6, 's:~'],
      ]);
      // records at 3: the next call at once; nothing at 4 and 5: at once again; nothing at 6, 57, 158, 359: the next
      // one 50, 100, 200, then 300 (the cap) later
      expect(fake.calls.filter((c) => c.name === 'GetRecords').map((c) => c.at)).toEqual([2, 3, 4, 5, 56, 157, 358, 659]);
    });
  });

  it('should poll at once again after an answer with records, and ask for at most `limit` records', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const page = [insert('a', '1', '100'), insert('b', '1', '200'), insert('c', '1', '300')];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [page] }]);
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, limit: 2, idleDelayMs: 50 }), 10);
      flush();
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
        [3, 's:100,200'],
        [4, 's:300'],
        [7, 's:~'],
      ]);
      // nothing new at 5 and 6: polled again at once; at 7, the 3rd empty answer: caught up, the next poll at 57
      expect(fake.calls.filter((c) => c.name === 'GetRecords').map((c) => [c.at, c.input])).toEqual([
        [2, { ShardIterator: 's/0/0', Limit: 2 }],
        [3, { ShardIterator: 's/0/2', Limit: 2 }],
        [4, { ShardIterator: 's/1/0', Limit: 2 }],
        [5, { ShardIterator: 's/1/0', Limit: 2 }],
        [6, { ShardIterator: 's/1/0', Limit: 2 }],
      ]);
    });
  });

  it('should poll an open shard again at once after its 1st and 2nd empty answers in a row, and count it idle from the 3rd', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      // three empty pages in a row, then a record: the count of empty answers starts again after it
      const shards: FakeShard[] = [{ shardId: 's', pages: [[insert('a', '1', '100')], [], [], [], [insert('b', '1', '200')]] }];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards);
      const batches = watch(
        scheduler,
        dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50, maxIdleDelayMs: 150 }),
        400,
      );
      flush();
      // caught up only at the 3rd empty answer in a row (6, then 60), not at the 1st or 2nd
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
        [3, 's:100'],
        [6, 's:~'],
        [57, 's:200'],
        [60, 's:~'],
      ]);
      expect(fake.log().filter((l) => l.includes('GetRecords'))).toEqual([
        '2 GetRecords s/0/0',
        '3 GetRecords s/1/0', // records at 3: at once
        '4 GetRecords s/2/0', // 1st empty answer at 4: at once
        '5 GetRecords s/3/0', // 2nd at 5: at once
        '56 GetRecords s/4/0', // 3rd at 6: idle, idleDelayMs later
        '57 GetRecords s/5/0', // records at 57: at once, and the count starts again
        '58 GetRecords s/5/0', // 1st empty answer at 58: at once
        '59 GetRecords s/5/0', // 2nd at 59: at once
        '110 GetRecords s/5/0', // 3rd at 60: idleDelayMs (50) later, not 200
        '211 GetRecords s/5/0', // 4th at 111: 100 later
        '362 GetRecords s/5/0', // 5th at 212: 200, capped at maxIdleDelayMs (150)
      ]);
    });
  });

  it('should read all DescribeStream pages before starting shards', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 's1', pages: [] },
        { shardId: 's2', pages: [] },
        { shardId: 's3', pages: [] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, { describePageSize: 2 });
      watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler }), 3);
      flush();
      expect(fake.calls.filter((c) => c.name === 'DescribeStream').map((c) => [c.at, c.input])).toEqual([
        [0, { StreamArn: STREAM_ARN }],
        [1, { StreamArn: STREAM_ARN, ExclusiveStartShardId: 's2' }],
      ]);
      expect(fake.log().filter((l) => l.includes('GetShardIterator'))).toEqual([
        '2 GetShardIterator s1 TRIM_HORIZON',
        '2 GetShardIterator s2 TRIM_HORIZON',
        '2 GetShardIterator s3 TRIM_HORIZON',
      ]);
    });
  });

  it('should read new shards found by the periodic DescribeStream from TRIM_HORIZON, even with start LATEST', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 's1', pages: [[insert('old', '1', '100')]] }, // written before the reader started: LATEST skips it
        { shardId: 's2', pages: [[insert('a', '1', '500'), insert('b', '1', '600')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, { listing: (n) => (n === 0 ? ['s1'] : ['s1', 's2']) });
      const batches = dynamoStreamBatches(fake.client, STREAM_ARN, {
        scheduler,
        start: 'LATEST',
        idleDelayMs: 1000,
        discoveryIntervalMs: 20,
      });
      // s1 has nothing after LATEST: caught up at 5 (its 3rd empty answer); s2's records at 24; caught up again at 27
      expectObservable(batches.pipe(map(summary)), '^ 49ms !').toBe('-----a 18ms b--c', { a: 's1:~', b: 's2:500,600', c: 's2:~' });
      flush();
      expect(fake.log()).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator s1 LATEST',
        '2 GetRecords s1/1/0',
        '3 GetRecords s1/1/0',
        '4 GetRecords s1/1/0', // idle from 5: next polled idleDelayMs (1000) later
        '21 DescribeStream', // listed at 1: the next listing discoveryIntervalMs later
        '22 GetShardIterator s2 TRIM_HORIZON',
        '23 GetRecords s2/0/0',
        '24 GetRecords s2/1/0',
        '25 GetRecords s2/1/0',
        '26 GetRecords s2/1/0',
        '42 DescribeStream',
      ]);
    });
  });
});

describe('dynamoStreamBatches: iterators and trimming (virtual time)', () => {
  it('should ask for a new iterator after the last record handed on when GetRecords says ExpiredIteratorException', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 's', pages: [[insert('a', '1', '100'), insert('b', '1', '200')], [insert('c', '1', '300')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, {
        answer: (call) => (call.name === 'GetRecords' && call.n === 1 ? { error: awsError('ExpiredIteratorException') } : undefined),
      });
      const batches = dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50 }).pipe(map(summary));
      expectObservable(batches, '^ 19ms !').toBe('---a--b--c', { a: 's:100,200', b: 's:300', c: 's:~' });
      flush();
      expect(fake.log()).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator s TRIM_HORIZON',
        '2 GetRecords s/0/0',
        '3 GetRecords s/1/0', // expired at 4
        '4 GetShardIterator s AFTER_SEQUENCE_NUMBER 200',
        '5 GetRecords s/1/0',
        '6 GetRecords s/2/0',
        '7 GetRecords s/2/0',
        '8 GetRecords s/2/0',
      ]);
    });
  });

  it('should start the shard again where it would have started when its iterator expires before any record', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [{ shardId: 's', pages: [[insert('a', '1', '100')]] }];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, {
        answer: (call) => (call.name === 'GetRecords' && call.n === 0 ? { error: awsError('ExpiredIteratorException') } : undefined),
      });
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50 }), 6);
      flush();
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([[5, 's:100']]);
      expect(fake.log().slice(1, 4)).toEqual([
        '1 GetShardIterator s TRIM_HORIZON',
        '2 GetRecords s/0/0',
        '3 GetShardIterator s TRIM_HORIZON',
      ]);
    });
  });

  it('should tell onTrimmed, naming the shard, and go on from TRIM_HORIZON when a checkpoint is older than the stream keeps', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [{ shardId: 'shardId-0001', pages: [[insert('a', '1', '100')]] }];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, {
        answer: (call) =>
          call.name === 'GetShardIterator' && call.input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER'
            ? { error: awsError('TrimmedDataAccessException') }
            : undefined,
      });
      const trimmed: Array<[number, string]> = [];
      const batches = watch(
        scheduler,
        dynamoStreamBatches(fake.client, STREAM_ARN, {
          scheduler,
          checkpoint: checkpointOf({ 'shardId-0001': { sequenceNumber: '50' } }),
          onTrimmed: (message) => trimmed.push([scheduler.now(), message]),
        }),
        8, // caught up at 7, at the 3rd empty answer in a row
      );
      flush();
      expect(trimmed).toEqual([[2, expect.stringContaining(`Records of shard shardId-0001 of ${STREAM_ARN} were trimmed`)]]);
      expect(trimmed[0]![1]).toContain('(after sequence number 50)');
      expect(fake.log().slice(0, 4)).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator shardId-0001 AFTER_SEQUENCE_NUMBER 50',
        '2 GetShardIterator shardId-0001 TRIM_HORIZON',
        '3 GetRecords shardId-0001/0/0',
      ]);
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
        [4, 'shardId-0001:100'],
        [7, 'shardId-0001:~'],
      ]);
    });
  });

  it('should tell onTrimmed and go on from TRIM_HORIZON when GetRecords says TrimmedDataAccessException', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const s: FakeShard = { shardId: 's', pages: [[insert('a', '1', '100')], [insert('b', '1', '200')], [insert('c', '1', '300')]] };
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [s], {
        answer: (call) => {
          if (call.name !== 'GetRecords' || call.n !== 1) return undefined;
          s.trimHorizonPage = 2; // the reader fell 24 hours behind: 200 is gone
          return { error: awsError('TrimmedDataAccessException') };
        },
      });
      const trimmed: string[] = [];
      const batches = watch(
        scheduler,
        dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50, onTrimmed: (m) => trimmed.push(m) }),
        10,
      );
      flush();
      expect(trimmed).toHaveLength(1);
      expect(trimmed[0]).toContain('Records of shard s of');
      expect(trimmed[0]).toContain('(after sequence number 100)');
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
        [3, 's:100'],
        [6, 's:300'],
        [9, 's:~'],
      ]);
      expect(fake.log().slice(3, 6)).toEqual(['3 GetRecords s/1/0', '4 GetShardIterator s TRIM_HORIZON', '5 GetRecords s/2/0']);
    });
  });

  it('should end a shard that is gone (ResourceNotFoundException) and go on with its children', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 'p', closed: true, pages: [[insert('a', '1', '100')]] },
        { shardId: 'c', parentShardId: 'p', pages: [[modify('a', '1', '2', '400')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, {
        answer: (call) =>
          call.name === 'GetShardIterator' && call.input.ShardId === 'p' ? { error: awsError('ResourceNotFoundException') } : undefined,
      });
      const batches = dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50 });
      expectObservable(batches.pipe(map(summary)), '^ 9ms !').toBe('--a--b--c', { a: 'p:|', b: 'c:400', c: 'c:~' });
      flush();
      expect(fake.log()).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator p TRIM_HORIZON',
        '2 DescribeStream',
        '3 GetShardIterator c TRIM_HORIZON',
        '4 GetRecords c/0/0',
        '5 GetRecords c/1/0',
        '6 GetRecords c/1/0',
        '7 GetRecords c/1/0',
      ]);
    });
  });
});

describe('dynamoStreamBatches: throttling (virtual time)', () => {
  const retryOptions = (scheduler: TestScheduler): StreamOptions => ({
    scheduler,
    idleDelayMs: 50,
    maxAttempts: 3,
    backoff: { baseDelayMs: 10, jitter: 'none' },
    random: () => 0.5,
  });

  it.each(['LimitExceededException', 'ProvisionedThroughputExceededException'])(
    'should call GetRecords again after the backoff when it fails with %s',
    (name) => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, flush }) => {
        const shards: FakeShard[] = [{ shardId: 's', pages: [[insert('a', '1', '100')], [insert('b', '1', '200')]] }];
        const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, {
          answer: (call) => (call.name === 'GetRecords' && (call.n === 1 || call.n === 2) ? { error: awsError(name) } : undefined),
        });
        const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, retryOptions(scheduler)), 60);
        flush();
        // fails at 4, waits 10; fails at 15, waits 20; answers at 36; nothing new at 37, 38 and 39 (caught up)
        expect(fake.calls.filter((c) => c.name === 'GetRecords').map((c) => [c.at, c.input.ShardIterator])).toEqual([
          [2, 's/0/0'],
          [3, 's/1/0'],
          [14, 's/1/0'],
          [35, 's/1/0'],
          [36, 's/2/0'],
          [37, 's/2/0'],
          [38, 's/2/0'],
        ]);
        expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
          [3, 's:100'],
          [36, 's:200'],
          [39, 's:~'],
        ]);
        expect(batches.out.error).toBeUndefined();
      });
    },
  );

  it('should fail with stream.callFailed after maxAttempts throttled calls, with the checkpoint of the last batch handed on', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const throttled = awsError('ProvisionedThroughputExceededException');
      const shards: FakeShard[] = [
        { shardId: 'p', closed: true, pages: [[insert('a', '1', '100')]] },
        { shardId: 'c', parentShardId: 'p', pages: [[insert('b', '1', '200')], [insert('c', '1', '300')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, {
        answer: (call) => (call.name === 'GetRecords' && call.n >= 2 ? { error: throttled } : undefined),
      });
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, retryOptions(scheduler)));
      flush();
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
        [3, 'p:100|'],
        [6, 'c:200'],
      ]);
      // c/1/0 fails at 7, 18 and 39 (waits 10, then 20): maxAttempts 3
      expect(fake.calls.filter((c) => c.name === 'GetRecords').map((c) => [c.at, c.input.ShardIterator])).toEqual([
        [2, 'p/0/0'],
        [5, 'c/0/0'],
        [6, 'c/1/0'],
        [17, 'c/1/0'],
        [38, 'c/1/0'],
      ]);
      expect(batches.out.errorAt).toBe(39);
      const error = batches.out.error as StreamError;
      expect(error).toBeInstanceOf(StreamError);
      expect(error.code).toBe('stream.callFailed');
      expect(error.cause).toBe(throttled);
      expect(error.checkpoint).toStrictEqual(
        checkpointOf({ p: { sequenceNumber: '100', done: true }, c: { parent: 'p', sequenceNumber: '200' } }),
      );
      expect(error.checkpoint).toStrictEqual(batches.seen.at(-1)![1].checkpoint);
      // nothing is called after the error
      expect(fake.calls.at(-1)!.at).toBe(38);
    });
  });

  it('should fail with stream.callFailed at once on an error that is not retried', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const denied = awsError('AccessDeniedException');
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [] }], {
        answer: (call) => (call.name === 'GetShardIterator' ? { error: denied } : undefined),
      });
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, retryOptions(scheduler)));
      flush();
      expect(fake.log()).toEqual(['0 DescribeStream', '1 GetShardIterator s TRIM_HORIZON']);
      expect(batches.out.errorAt).toBe(2);
      expect((batches.out.error as StreamError).code).toBe('stream.callFailed');
      expect((batches.out.error as StreamError).cause).toBe(denied);
      expect((batches.out.error as StreamError).checkpoint).toStrictEqual(checkpointOf({}));
    });
  });
});

describe('dynamoStreamBatches: finding the stream (virtual time)', () => {
  it("should read the table's newest stream, by StreamLabel", () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const arn = (label: string) => `arn:aws:dynamodb:local:000000000000:table/Tickets/stream/${label}`;
      const streams = ['2024-03-01T00:00:00.000', '2025-01-01T00:00:00.000', '2023-12-31T23:59:59.999'].map((l) => ({
        StreamArn: arn(l),
        StreamLabel: l,
      }));
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [], { streams });
      watch(scheduler, dynamoStreamBatches(fake.client, 'Tickets', { scheduler }), 5);
      flush();
      expect(fake.calls.map((c) => [c.at, c.name, c.input])).toEqual([
        [0, 'ListStreams', { TableName: 'Tickets' }],
        [1, 'DescribeStream', { StreamArn: arn('2025-01-01T00:00:00.000') }],
      ]);
    });
  });

  it('should fail with stream.notEnabled when the table has no stream', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [], { streams: [] });
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, 'Tickets', { scheduler }));
      flush();
      expect(batches.out.errorAt).toBe(1);
      const error = batches.out.error as StreamError;
      expect(error).toBeInstanceOf(StreamError);
      expect(error.code).toBe('stream.notEnabled');
      expect(error.checkpoint).toBeUndefined();
      expect(error.message).toContain('Tickets');
      expect(fake.log()).toEqual(['0 ListStreams']);
    });
  });

  it('should refuse a checkpoint of another stream when it is found, naming both, before reading a shard', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const other = 'arn:aws:dynamodb:local:000000000000:table/Tickets/stream/2020-01-01T00:00:00.000';
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [] }]);
      const batches = watch(
        scheduler,
        dynamoStreamBatches(fake.client, 'Tickets', { scheduler, checkpoint: { version: 1, streamArn: other, shards: {} } }),
      );
      flush();
      expect(batches.out.errorAt).toBe(1);
      expect(batches.out.error).toBeInstanceOf(TypeError);
      expect((batches.out.error as Error).message).toContain(other);
      expect((batches.out.error as Error).message).toContain(STREAM_ARN);
      expect(fake.log()).toEqual(['0 ListStreams']);
    });
  });

  it('should complete once a DISABLED stream is read to its end, children included', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 'p', closed: true, pages: [[insert('a', '1', '100')]] },
        { shardId: 'c', parentShardId: 'p', closed: true, pages: [[modify('a', '1', '2', '200')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards, { status: () => 'DISABLED' });
      const batches = dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler });
      expectObservable(batches.pipe(map(summary))).toBe('---a--b|', { a: 'p:100|', b: 'c:200|' });
      flush();
      expect(fake.log()).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator p TRIM_HORIZON',
        '2 GetRecords p/0/0',
        '3 DescribeStream',
        '4 GetShardIterator c TRIM_HORIZON',
        '5 GetRecords c/0/0',
        '6 DescribeStream',
      ]);
    });
  });

  it('should complete at once on a DISABLED stream with no shards left', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [], { status: () => 'DISABLED' });
      expectObservable(dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler })).toBe('-|');
    });
  });

  it('should not complete while the stream is ENABLED, even with every listed shard read', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 'p', closed: true, pages: [[insert('a', '1', '100')]] }]);
      const batches = dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, discoveryIntervalMs: 100 });
      expectObservable(batches.pipe(map(summary)), '^ 249ms !').toBe('---a', { a: 'p:100|' });
      flush();
      expect(fake.calls.filter((c) => c.name === 'DescribeStream').map((c) => c.at)).toEqual([0, 3, 104, 205]);
    });
  });
});

describe('dynamoStreamBatches: unsubscribing (virtual time)', () => {
  it('should cancel the pending idle poll and the next discovery on unsubscribe', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [[insert('a', '1', '100')]] }]);
      // at 40: a poll is due at 56 (idle since 6, its 3rd empty answer) and a listing at 62 (listed at 32)
      watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50, discoveryIntervalMs: 30 }), 40);
      const scheduled: number[] = [];
      scheduler.schedule(() => scheduled.push(scheduler.actions.length), 39);
      scheduler.schedule(() => scheduled.push(scheduler.actions.length), 41);
      flush();
      // at 39: the poll, the listing, the unsubscribe and the check at 41; at 41 the source left nothing behind
      expect(scheduled).toEqual([4, 0]);
      expect(fake.log()).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator s TRIM_HORIZON',
        '2 GetRecords s/0/0',
        '3 GetRecords s/1/0',
        '4 GetRecords s/1/0',
        '5 GetRecords s/1/0',
        '31 DescribeStream',
      ]);
    });
  });

  it('should abort the call in flight on unsubscribe', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [[insert('a', '1', '100')]] }], {
        answer: (call) => (call.name === 'GetRecords' ? { marble: '-----(r|)' } : undefined),
      });
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler }), 4);
      flush();
      expect(batches.seen).toEqual([]);
      expect(fake.log()).toEqual(['0 DescribeStream', '1 GetShardIterator s TRIM_HORIZON', '2 GetRecords s/0/0']);
      expect(fake.calls.at(-1)!.signal?.aborted).toBe(true);
    });
  });

  it('should make no call after take(n) unsubscribes from within a batch that ends a shard', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 'p', closed: true, pages: [[insert('a', '1', '100')]] },
        { shardId: 'c', parentShardId: 'p', pages: [[insert('b', '1', '200')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards);
      expectObservable(dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler }).pipe(take(1), map(summary))).toBe('---(a|)', {
        a: 'p:100|',
      });
      flush();
      expect(fake.log()).toEqual(['0 DescribeStream', '1 GetShardIterator p TRIM_HORIZON', '2 GetRecords p/0/0']);
    });
  });

  it('should leave no timer behind after take(n) unsubscribes from within the caught-up batch', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [[insert('a', '1', '100')]] }]);
      const caughtUp = dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 50 }).pipe(
        filter((b) => b.caughtUp),
        take(1),
        map(summary),
      );
      // caught up at 6, at the 3rd empty answer in a row
      expectObservable(caughtUp).toBe('------(a|)', { a: 's:~' });
      const scheduled: number[] = [];
      scheduler.schedule(() => scheduled.push(scheduler.actions.length), 7);
      flush();
      expect(scheduled).toEqual([0]);
      expect(fake.log()).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator s TRIM_HORIZON',
        '2 GetRecords s/0/0',
        '3 GetRecords s/1/0',
        '4 GetRecords s/1/0',
        '5 GetRecords s/1/0',
      ]);
    });
  });

  it('should schedule nothing after take(n) unsubscribes, also with a client that answers synchronously', () => {
    const scheduler = testScheduler();
    scheduler.run(({ flush }) => {
      // `send` may return any ObservableInput: here one that answers at once, so a whole listing and read is one call stack
      const sync = (_marble: string, values: { r: unknown }, error?: unknown) => (error ? throwError(() => error) : of(values.r));
      const fake = fakeStreamsClient(() => scheduler.now(), sync, [{ shardId: 's', pages: [[insert('a', '1', '100')]] }], {
        listing: (n) => (n === 0 ? [] : ['s']), // s shows at the second listing, at 10
      });
      const seen: Array<[number, string]> = [];
      dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, discoveryIntervalMs: 10 })
        .pipe(take(1), map(summary))
        .subscribe({ next: (b) => seen.push([scheduler.now(), b]), complete: () => seen.push([scheduler.now(), '|']) });
      const scheduled: number[] = [];
      scheduler.schedule(() => scheduled.push(scheduler.actions.length), 11);
      flush();
      expect(seen).toEqual([
        [10, 's:100'],
        [10, '|'],
      ]);
      expect(fake.log()).toEqual(['0 DescribeStream', '10 DescribeStream', '10 GetShardIterator s TRIM_HORIZON', '10 GetRecords s/0/0']);
      // the listing at 10 that took s in scheduled no next one
      expect(scheduled).toEqual([0]);
    });
  });

  it('should make no call after take(n) unsubscribes from within a batch of an open shard', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [
        { shardId: 's', pages: [[insert('a', '1', '100')], [insert('b', '1', '200')]] },
      ]);
      expectObservable(
        dynamoStream(fake.client, STREAM_ARN, { scheduler }).pipe(
          take(1),
          map((r) => r.sequenceNumber),
        ),
      ).toBe('---(a|)', {
        a: '100',
      });
      flush();
      expect(fake.log()).toEqual(['0 DescribeStream', '1 GetShardIterator s TRIM_HORIZON', '2 GetRecords s/0/0']);
    });
  });
});

describe('dynamoStreamBatches: checkpoints (virtual time)', () => {
  const shards = (): FakeShard[] => [
    { shardId: 'p', closed: true, pages: [[insert('a', '1', '100'), modify('a', '1', '2', '200')], [modify('a', '2', '3', '300')]] },
    { shardId: 'c', parentShardId: 'p', pages: [[modify('a', '3', '4', '400')]] },
  ];

  it("should give each batch the checkpoint after its last record, and mark a shard's end", () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards());
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler }), 20);
      flush();
      const both = checkpointOf({ p: { sequenceNumber: '300', done: true }, c: { parent: 'p', sequenceNumber: '400' } });
      expect(batches.seen.map(([at, b]) => [at, summary(b), b.shardEnded, b.caughtUp, b.checkpoint])).toStrictEqual([
        [3, 'p:100,200', false, false, checkpointOf({ p: { sequenceNumber: '200' } })],
        [4, 'p:300|', true, false, checkpointOf({ p: { sequenceNumber: '300', done: true } })],
        [7, 'c:400', false, false, both],
        [10, 'c:~', false, true, both],
      ]);
      // each checkpoint is its own copy
      expect(batches.seen[0]![1].checkpoint).not.toBe(batches.seen[1]![1].checkpoint);
    });
  });

  it('should hand on an empty batch that says a closed shard with no records ended', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 'p', closed: true, pages: [] }], {
        status: () => 'DISABLED',
      });
      expectObservable(dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler })).toBe('---a|', {
        a: { shardId: 'p', records: [], shardEnded: true, caughtUp: false, checkpoint: checkpointOf({ p: { done: true } }) },
      });
    });
  });

  it.each<{ name: string; checkpoint: StreamCheckpoint; iterators: string[]; batches: Array<[number, string]> }>([
    {
      name: 'in the middle of the parent',
      checkpoint: checkpointOf({ p: { sequenceNumber: '200' } }),
      iterators: ['1 GetShardIterator p AFTER_SEQUENCE_NUMBER 200', '4 GetShardIterator c TRIM_HORIZON'],
      batches: [
        [3, 'p:300|'],
        [6, 'c:400'],
        [9, 'c:~'],
      ],
    },
    {
      name: 'after the end of the parent',
      checkpoint: checkpointOf({ p: { sequenceNumber: '300', done: true } }),
      iterators: ['1 GetShardIterator c TRIM_HORIZON'],
      batches: [
        [3, 'c:400'],
        [6, 'c:~'],
      ],
    },
  ])(
    'should go on from a checkpoint $name, neither losing nor repeating a record, even with start LATEST',
    ({ checkpoint, iterators, batches }) => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, flush }) => {
        const fake = fakeStreamsClient(() => scheduler.now(), cold, shards());
        const seen = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, start: 'LATEST', checkpoint }), 20);
        flush();
        expect(fake.log().filter((l) => l.includes('GetShardIterator'))).toEqual(iterators);
        expect(seen.seen.map(([at, b]) => [at, summary(b)])).toEqual(batches);
      });
    },
  );
});

describe('dynamoStreamBatches: restarting a LATEST reading before its first record (virtual time)', () => {
  it('should say in the checkpoint when the reading of a shard from LATEST began, before any record of it', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [[insert('old', '1', '100')]] }]);
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, start: 'LATEST', idleDelayMs: 50 }), 10);
      flush();
      expect(fake.log().slice(0, 5)).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator s LATEST', // begun at 1 (virtual ms)
        '2 GetRecords s/1/0',
        '3 GetRecords s/1/0',
        '4 GetRecords s/1/0',
      ]);
      expect(batches.seen.map(([at, b]) => [at, summary(b), b.checkpoint])).toStrictEqual([
        [5, 's:~', checkpointOf({ s: { since: '1970-01-01T00:00:00.001Z' } })],
      ]);
    });
  });

  it('should go on from such a checkpoint at TRIM_HORIZON, handing on only records stamped since its `since` less a minute', () => {
    // the first run began reading s from LATEST at 1 (virtual ms) and was stopped before any record came
    const checkpoint = checkpointOf({ s: { since: '1970-01-01T00:00:00.001Z' } });
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [
        {
          shardId: 's',
          pages: [
            [createdAt(insert('a', '1', '100'), '1969-12-31T23:58:00.000Z')], // history: skipped
            [
              createdAt(insert('b', '1', '200'), '1969-12-31T23:59:00.000Z'), // 1 ms before since - 60 s: skipped
              createdAt(insert('c', '1', '300'), '1969-12-31T23:59:00.001Z'), // since - 60 s exactly: handed on
            ],
            [createdAt(insert('d', '1', '400'), '1970-01-01T00:00:05.000Z')], // came while the reader was down
          ],
        },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards);
      const batches = watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, checkpoint, idleDelayMs: 50 }), 20);
      flush();
      expect(fake.log().slice(0, 5)).toEqual([
        '0 DescribeStream',
        '1 GetShardIterator s TRIM_HORIZON',
        '2 GetRecords s/0/0', // only skipped records at 3: no batch, polled again at once
        '3 GetRecords s/1/0',
        '4 GetRecords s/2/0',
      ]);
      expect(batches.seen.map(([at, b]) => [at, summary(b), b.checkpoint])).toStrictEqual([
        [4, 's:300', checkpointOf({ s: { sequenceNumber: '300' } })],
        [5, 's:400', checkpointOf({ s: { sequenceNumber: '400' } })],
        [8, 's:~', checkpointOf({ s: { sequenceNumber: '400' } })],
      ]);
    });
  });
});

describe('dynamoStreamBatches: a checkpointed shard trimmed before it was read to its end (virtual time)', () => {
  it('should tell onTrimmed once, naming the shard and its sequence number, drop it from the checkpoint, and read its child', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      // DescribeStream no longer lists p (trimmed after 24 hours); c, its child, is listed
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [
        { shardId: 'c', parentShardId: 'p', pages: [[modify('a', '2', '3', '400')]] },
      ]);
      const trimmed: Array<[number, string]> = [];
      const batches = watch(
        scheduler,
        dynamoStreamBatches(fake.client, STREAM_ARN, {
          scheduler,
          idleDelayMs: 50,
          discoveryIntervalMs: 10,
          checkpoint: checkpointOf({ p: { sequenceNumber: '150' } }),
          onTrimmed: (message) => trimmed.push([scheduler.now(), message]),
        }),
        40,
      );
      flush();
      // listed at 1, 12, 23 and 34, none holding p: said once, at the first
      expect(fake.calls.filter((c) => c.name === 'DescribeStream').map((c) => c.at)).toEqual([0, 11, 22, 33]);
      expect(trimmed).toEqual([
        [
          1,
          `Shard p of ${STREAM_ARN} was trimmed (older than 24 hours) before it was read to its end (the checkpoint was at sequence number 150): its records after that are lost; reading goes on with its children.`,
        ],
      ]);
      expect(fake.log().filter((l) => l.includes('GetShardIterator'))).toEqual(['1 GetShardIterator c TRIM_HORIZON']);
      const after = checkpointOf({ c: { parent: 'p', sequenceNumber: '400' } });
      expect(batches.seen.map(([at, b]) => [at, summary(b), b.checkpoint])).toStrictEqual([
        [3, 'c:400', after],
        [6, 'c:~', after],
      ]);
    });
  });
});

describe('dynamoStream (virtual time)', () => {
  it('should hand on the records of each batch one by one, exactly', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [
        {
          shardId: 's',
          closed: true,
          pages: [[insert('a', '1', '100'), modify('a', '1', '12345678901234567890', '200')], [remove('a', '12345678901234567890', '300')]],
        },
      ]);
      const records = watch(scheduler, dynamoStream(fake.client, STREAM_ARN, { scheduler }), 10);
      flush();
      expect(records.seen).toStrictEqual<Array<[number, ChangeRecord]>>([
        [
          3,
          {
            eventName: 'INSERT',
            keys: { pk: 'a' },
            newImage: { pk: 'a', n: 1 },
            sequenceNumber: '100',
            approximateCreationTime: new Date('2024-01-01T00:00:00Z'),
            shardId: 's',
          },
        ],
        [
          3,
          {
            eventName: 'MODIFY',
            keys: { pk: 'a' },
            newImage: { pk: 'a', n: 12345678901234567890n },
            oldImage: { pk: 'a', n: 1 },
            sequenceNumber: '200',
            approximateCreationTime: new Date('2024-01-01T00:00:01Z'),
            shardId: 's',
          },
        ],
        [
          4,
          {
            eventName: 'REMOVE',
            keys: { pk: 'a' },
            oldImage: { pk: 'a', n: 12345678901234567890n },
            sequenceNumber: '300',
            approximateCreationTime: new Date('2024-01-01T00:00:02Z'),
            shardId: 's',
          },
        ],
      ]);
    });
  });
});

describe('dynamoStreamBatches: options', () => {
  const client = { send: () => Promise.reject(new Error('no call is expected')) };

  it.each<{ name: string; options: StreamOptions; error: typeof RangeError | typeof TypeError; message: string }>([
    { name: 'limit 0', options: { limit: 0 }, error: RangeError, message: 'limit must be an integer from 1 to 1000, got 0' },
    { name: 'limit 1001', options: { limit: 1001 }, error: RangeError, message: 'limit must be an integer from 1 to 1000, got 1001' },
    { name: 'limit 2.5', options: { limit: 2.5 }, error: RangeError, message: 'got 2.5' },
    {
      name: "start 'NOW'",
      options: { start: 'NOW' as never },
      error: RangeError,
      message: "start must be 'TRIM_HORIZON' or 'LATEST', got NOW",
    },
    { name: 'idleDelayMs -1', options: { idleDelayMs: -1 }, error: RangeError, message: 'idleDelayMs must be a number >= 0, got -1' },
    {
      name: 'discoveryIntervalMs 0',
      options: { discoveryIntervalMs: 0 },
      error: RangeError,
      message: 'discoveryIntervalMs must be a number > 0, got 0',
    },
    { name: 'maxAttempts 0', options: { maxAttempts: 0 }, error: RangeError, message: 'maxAttempts must be an integer >= 1, got 0' },
    {
      name: 'maxIdleDelayMs under idleDelayMs',
      options: { idleDelayMs: 500, maxIdleDelayMs: 100 },
      error: RangeError,
      message: 'maxIdleDelayMs must be a number >= idleDelayMs (500), got 100',
    },
    {
      name: 'a capacity as a fraction of provisioned',
      options: { capacity: { fractionOfProvisioned: 0.5 } },
      error: RangeError,
      message: 'capacity of a Streams source counts records per second',
    },
    { name: "jitter 'some'", options: { backoff: { jitter: 'some' as never } }, error: RangeError, message: 'got some' },
    {
      name: 'a checkpoint of version 2',
      options: { checkpoint: { version: 2 as never, streamArn: STREAM_ARN, shards: {} } },
      error: TypeError,
      message: 'checkpoint is not a stream checkpoint: version must be 1, got 2',
    },
    {
      name: 'a checkpoint with a sequence number that is not digits',
      options: { checkpoint: checkpointOf({ s1: { sequenceNumber: '1e21' } }) },
      error: TypeError,
      message: 'shard s1: sequenceNumber must be digits',
    },
    {
      name: 'a checkpoint whose since is not a time',
      options: { checkpoint: checkpointOf({ s1: { since: 'yesterday' } }) },
      error: TypeError,
      message: 'shard s1: since must be an ISO time',
    },
  ])('should refuse $name when the source is created', ({ options, error, message }) => {
    expect(() => dynamoStreamBatches(client, STREAM_ARN, options)).toThrow(error);
    expect(() => dynamoStreamBatches(client, STREAM_ARN, options)).toThrow(message);
    expect(() => dynamoStream(client, 'Tickets', options)).toThrow(message);
  });

  it('should refuse an empty source', () => {
    expect(() => dynamoStreamBatches(client, '')).toThrow(TypeError);
    expect(() => dynamoStreamBatches(client, '')).toThrow('source must be a table name or a stream ARN');
  });

  it('should make no call before it is subscribed to', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeStreamsClient(() => scheduler.now(), cold, [{ shardId: 's', pages: [] }]);
      dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler });
      dynamoStream(fake.client, 'Tickets', { scheduler });
      flush();
      expect(fake.calls).toEqual([]);
    });
  });
});

describe('dynamoStreamBatches: backpressure (virtual time)', () => {
  it('should pay for each batch of records from a capacity budget (records per second) before the shard is polled again', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 's', pages: [[insert('a', '1', '100'), insert('b', '1', '200')], [insert('c', '1', '300')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards);
      const budget = capacity({ unitsPerSecond: 100, burstSeconds: 0 }); // 10 ms a record
      watch(scheduler, dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 1000, capacity: budget }), 100);
      flush();
      // 2 records at 3 are paid from 3 to 23; the 1 record at 4 waits for them: the next call at 23, not 4
      expect(fake.calls.filter((c) => c.name === 'GetRecords').map((c) => c.at)).toEqual([2, 3, 23, 24, 25]);
      expect(budget.spent).toBe(3);
    });
  });

  it('should send no GetRecords while the link is full, and go on when it is released', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const shards: FakeShard[] = [
        { shardId: 's', pages: [[insert('a', '1', '100'), insert('b', '1', '200')], [insert('c', '1', '300')]] },
      ];
      const fake = fakeStreamsClient(() => scheduler.now(), cold, shards);
      const link = backpressure({ highWaterMark: 2, scheduler });
      const batches = watch(
        scheduler,
        dynamoStreamBatches(fake.client, STREAM_ARN, { scheduler, idleDelayMs: 1000, backpressure: link }),
        100,
      );
      const pending: Array<[number, number]> = [];
      scheduler.schedule(() => pending.push([scheduler.now(), link.pending]), 10);
      scheduler.schedule(() => link.release(1), 20); // 1 pending < 2: go on
      scheduler.schedule(() => pending.push([scheduler.now(), link.pending]), 30);
      scheduler.schedule(() => link.release(2), 40);
      flush();
      expect(pending).toEqual([
        [10, 2],
        [30, 2],
      ]);
      expect(batches.seen.map(([at, b]) => [at, summary(b)])).toEqual([
        [3, 's:100,200'],
        [21, 's:300'],
        [43, 's:~'],
      ]);
      // full from 3 to 20 and from 21 to 40: no call meanwhile; then two empty answers, each polled again at once
      expect(fake.calls.filter((c) => c.name === 'GetRecords').map((c) => [c.at, c.input.ShardIterator])).toEqual([
        [2, 's/0/0'],
        [20, 's/1/0'],
        [40, 's/2/0'],
        [41, 's/2/0'],
        [42, 's/2/0'],
      ]);
    });
  });
});
