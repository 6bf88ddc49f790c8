import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { from, lastValueFrom } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { storeKey } from '../../src/cli/checkpoint.js';
import { statusExit, summarize, type UnitStatus, unitState } from '../../src/cli/statusCommand.js';
import { recordProgress, startRun, unitId, unitOf } from '../../src/cli/unitQueue.js';
import { advanceUnit, type JobSpec, makeUnits, runUnit, unitCheckpoint, type WorkUnit } from '../../src/cli/units.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

const spec: JobSpec = { jobId: 'copy-1', kind: 'copy', from: 'A', to: 'B', totalSegments: 4, options: { key: ['pk'], pageSize: 10 } };
const cursor = { pk: { S: 'item#5' }, n: { N: '12345678901234567890123456789012345678' } };
const tally = { read: 30, done: 0, written: 25, failed: 2, skipped: 3 };

describe('work units (issue 14)', () => {
  it('should cut a job into one unit per segment, each from the start', () => {
    const units = makeUnits(spec);
    expect(units).toHaveLength(4);
    expect(units.map((u) => u.segment)).toEqual([0, 1, 2, 3]);
    expect(units[2]).toEqual({ ...spec, segment: 2 });
    expect(units.some((u) => 'cursor' in u || 'done' in u)).toBe(false);
    // plain JSON: it survives a round trip unchanged
    expect(JSON.parse(JSON.stringify(units))).toEqual(units);
  });

  it('should refuse a number of segments that is not an integer >= 1, naming it', () => {
    expect(() => makeUnits({ ...spec, totalSegments: 0 })).toThrow('got 0');
    expect(() => makeUnits({ ...spec, totalSegments: 2.5 })).toThrow('got 2.5');
  });

  it('should run a unit from its cursor: the other segments done, its own from the cursor', () => {
    const unit: WorkUnit = { ...spec, segment: 1, cursor };
    expect(unitCheckpoint(unit)).toEqual({
      command: 'copy',
      table: 'A',
      totalSegments: 4,
      segments: [{ done: true }, { startKey: cursor, done: false }, { done: true }, { done: true }],
      complete: false,
    });
    expect(unitCheckpoint({ ...spec, segment: 3 }).segments[3]).toEqual({ done: false });
    expect(unitCheckpoint({ ...spec, segment: 0, cursor, done: true })).toMatchObject({
      segments: [{ done: true }, {}, {}, {}],
      complete: true,
    });
    expect(() => unitCheckpoint({ ...spec, segment: 4 })).toThrow('got 4');
  });

  it('should move a unit to a new cursor, and to done, keeping every digit of the key', () => {
    const unit: WorkUnit = { ...spec, segment: 1 };
    const moved = advanceUnit(unit, { cursor, done: false });
    expect(moved.cursor).toEqual(cursor);
    expect(unit.cursor).toBeUndefined(); // unchanged
    const done = advanceUnit(moved, { done: true });
    expect(done.done).toBe(true);
    expect(done).not.toHaveProperty('cursor');
    expect(JSON.parse(JSON.stringify(moved)).cursor.n.N).toBe('12345678901234567890123456789012345678');
  });

  it('should record each run with the cursor it started from, and its tally as it goes', () => {
    const first = startRun({ ...spec, segment: 0 }, 'host:1', 1, 1000);
    expect(first.runs).toEqual([
      { worker: 'host:1', pid: 1, startedAt: 1000, updatedAt: 1000, startCursor: null, read: 0, written: 0, failed: 0, skipped: 0 },
    ]);
    const progressed = recordProgress(first, { cursor, done: false }, tally, 1500);
    expect(progressed.cursor).toEqual(cursor);
    expect(progressed.runs![0]).toMatchObject({ updatedAt: 1500, read: 30, written: 25, failed: 2, skipped: 3 });
    // the worker died; the next run starts from the saved cursor
    const second = startRun(progressed, 'host:2', 2, 9000);
    expect(second.runs).toHaveLength(2);
    expect(second.runs![1]).toMatchObject({ worker: 'host:2', startCursor: cursor, written: 0 });
    expect(unitOf(second)).toEqual({ ...spec, segment: 0, cursor });
    expect(unitId('copy-1', 7)).toBe('copy-1-7');
  });

  it('should sum units into a status and its exit code: 0 all done, 1 some failed, 4 not finished', () => {
    expect([unitState('completed'), unitState('failed'), unitState('active'), unitState('delayed'), unitState('waiting')]).toEqual([
      'done',
      'failed',
      'running',
      'waiting',
      'waiting',
    ]);
    const run = (worker: string, startedAt: number, updatedAt: number, written: number) => ({
      worker,
      pid: 1,
      startedAt,
      updatedAt,
      startCursor: null,
      read: written,
      written,
      failed: 0,
      skipped: 0,
    });
    const unit = (state: UnitStatus['state'], written: number, worker = 'a'): UnitStatus => ({
      segment: 0,
      state,
      runs: [run(worker, 0, 2000, written)],
      read: written,
      written,
      failed: 0,
      deadLetterCount: 0,
    });
    const done = summarize([unit('done', 1000), unit('done', 3000, 'b')]);
    expect(done).toMatchObject({ units: 2, done: 2, written: 4000, rate: 2000, workers: 2 });
    expect(statusExit(done)).toBe(0);
    expect(statusExit(summarize([unit('done', 1), unit('failed', 1)]))).toBe(1);
    expect(statusExit(summarize([unit('done', 1), unit('running', 1)]))).toBe(4);
    expect(statusExit(summarize([unit('waiting', 0)]))).toBe(4);
    // every unit done, but an earlier run of one dead-lettered items (it was stopped after them): not all written
    const deadLettered = { ...unit('done', 39), failed: 1, deadLetterCount: 1 };
    expect(statusExit(summarize([unit('done', 1000), deadLettered]))).toBe(1);
  });

  it('should write only the items after the cursor when a unit runs from one (DynamoDB Local)', async () => {
    const client = localClient(inject('dynamoEndpoint'));
    const source = await createTable(client, uniqueTable('unitFrom'));
    const target = await createTable(client, uniqueTable('unitTo'));
    const items = Array.from({ length: 200 }, (_, i) => ({ pk: `item#${i}`, n: i }));
    await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, source)), { defaultValue: undefined });
    const firstPage = await client.send(new ScanCommand({ TableName: source, Limit: 50 }));
    const before = new Set(firstPage.Items!.map((i) => i.pk!.S!));
    const unit: WorkUnit = {
      jobId: 'j',
      kind: 'copy',
      from: source,
      to: target,
      segment: 0,
      totalSegments: 1,
      options: { key: ['pk'], pageSize: 30 },
      cursor: storeKey({ pk: firstPage.LastEvaluatedKey!.pk!.S! }),
    };
    const cursors: unknown[] = [];
    const result = await runUnit(unit, { client, onCursor: (p) => cursors.push(p) });
    expect(result).toMatchObject({ outcome: 'complete', position: { done: true }, tally: { read: 150, written: 150, failed: 0 } });
    expect(cursors.at(-1)).toEqual({ done: true });
    // the cursor moved within the segment before it was done (how many times depends on how the pages' writes
    // settle together: 5 pages of 30, batches of 25)
    expect(
      cursors.slice(0, -1).some((c) => (c as { cursor?: unknown; done: boolean }).cursor !== undefined && !(c as { done: boolean }).done),
    ).toBe(true);
    const written = await scanAll(client, target);
    expect(written).toHaveLength(150);
    expect(written.filter((i) => before.has(i.pk as string))).toEqual([]);
    // a unit that is done does nothing
    expect((await runUnit({ ...unit, done: true }, { client })).tally.read).toBe(0);
    client.destroy();
  });

  it('should hand the items that fail to onDeadLetter, and settle them', async () => {
    const client = localClient(inject('dynamoEndpoint'));
    const source = await createTable(client, uniqueTable('unitDlFrom'));
    const target = await createTable(client, uniqueTable('unitDlTo'));
    await lastValueFrom(from(Array.from({ length: 40 }, (_, i) => ({ pk: `item#${i}` }))).pipe(dynamoBatchWrite(client, source)), {
      defaultValue: undefined,
    });
    const dead: unknown[] = [];
    const result = await runUnit(
      { jobId: 'j', kind: 'copy', from: source, to: target, segment: 0, totalSegments: 1, options: { key: ['pk'] } },
      {
        client,
        transform: (item) => {
          if (item.pk === 'item#7') throw new Error('no 7');
          return item;
        },
        onDeadLetter: (record) => dead.push(record),
      },
    );
    expect(result.tally).toMatchObject({ read: 40, written: 39, failed: 1 });
    expect(dead).toEqual([{ segment: 0, error: { name: 'Error', message: 'no 7' }, item: { pk: 'item#7' } }]);
    expect(result.position).toEqual({ done: true });
    client.destroy();
  });
});
