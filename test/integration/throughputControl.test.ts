import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { BatchWriteError, capacity, dynamoBatchGet, dynamoBatchWrite, dynamoParallelScan, type Progress, dynamoScan } from 'rxjs-dynamodb';
import { capacityStats, withFaults, withSimulatedCapacity } from 'rxjs-dynamodb/testing';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

const client = localClient(inject('dynamoEndpoint'));
afterAll(() => client.destroy());
const sorted = <T extends Record<string, unknown>>(list: T[]) => [...list].sort((a, b) => String(a.pk).localeCompare(String(b.pk)));
const items = (n: number, pad = 0) => Array.from({ length: n }, (_, i) => ({ pk: `item#${i}`, pad: 'x'.repeat(pad) }));

describe('throughput control on DynamoDB Local', () => {
  it('should write every item to a busy table (simulated 500 WCU/s, bucket empty) with adaptive concurrency, losing few attempts', async () => {
    const table = await createTable(client, uniqueTable('Adaptive'));
    const sim = withSimulatedCapacity(client, { writeUnitsPerSecond: 500, burstSeconds: 1, startEmpty: true });
    let last: Progress | undefined;
    const reasons = new Set<string>();
    await lastValueFrom(
      from(items(2_000, 900)).pipe(
        dynamoBatchWrite(sim, table, {
          concurrency: 'adaptive',
          maxConcurrency: 8,
          maxAttempts: 30,
          onProgress: (p) => {
            last = p;
            if (p.rate) reasons.add(p.rate.reason);
          },
        }),
        toArray(),
      ),
    );
    expect(sorted(await scanAll(client, table))).toEqual(sorted(items(2_000, 900)));
    expect(last).toMatchObject({ taken: 2_000, done: 2_000, failed: 0, complete: true });
    expect(capacityStats(sim).writeRequestsThrottled).toBeGreaterThan(0); // it did meet the limit
    // (the bench measures 2-4 % at 2,000 units/s, a fixed concurrency of 8 over 50 %; at 500 units/s, 8 calls of 25
    // units in flight are 0.4 s of the capacity, and with the whole suite running alongside one run lost 14 %)
    expect(last!.unprocessedAttempts / last!.requestAttempts).toBeLessThan(0.25);
    expect(reasons.has('starting')).toBe(true);
    expect(reasons.has('holding')).toBe(true); // it cut when the table pushed back
    expect(last!.rate!.unitsPerSecond).toBeGreaterThan(250);
    expect(last!.rate!.unitsPerSecond).toBeLessThan(1_500);
  });

  it('should not collapse when 30 % of requests come back unprocessed at random with no capacity limit', async () => {
    const table = await createTable(client, uniqueTable('AdaptiveFaults'));
    const faulty = withFaults(client, { unprocessedRate: 0.3, seed: 11 });
    let last: Progress | undefined;
    await lastValueFrom(
      from(items(6_000)).pipe(
        dynamoBatchWrite(faulty, table, { concurrency: 'adaptive', maxConcurrency: 8, maxAttempts: 100, onProgress: (p) => (last = p) }),
        toArray(),
      ),
    );
    expect((await scanAll(client, table)).length).toBe(6_000);
    const share = last!.unprocessedAttempts / last!.requestAttempts;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
    // the loss was learned as not the table's: the rate went back up (before, each lossy window cut it, down to a few
    // units per second)
    expect(last!.rate!.unitsPerSecond).toBeGreaterThan(5_000);
  });

  it('should read every key and scan every item of a busy table with adaptive throughput, every value exactly', async () => {
    const table = await createTable(client, uniqueTable('AdaptiveReads'));
    // values that could change on the way: 38 digits, a 64-bit id, a decimal beyond a double, a set, binary, non-BMP text
    const written = items(3_000, 1_000).map((item, i) => ({
      ...item,
      digits38: 12_345_678_901_234_567_890_123_456_789_012_345_670n + BigInt(i % 10), // integers come back as bigint
      id64: 18_446_744_073_709_551_615n - BigInt(i),
      decimal: NumberValue.from(`0.1234567890123456789012${i}7`),
      tags: new Set(['a', `🦄${i}`]),
      bytes: new Uint8Array([0, 255, i % 256]),
      text: `𝄞 ${i}`,
    }));
    await lastValueFrom(from(written).pipe(dynamoBatchWrite(client, table, { concurrency: 8 }), toArray()));
    const sim = withSimulatedCapacity(client, { readUnitsPerSecond: 600, burstSeconds: 1, startEmpty: true });
    let last: Progress | undefined;
    const got = await lastValueFrom(
      from(written.map(({ pk }) => ({ pk }))).pipe(
        dynamoBatchGet(sim, table, { concurrency: 'adaptive', maxConcurrency: 8, maxAttempts: 100, onProgress: (p) => (last = p) }),
        toArray(),
      ),
    );
    expect(sorted(got)).toEqual(sorted(written));
    expect(last!.rate).toBeDefined();
    const scanned = await lastValueFrom(
      dynamoParallelScan(sim, { TableName: table, Limit: 200 }, { totalSegments: 3, throughput: 'adaptive', maxAttempts: 100 }).pipe(
        toArray(),
      ),
    );
    expect(sorted(scanned)).toEqual(sorted(written));
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
    const scanned = await lastValueFrom(dynamoScan(client, { TableName: table, Limit: 100 }, { capacity: reads }).pipe(toArray()));
    expect(got).toHaveLength(300);
    expect(scanned).toHaveLength(300);
    expect(reads.spent).toBeGreaterThan(150);
    expect((Date.now() - started) / 1000).toBeGreaterThan(1.2);
  });
});
