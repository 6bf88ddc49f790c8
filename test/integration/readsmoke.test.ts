import { describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { backpressure, dynamoBatchGet, dynamoBatchWrite, dynamoLookup, parallelScan, scan } from 'rxjs-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';

describe('read smoke', () => {
  it('should read back', async () => {
    const client = localClient(inject('dynamoEndpoint'));
    const table = await createTable(client, uniqueTable('ReadSmoke'));
    const items = Array.from({ length: 3000 }, (_, i) => ({ pk: `t#${i}`, n: i, name: `n${i}` }));
    await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, table), toArray()));
    const got = await lastValueFrom(from([...items.map((i) => ({ pk: i.pk })), { pk: 'missing' }, { pk: 't#1' }]).pipe(dynamoBatchGet(client, table, { projection: ['name'] }), toArray()));
    expect(got.length).toBe(3001);
    expect(got.find((g) => g.pk === 't#5')).toEqual({ pk: 't#5', name: 'n5' });
    const looked = await lastValueFrom(from([{ pk: 't#9' }, { pk: 'gone' }, { pk: 't#1' }]).pipe(dynamoLookup(client, table), toArray()));
    expect(looked.map((l) => l.item?.n)).toEqual([9, undefined, 1]);
    const scanned = await lastValueFrom(scan(client, { TableName: table }).pipe(toArray()));
    expect(scanned.length).toBe(3000);
    const par = await lastValueFrom(parallelScan(client, { TableName: table }, { totalSegments: 4 }).pipe(toArray()));
    expect(new Set(par.map((p) => p.pk)).size).toBe(3000);
    const target = await createTable(client, uniqueTable('Copy'));
    const link = backpressure({ highWaterMark: 500 });
    await lastValueFrom(scan(client, { TableName: table, Limit: 100 }, { backpressure: link }).pipe(dynamoBatchWrite(client, target, { backpressure: link }), toArray()));
    expect(link.pending).toBe(0);
    expect((await lastValueFrom(scan(client, { TableName: target }).pipe(toArray()))).length).toBe(3000);
  });
});
