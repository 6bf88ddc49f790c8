import { describe, expect, inject, it } from 'vitest';
import { loadDashboard } from '../../examples/load-dashboard.js';
import { uniqueTable } from '../helpers/tables.js';

describe('examples/load-dashboard.ts', () => {
  it('should load 50 tickets in queue order and name the gone ones', async () => {
    const { order, gone, titles } = await loadDashboard(inject('dynamoEndpoint'), uniqueTable('Dashboard'));
    const queue = Array.from({ length: 50 }, (_, i) => `ticket#${(i * 7) % 200}`);
    expect(order).toEqual(queue);
    expect(gone).toEqual(['ticket#7', 'ticket#42']);
    expect(titles[2]).toBe('Ticket 14');
    expect(titles[1]).toBeUndefined();
  });
});
