import { asyncScheduler, lastValueFrom, of } from 'rxjs';
import { capacity, dynamoScanPages } from 'rxjs-dynamodb';
import { describe, expect, it } from 'vitest';

describe('a source under a capacity budget (review of issue 14)', () => {
  it('should charge the last page to the budget too, so that a scan of one page does not read for free', async () => {
    const client = {
      send: () => of({ Items: [{ pk: { S: 'a' } }], Count: 1, ScannedCount: 1, ConsumedCapacity: { TableName: 'T', CapacityUnits: 7.5 } }),
    };
    const budget = capacity({ unitsPerSecond: 1_000 });
    budget.spend(1, { client, table: 'T', kind: 'read', scheduler: asyncScheduler }).subscribe(); // the bucket is in use
    const before = budget.spent;
    await lastValueFrom(dynamoScanPages(client, { TableName: 'T' }, { capacity: budget }));
    expect(budget.spent - before).toBe(7.5);
  });
});
