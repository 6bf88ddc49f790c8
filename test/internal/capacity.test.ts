import { describe, expect, it } from 'vitest';
import { from, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { BatchWriteError, capacity, dynamoBatchWrite, dynamoBatchGet, type Progress } from 'rxjs-dynamodb';
import { fakeWriteClient } from '../helpers/fakeClient.js';

const newScheduler = () => new TestScheduler((a, e) => expect(a).toStrictEqual(e));
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ pk: `${i}` }));

describe('capacity', () => {
  it('should space calls so that the units spent per second stay within unitsPerSecond', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeWriteClient(() => scheduler.now(), cold);
      // 100 one-unit items, 25 per call, 50 units/s, no burst: a call every 500 ms
      from(items(100))
        .pipe(dynamoBatchWrite(fake.client, 'T', { keyAttributes: ['pk'], capacity: { unitsPerSecond: 50, burstSeconds: 0 }, scheduler }))
        .subscribe();
      flush();
      expect(fake.calls.map((c) => c.at)).toEqual([0, 500, 1000, 1500]);
    });
  });

  it('should let a burst of burstSeconds of units through at once, then keep the rate', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeWriteClient(() => scheduler.now(), cold);
      from(items(150))
        .pipe(dynamoBatchWrite(fake.client, 'T', { keyAttributes: ['pk'], capacity: { unitsPerSecond: 50, burstSeconds: 1 }, scheduler }))
        .subscribe();
      flush();
      expect(fake.calls.map((c) => c.at)).toEqual([0, 0, 0, 500, 1000, 1500]);
    });
  });

  it('should share one budget between the operators it is passed to', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeWriteClient(() => scheduler.now(), cold);
      const shared = capacity({ unitsPerSecond: 50, burstSeconds: 0 });
      for (const table of ['A', 'B']) {
        from(items(50))
          .pipe(dynamoBatchWrite(fake.client, table, { keyAttributes: ['pk'], capacity: shared, scheduler }))
          .subscribe();
      }
      flush();
      // four 25-unit calls between the two pipelines, one every 500 ms
      expect(fake.calls.map((c) => c.at)).toEqual([0, 500, 1000, 1500]);
      expect(shared.spent).toBe(100);
    });
  });

  it('should count an item by its size: one write unit per started KB', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeWriteClient(() => scheduler.now(), cold);
      const budget = capacity({ unitsPerSecond: 10, burstSeconds: 0 });
      // 2 items of 1,025 bytes (2 units each), one per call: the second call waits 200 ms
      const big = (pk: string) => ({ pk, pad: 'x'.repeat(1025 - 3 - 3) });
      from([big('a'), big('b')])
        .pipe(dynamoBatchWrite(fake.client, 'T', { keyAttributes: ['pk'], batchSize: 1, capacity: budget, scheduler }))
        .subscribe();
      flush();
      expect(fake.calls.map((c) => c.at)).toEqual([0, 200]);
      expect(budget.spent).toBe(4);
    });
  });

  it('should read a fraction of the provisioned units with DescribeTable, and refuse on-demand tables clearly', () => {
    const describing = (billing: 'PROVISIONED' | 'PAY_PER_REQUEST') => ({
      send: (command: { constructor: { name: string } }) =>
        command.constructor.name === 'DescribeTableCommand'
          ? of({
              Table: {
                KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
                BillingModeSummary: { BillingMode: billing },
                ProvisionedThroughput: { WriteCapacityUnits: billing === 'PROVISIONED' ? 100 : 0, ReadCapacityUnits: 0 },
              },
            })
          : of({ UnprocessedItems: {} }),
    });
    const scheduler = newScheduler();
    scheduler.run(({ flush }) => {
      const half = capacity({ fractionOfProvisioned: 0.5, burstSeconds: 0 });
      from(items(50))
        .pipe(dynamoBatchWrite(describing('PROVISIONED'), 'T', { capacity: half, scheduler }))
        .subscribe();
      flush();
      expect(half.unitsPerSecond).toBe(50);
      let error: unknown;
      from(items(1))
        .pipe(dynamoBatchWrite(describing('PAY_PER_REQUEST'), 'T', { capacity: { fractionOfProvisioned: 0.5 }, scheduler }))
        .subscribe({ error: (e) => (error = e) });
      flush();
      expect(error).toBeInstanceOf(BatchWriteError);
      expect(((error as BatchWriteError).cause as Error).message).toMatch(
        /Table T is on-demand .* fractionOfProvisioned does not apply: give capacity: \{ unitsPerSecond: N \}/,
      );
    });
  });

  it('should reject bad options when created', () => {
    expect(() => capacity({})).toThrow(/exactly one of unitsPerSecond or fractionOfProvisioned/);
    expect(() => capacity({ unitsPerSecond: 0 })).toThrow('capacity.unitsPerSecond must be a number > 0, got 0');
    expect(() => capacity({ fractionOfProvisioned: 1.5 })).toThrow('capacity.fractionOfProvisioned must be in (0, 1], got 1.5');
  });
});

describe('onProgress', () => {
  it('should report counts after every call and once at the end', () => {
    const scheduler = newScheduler();
    const reports: Progress[] = [];
    scheduler.run(({ cold, flush }) => {
      // 60 items in batches of 25, 25 and 10; the first call leaves 5 unprocessed, retried 10 ms later
      const fake = fakeWriteClient(
        () => scheduler.now(),
        cold,
        (_, i) => ({ marble: '----r|', unprocessed: (_t, pk) => i === 0 && Number(pk) < 5 }),
      );
      from(items(60))
        .pipe(
          dynamoBatchWrite(fake.client, 'T', {
            keyAttributes: ['pk'],
            backoff: { baseDelayMs: 10, jitter: 'none' },
            onProgress: (p) => reports.push(p),
            scheduler,
          }),
        )
        .subscribe();
      flush();
    });
    const last = reports.at(-1)!;
    expect(last).toMatchObject({
      taken: 60,
      done: 60,
      failed: 0,
      calls: 4,
      requestAttempts: 65,
      unprocessedAttempts: 5,
      retried: 5,
      complete: true,
      concurrency: 4,
    });
    // the three first calls answer at 4 (the first with 5 unprocessed), the retry at 18, and the end is there too
    expect(reports.filter((r) => !r.complete).map((r) => [r.elapsedMs, r.done])).toEqual([
      [4, 20],
      [4, 45],
      [4, 55],
      [18, 60],
    ]);
    expect(last.unitsConsumed).toBe(60);
    expect(last.elapsedMs).toBe(18);
  });

  it('should report reads too', () => {
    const scheduler = newScheduler();
    const reports: Progress[] = [];
    scheduler.run(({ cold, flush }) => {
      const client = { send: () => cold('-r|', { r: { Responses: { T: [] }, UnprocessedKeys: {} } }) };
      from(items(150))
        .pipe(dynamoBatchGet(client, 'T', { keyAttributes: ['pk'], onProgress: (p) => reports.push(p), scheduler }))
        .subscribe();
      flush();
    });
    expect(reports.at(-1)).toMatchObject({ taken: 150, done: 150, calls: 2, requestAttempts: 150, complete: true });
  });
});
