import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { UnitData } from '../../src/cli/unitQueue.js';
import { jobBudgets } from '../../src/cli/workerCommand.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.quit());

const unit = (jobId: string, segment: number, capacity?: number): UnitData => ({
  jobId,
  kind: 'copy',
  from: 'A',
  to: 'B',
  segment,
  totalSegments: 4,
  options: { key: ['pk'], ...(capacity !== undefined ? { capacity } : {}) },
});

describe("a worker's shared budgets", () => {
  it("should hold a job's budgets while a unit of it runs, one pair for all of its units, and let go with the last", () => {
    const budgets = jobBudgets(redis, 'budgets-test');
    const a0 = budgets.take(unit('job-a', 0, 100))!;
    const a1 = budgets.take(unit('job-a', 1, 100))!;
    const b0 = budgets.take(unit('job-b', 0, 50))!;
    // one pair per job: the units of a job spend from the same budgets
    expect(a1.write).toBe(a0.write);
    expect(a1.read).toBe(a0.read);
    expect(b0.write).not.toBe(a0.write);
    expect(a0.write.unitsPerSecond).toBe(100);
    expect(b0.read.unitsPerSecond).toBe(50);
    expect(budgets.size).toBe(2);
    // a job without --capacity has none, and holds nothing
    expect(budgets.take(unit('job-c', 0))).toBeUndefined();
    budgets.release(unit('job-c', 0));
    expect(budgets.size).toBe(2);
    budgets.release(unit('job-a', 0));
    expect(budgets.size).toBe(2);
    budgets.release(unit('job-a', 1));
    budgets.release(unit('job-b', 0));
    // a long-lived worker keeps nothing of the jobs it no longer runs
    expect(budgets.size).toBe(0);
    // a later unit of a job gets a fresh pair (on the same Redis bucket)
    const again = budgets.take(unit('job-a', 2, 100))!;
    expect(again.write).not.toBe(a0.write);
    expect(again.write.options.key).toBe(a0.write.options.key);
  });
});
