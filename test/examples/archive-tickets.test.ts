import { describe, expect, inject, it } from 'vitest';
import { archiveTickets } from '../../examples/archive-tickets.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll, uniqueTable } from '../helpers/tables.js';

describe('examples/archive-tickets.ts', () => {
  it('should delete the 1,000 resolved tickets in batches of at most 25 and leave only the open ones', async () => {
    const { table, deleted, batchSizes } = await archiveTickets(inject('dynamoEndpoint'), uniqueTable('Archive'));
    expect(deleted).toBe(1_000);
    expect(Math.max(...batchSizes)).toBe(25);
    expect(batchSizes.reduce((n, size) => n + size, 0)).toBe(1_000);

    const client = localClient(inject('dynamoEndpoint'));
    const left = await scanAll(client, table);
    client.destroy();
    const open = Array.from({ length: 3_000 }, (_, i) => i)
      .filter((i) => i % 3 !== 0)
      .map((i) => ({ id: `ticket#${i}`, title: `Ticket ${i}`, status: 'open' }));
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));
    expect(left.sort(byId)).toEqual(open.sort(byId));
  });
});
