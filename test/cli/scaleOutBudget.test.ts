/**
 * Issue 14, part 3 through the command line: the workers of one job share its `--capacity` through Redis, so four
 * of them together write at the budget's rate — well below what they could do — not four times it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lastValueFrom, map, range } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { UnitData } from '../../src/cli/unitQueue.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli } from './helpers.js';

let client: DynamoDBClient;
let endpoint: string;
let redisUrl: string;
beforeAll(async () => {
  endpoint = inject('dynamoEndpoint');
  redisUrl = inject('redisUrl');
  client = localClient(endpoint);
  await ensureBuilt();
}, 180_000);
afterAll(() => {
  client.destroy();
  removeTempDirs();
});

const ITEMS = 12_000;
const BUDGET = 1_000; // write units per second, for the whole job; four workers copy ~6,000 items/s here unbounded

describe('rxjs-dynamodb worker: one budget for every worker of a job (issue 14)', () => {
  it(`should keep four workers together within 5 % of the job's --capacity ${BUDGET}`, async () => {
    const source = await createTable(client, uniqueTable('budgetFrom'));
    const target = await createTable(client, uniqueTable('budgetTo'));
    const queue = `budget-${Date.now().toString(36)}`;
    await lastValueFrom(
      range(0, ITEMS).pipe(
        map((i) => ({ pk: `item#${i}`, n: 2n ** 63n + BigInt(i) })), // well under 1 KB: one write unit each
        dynamoBatchWrite(client, source, { concurrency: 8 }),
      ),
      { defaultValue: undefined },
    );
    const redis = ['--redis', redisUrl, '--queue', queue];
    const submitted = await runCli(
      ['submit', 'copy', '--from', source, '--to', target, '--segments', '16', '--page-size', '100', '--capacity', String(BUDGET)].concat(
        ['--endpoint', endpoint, '--json'],
        redis,
      ),
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const { jobId } = jsonSummary(submitted.stdout) as { jobId: string };
    const workers = Array.from({ length: 4 }, () =>
      startCli(['worker', ...redis, '--endpoint', endpoint, '--concurrency', '2', '--save-ms', '100']),
    );
    const status = await runCli(['status', jobId, ...redis, '--watch', '--interval', '0.5', '--json']);
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.done));
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const summary = jsonSummary(status.stdout) as {
      written: number;
      workers: number;
      unitStatus: Array<{ runs: NonNullable<UnitData['runs']> }>;
    };
    expect(summary.written).toBe(ITEMS);
    expect(summary.workers).toBe(4);
    // from the first unit's start to the last save: the budget's burst (1 s of units) is spent at once, the rest at its rate
    const runs = summary.unitStatus.flatMap((u) => u.runs);
    const seconds = (Math.max(...runs.map((r) => r.updatedAt)) - Math.min(...runs.map((r) => r.startedAt))) / 1000;
    const rate = (ITEMS - BUDGET) / seconds;
    process.stderr.write(
      `shared budget: ${ITEMS} items by 4 workers in ${seconds.toFixed(2)} s: ${rate.toFixed(0)} units/s after the burst, budget ${BUDGET}\n`,
    );
    expect(Math.abs(rate - BUDGET) / BUDGET).toBeLessThan(0.05);
  }, 180_000);
});
