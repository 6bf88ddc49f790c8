import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { BatchWriteError, capacity, dynamoBatchGet, dynamoBatchWrite, type Progress, scan } from 'rxjs-dynamodb';
import { capacityStats, withSimulatedCapacity } from 'rxjs-dynamodb/testing';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

const client = localClient(inject('dynamoEndpoint'));
afterAll(() => client.destroy());
const items = (n: number, pad = 0) => Array.from({ length: n }, (_, i) => ({ pk: `item#${i}`, pad: 'x'.repeat(pad) }));

describe('throughput control on DynamoDB Local', () => {
  it('should write every item under simulated 500 WCU/s with adaptive concurrency, and few throttled attempts', async () => {
    const table = await createTable(client, uniqueTable('Adaptive'));
    const sim = withSimulatedCapacity(client, { writeUnitsPerSecond: 500, burstSeconds: 1 });
    let last: Progress | undefined;
    await lastValueFrom(
      from(items(2_000, 900)).pipe(
        dynamoBatchWrite(sim, table, { concurrency: 'adaptive', maxAttempts: 30, onProgress: (p) => (last = p) }),
        toArray(),
      ),
    );
    expect((await scanAll(client, table)).length).toBe(2_000);
    expect(last).toMatchObject({ taken: 2_000, done: 2_000, failed: 0, complete: true });
    expect(capacityStats(sim).writeRequestsThrottled).toBeGreaterThan(0); // it did meet the limit
    expect(last!.unprocessedAttempts / last!.requestAttempts).toBeLessThan(0.2);
  });

  it('should spend a fraction of the provisioned write units, read with DescribeTable', async () => {
    const table = uniqueTable('Provisioned');
    await client.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 400 },
      }),
    );
    const half = capacity({ fractionOfProvisioned: 0.5, burstSeconds: 0 });
    const started = Date.now();
    await lastValueFrom(from(items(400)).pipe(dynamoBatchWrite(client, table, { capacity: half }), toArray()));
    const seconds = (Date.now() - started) / 1000;
    expect(half.unitsPerSecond).toBe(200);
    // 400 one-unit items at 200 units/s: the last call may start after 375 units, at 1.875 s
    expect(seconds).toBeGreaterThan(1.8);
    expect((await scanAll(client, table)).length).toBe(400);
  });

  it('should refuse fractionOfProvisioned on an on-demand table, saying why', async () => {
    const table = await createTable(client, uniqueTable('OnDemand'));
    const error = await lastValueFrom(
      from(items(3)).pipe(dynamoBatchWrite(client, table, { capacity: { fractionOfProvisioned: 0.5 } })),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BatchWriteError);
    expect(((error as BatchWriteError).cause as Error).message).toMatch(
      /is on-demand .*fractionOfProvisioned does not apply: give capacity: \{ unitsPerSecond: N \}/,
    );
    expect((error as BatchWriteError).unprocessed).toHaveLength(3);
    expect(await scanAll(client, table)).toEqual([]);
  });

  it('should pace reads and a scan with a shared read budget', async () => {
    const table = await createTable(client, uniqueTable('ReadBudget'));
    await lastValueFrom(from(items(300)).pipe(dynamoBatchWrite(client, table), toArray()));
    const reads = capacity({ unitsPerSecond: 100, burstSeconds: 0 });
    const started = Date.now();
    // 300 keys, eventually consistent: 150 units at 100/s, then a scan page of about 300 small items
    const got = await lastValueFrom(
      from(items(300).map(({ pk }) => ({ pk }))).pipe(dynamoBatchGet(client, table, { capacity: reads }), toArray()),
    );
    const scanned = await lastValueFrom(scan(client, { TableName: table, Limit: 100 }, { capacity: reads }).pipe(toArray()));
    expect(got).toHaveLength(300);
    expect(scanned).toHaveLength(300);
    expect(reads.spent).toBeGreaterThan(150);
    expect((Date.now() - started) / 1000).toBeGreaterThan(1.2);
  });
});
