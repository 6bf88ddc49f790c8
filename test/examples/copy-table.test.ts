import { describe, expect, inject, it } from 'vitest';
import { copyTable } from '../../examples/copy-table.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll } from '../helpers/tables.js';

describe('examples/copy-table.ts', () => {
  it('should copy every ticket, transformed, into the new table', async () => {
    const { source, target, copied } = await copyTable(inject('dynamoEndpoint'), `${process.pid}-${Date.now()}`);
    expect(copied).toBe(3_000);
    const client = localClient(inject('dynamoEndpoint'));
    const before = await scanAll(client, source);
    const after = await scanAll(client, target);
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));
    expect(after.sort(byId)).toEqual(before.map((t) => ({ ...t, title: String(t.title).toUpperCase(), schema: 2 })).sort(byId));
    client.destroy();
  });
});
