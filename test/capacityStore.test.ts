import { describe, expect, it } from 'vitest';
import { asyncScheduler, firstValueFrom, from, type Observable, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { capacity, type CapacityStore, dynamoBatchWrite, dynamoPut, dynamoScanPages, dynamoTransactWrite } from 'rxjs-dynamodb';
import { fakeWriteClient } from './helpers/fakeClient.js';
import { testScheduler } from './helpers/marbles.js';

type Cold = TestScheduler['createColdObservable'];

/** A store whose answers are cold Observables: `waits[i]` is what the i-th reservation is told to wait. */
function fakeStore(cold: Cold, waits: number[], { latency = '-', correctError }: { latency?: string; correctError?: unknown } = {}) {
  const log: string[] = [];
  let i = 0;
  const store: CapacityStore = {
    reserve: (key, units, unitsPerSecond, burstMs) => {
      log.push(`reserve ${key} ${units} ${unitsPerSecond} ${burstMs}`);
      return cold(`${latency}(w|)`, { w: waits[i++] ?? 0 });
    },
    correct: (key, units, unitsPerSecond) => {
      log.push(`correct ${key} ${units} ${unitsPerSecond}`);
      return correctError === undefined ? of(undefined) : throwError(() => correctError);
    },
    penalize: (key, units, unitsPerSecond, cut) => {
      log.push(`penalize ${key} ${units} ${unitsPerSecond}${cut ? ` cut ${cut.factor} ${cut.recoverMs} ${cut.holdMs}` : ''}`);
      return of(undefined);
    },
  };
  return { store, log };
}

const use = (scheduler: TestScheduler) => ({ client: { send: () => of({}) }, table: 'T', kind: 'write' as const, scheduler });
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ pk: `${i}` }));

describe('capacity with a store', () => {
  it('should wait exactly what the store says, through the scheduler, after its answer comes', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const { store, log } = fakeStore(cold, [0, 5, 12], { latency: '--' });
      const budget = capacity({ unitsPerSecond: 50, burstSeconds: 0.5, store, key: 'job-1' });
      // the store answers 2 frames after it is asked; then the wait it gave runs on the test scheduler
      expectObservable(budget.spend(1, use(scheduler))).toBe('--(u|)', { u: undefined });
      expectObservable(budget.spend(2, use(scheduler))).toBe('-------(u|)', { u: undefined });
      expectObservable(budget.spend(3, use(scheduler))).toBe('--------------(u|)', { u: undefined });
      scheduler.flush();
      expect(log).toEqual(['reserve job-1 1 50 500', 'reserve job-1 2 50 500', 'reserve job-1 3 50 500']);
      expect(budget.spent).toBe(6);
    });
  });

  it('should space the calls of an operator by the waits of a shared store, not by its own bucket', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeWriteClient(() => scheduler.now(), cold);
      // what other workers reserved meanwhile shows in the waits: 0, then 700 and 300 ms
      const { store } = fakeStore(cold, [0, 700, 300], { latency: '-' });
      from(items(75))
        .pipe(dynamoBatchWrite(fake.client, 'T', { keyAttributes: ['pk'], capacity: { unitsPerSecond: 50, store }, scheduler }))
        .subscribe();
      flush();
      // all three calls ask at once (4 in flight); each goes 1 frame (the store) + its wait later
      expect(fake.calls.map((c) => c.at)).toEqual([1, 301, 701]);
    });
  });

  it('should forward corrections to the store, and charge twice the throttled units as a fine', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      // the first call: 5 of its 25 requests come back unprocessed, and DynamoDB reports 20 units consumed
      const fake = fakeWriteClient(
        () => scheduler.now(),
        cold,
        (call, i) => (i === 0 ? { unprocessed: (_, pk) => Number(pk) < 5, consumed: 20 } : { consumed: call.requests.length }),
      );
      const { store, log } = fakeStore(cold, []);
      const budget = capacity({ unitsPerSecond: 100, store, key: 'k' });
      from(items(25))
        .pipe(
          dynamoBatchWrite(fake.client, 'T', {
            keyAttributes: ['pk'],
            capacity: budget,
            scheduler,
            backoff: { baseDelayMs: 10, jitter: 'none' },
          }),
        )
        .subscribe();
      flush();
      expect(fake.calls.map((c) => c.requests.length)).toEqual([25, 5]);
      expect(log).toEqual(['reserve k 25 100 1000', 'correct k -5 100', 'penalize k 10 100 cut 0.7 10000 1000', 'reserve k 5 100 1000']);
      expect(budget.penalized).toBe(10);
    });
  });

  it('should charge a call refused with a throttling error to the store in full, twice', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const throttling = Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
      const fake = fakeWriteClient(
        () => scheduler.now(),
        cold,
        (_, i) => (i === 0 ? { error: throttling } : {}),
      );
      const { store, log } = fakeStore(cold, []);
      from(items(10))
        .pipe(
          dynamoBatchWrite(fake.client, 'T', {
            keyAttributes: ['pk'],
            capacity: { unitsPerSecond: 100, store, key: 'k' },
            scheduler,
            backoff: { baseDelayMs: 10, jitter: 'none' },
          }),
        )
        .subscribe();
      flush();
      expect(log.filter((l) => l.startsWith('penalize'))).toEqual(['penalize k 20 100 cut 0.7 10000 1000']);
    });
  });

  it('should charge a single-item write refused with a throttling error to the store', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const throttling = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      let n = 0;
      const client = {
        send: (command: { constructor: { name: string } }): Observable<unknown> =>
          command.constructor.name === 'DescribeTableCommand'
            ? cold('-r|', { r: { Table: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] } } })
            : n++ === 0
              ? cold('-#', {}, throttling)
              : cold('-r|', { r: { $metadata: {} } }),
      };
      const { store, log } = fakeStore(cold, []);
      from([{ item: { pk: 'a' } }])
        .pipe(dynamoPut(client, 'T', { capacity: { unitsPerSecond: 10, store }, scheduler, backoff: { baseDelayMs: 10, jitter: 'none' } }))
        .subscribe();
      flush();
      expect(log).toContain('penalize default 2 10 cut 0.7 10000 1000');
    });
  });

  it('should cut the shared rate as throttleCut says, or only fine with throttleCut: false', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const { store, log } = fakeStore(cold, []);
      capacity({ unitsPerSecond: 100, store, key: 'a', throttleCut: { factor: 0.5, recoverSeconds: 4, holdSeconds: 0 } }).throttled!(3);
      capacity({ unitsPerSecond: 100, store, key: 'b', throttleCut: false }).throttled!(3);
      flush();
      expect(log).toEqual(['penalize a 6 100 cut 0.5 4000 0', 'penalize b 6 100']);
    });
    const store: CapacityStore = { reserve: () => of(0), correct: () => of(undefined), penalize: () => of(undefined) };
    expect(() => capacity({ unitsPerSecond: 1, store, throttleCut: { factor: 1 } })).toThrow(
      /throttleCut.factor must be in \(0, 1\), got 1/,
    );
    expect(() => capacity({ unitsPerSecond: 1, store, throttleCut: { recoverSeconds: 0 } })).toThrow(
      /recoverSeconds must be a number > 0, got 0/,
    );
    expect(() => capacity({ unitsPerSecond: 1, store, throttleCut: { holdSeconds: -1 } })).toThrow(
      /holdSeconds must be a number >= 0, got -1/,
    );
  });

  it('should charge a Scan page refused with a throttling error to the store (a source slows every worker too)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const throttling = Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
      const page = (pk: string, next?: string) => ({
        Items: [{ pk: { S: pk } }],
        Count: 1,
        ScannedCount: 1,
        ConsumedCapacity: { TableName: 'T', CapacityUnits: 4 },
        ...(next ? { LastEvaluatedKey: { pk: { S: next } } } : {}),
      });
      // the first page, then a throttled attempt at the second, then the second
      const answers = [cold('-(r|)', { r: page('a', 'a') }), cold('-#', {}, throttling), cold('-(r|)', { r: page('b') })];
      const client = { send: () => answers.shift()! };
      const { store, log } = fakeStore(cold, []);
      dynamoScanPages(
        client,
        { TableName: 'T' },
        { capacity: { unitsPerSecond: 100, store, key: 's' }, scheduler, backoff: { baseDelayMs: 10, jitter: 'none' } },
      ).subscribe();
      flush();
      // the throttled attempt offered what the last page cost: 4 units, fined twice
      expect(log.filter((l) => l.startsWith('penalize'))).toEqual(['penalize s 8 100 cut 0.7 10000 1000']);
    });
  });

  it('should charge a transaction refused with a throttling error to the store', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const throttling = Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      const answers = [cold('-#', {}, throttling), cold('-(r|)', { r: { $metadata: {} } })];
      const client = { send: () => answers.shift()! };
      const { store, log } = fakeStore(cold, []);
      from([[{ table: 'T', put: { pk: 'a' } }]])
        .pipe(
          dynamoTransactWrite(client, {
            keyAttributes: { T: ['pk'] },
            capacity: { unitsPerSecond: 100, store, key: 't' },
            scheduler,
            backoff: { baseDelayMs: 10, jitter: 'none' },
          }),
        )
        .subscribe();
      flush();
      // a put of a small item costs 2 units in a transaction, fined twice
      expect(log.filter((l) => l.startsWith('penalize'))).toEqual(['penalize t 4 100 cut 0.7 10000 1000']);
    });
  });

  it('should fail the next spend when the store could not record a correction', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const down = new Error('Redis is down');
      const { store } = fakeStore(cold, [], { correctError: down });
      const budget = capacity({ unitsPerSecond: 10, store });
      budget.spend(1, use(scheduler)).subscribe();
      scheduler.flush();
      budget.correct(1);
      // (the first reservation came back at frame 1)
      expectObservable(budget.spend(1, use(scheduler))).toBe('-#', undefined, down);
    });
  });

  it('should fail a spend with the error of a reservation the store could not make', async () => {
    const down = new Error('Redis is down');
    const store: CapacityStore = { reserve: () => Promise.reject(down), correct: async () => {}, penalize: async () => {} };
    const budget = capacity({ unitsPerSecond: 10, store });
    await expect(firstValueFrom(budget.spend(1, { ...use(testScheduler()), scheduler: asyncScheduler }))).rejects.toBe(down);
  });

  it('should read fractionOfProvisioned once in this process and give the store the rate it found', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const { store, log } = fakeStore(cold, [0, 0]);
      const client = {
        send: () =>
          of({
            Table: {
              BillingModeSummary: { BillingMode: 'PROVISIONED' },
              ProvisionedThroughput: { WriteCapacityUnits: 400, ReadCapacityUnits: 0 },
            },
          }),
      };
      const budget = capacity({ fractionOfProvisioned: 0.25, store, key: 'j' });
      budget.spend(1, { ...use(scheduler), client }).subscribe();
      budget.spend(1, { ...use(scheduler), client }).subscribe();
      flush();
      expect(log).toEqual(['reserve j 1 100 1000', 'reserve j 1 100 1000']);
      expect(budget.unitsPerSecond).toBe(100);
    });
  });

  it('should refuse an empty key and a store without its methods, naming the bad value', () => {
    const store: CapacityStore = { reserve: () => of(0), correct: () => of(undefined), penalize: () => of(undefined) };
    expect(() => capacity({ unitsPerSecond: 1, store, key: '' })).toThrow(/capacity.key must be a non-empty string, got ""/);
    expect(() => capacity({ unitsPerSecond: 1, store: {} as CapacityStore })).toThrow(TypeError);
    // (a store in the options does not break the message about the rate)
    expect(() => capacity({ store })).toThrow(/exactly one of unitsPerSecond or fractionOfProvisioned.*"\[store\]"/);
  });

  it('should not charge throttling to a budget without a store', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, flush }) => {
      const fake = fakeWriteClient(
        () => scheduler.now(),
        cold,
        (_, i) => (i === 0 ? { unprocessed: () => true } : {}),
      );
      const budget = capacity({ unitsPerSecond: 50, burstSeconds: 0 });
      from(items(25))
        .pipe(
          dynamoBatchWrite(fake.client, 'T', {
            keyAttributes: ['pk'],
            capacity: budget,
            scheduler,
            backoff: { baseDelayMs: 10, jitter: 'none' },
          }),
        )
        .subscribe();
      flush();
      expect(budget.penalized).toBe(0);
      // 25 units spent, then given back (unprocessed, nothing consumed): the retry goes after its backoff alone
      expect(fake.calls.map((c) => c.at)).toEqual([0, 11]);
    });
  });
});
