import { describe, expect, it } from 'vitest';
import { tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { backpressure, dynamoBatchGet, dynamoBatchWrite, scan } from 'rxjs-dynamodb';
import { fakeScanClient } from '../helpers/fakeScanClient.js';

const newScheduler = () => new TestScheduler((a, e) => expect(a).toStrictEqual(e));
const page = (n: number) => [{ pk: `${n}a` }, { pk: `${n}b` }];

describe('backpressure', () => {
  it('should not ask for a page while the sink has highWaterMark items not yet written', () => {
    const scheduler = newScheduler();
    const pending: number[] = [];
    scheduler.run(({ cold, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, [page(0), page(1), page(2), page(3)], { writeMarble: '-----r|' });
      const link = backpressure({ highWaterMark: 3 });
      scan(fake.client, { TableName: 'T' }, { backpressure: link })
        .pipe(
          tap(() => pending.push(link.pending)),
          dynamoBatchWrite(fake.client, 'Copy', { backpressure: link, keyAttributes: ['pk'], batchSize: 2, scheduler }),
        )
        .subscribe();
      flush();
      // page 0 at 0 (answer 2): 2 pending < 3, so page 1 at 2 (answer 4): 4 pending. Page 2 waits — without the link it
      // would be asked for at 4 — until the first write (2 → 7) settles 2 items at 7; it answers at 9, when the
      // second write (4 → 9) settles too, so page 3 follows at once.
      expect(fake.scans.map((s) => s.at)).toEqual([0, 2, 7, 9]);
      expect(fake.writes.map((w) => [w.at, w.count])).toEqual([
        [2, 2],
        [4, 2],
        [9, 2],
        [11, 2],
      ]);
      expect(Math.max(...pending)).toBeLessThanOrEqual(3 + 2 - 1);
      expect(link.pending).toBe(0);
    });
  });

  it('should release what link.filter drops, so the source does not wait for it', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, flush }) => {
      const fake = fakeScanClient(() => scheduler.now(), cold, [page(0), page(1), page(2)]);
      const link = backpressure({ highWaterMark: 1 });
      let seen = 0;
      scan(fake.client, { TableName: 'T' }, { backpressure: link })
        .pipe(link.filter(() => false))
        .subscribe(() => seen++);
      flush();
      expect(seen).toBe(0);
      expect(fake.scans.map((s) => s.at)).toEqual([0, 2, 4]);
      expect(link.pending).toBe(0);
    });
  });

  // regression (review of issue 3): items waiting in an open batch that is not full held the link at its mark for ever
  it.each([
    ['a highWaterMark under the batch size', 10, (i: number) => `${i}`, 'write'],
    ['keys repeated within the open batch', 25, (i: number) => `${i % 20}`, 'write'],
    ['a get sink with a highWaterMark under 100 keys', 50, (i: number) => `${i}`, 'get'],
  ] as const)('should not stall with %s: the sink closes its open batches when the source waits', (_, highWaterMark, pk, sink) => {
    const scheduler = newScheduler();
    let completed = false;
    const link = backpressure({ highWaterMark });
    let fake!: ReturnType<typeof fakeScanClient>;
    scheduler.run(({ cold, flush }) => {
      const pages = Array.from({ length: 20 }, (_, p) => Array.from({ length: 5 }, (_, i) => ({ pk: pk(p * 5 + i) })));
      fake = fakeScanClient(() => scheduler.now(), cold, pages);
      const options = { backpressure: link, keyAttributes: ['pk'], scheduler };
      scan(fake.client, { TableName: 'T' }, { backpressure: link })
        .pipe(sink === 'write' ? dynamoBatchWrite(fake.client, 'Copy', options) : dynamoBatchGet(fake.client, 'Copy', options))
        .subscribe({ complete: () => (completed = true) });
      flush();
    });
    expect(completed).toBe(true);
    expect(fake.scans).toHaveLength(20);
    expect(link.pending).toBe(0);
    expect(fake.writes.every((w) => w.count <= highWaterMark)).toBe(true);
  });

  it('should reject a bad highWaterMark', () => {
    expect(() => backpressure({ highWaterMark: 0 })).toThrow('highWaterMark must be an integer >= 1, got 0');
  });
});
