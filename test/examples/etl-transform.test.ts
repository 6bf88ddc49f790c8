import { describe, expect, inject, it } from 'vitest';
import { etlTransform, legacyRows, transform, type LegacyRow } from '../../examples/etl-transform.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll, uniqueTable } from '../helpers/tables.js';

describe('examples/etl-transform.ts', () => {
  it('should write the valid rows, transformed, and send every invalid row to the dead-letter stream with its reason', async () => {
    const { table, written, deadLetters } = await etlTransform(inject('dynamoEndpoint'), uniqueTable('Etl'), legacyRows(2_000));

    // the generator's bad rows: no subject every 97th (from 0), 31 February every 89th (from 5), state X every 113th (from 7)
    const bad = Array.from({ length: 2_000 }, (_, i) => i).filter((i) => i % 97 === 0 || i % 89 === 5 || i % 113 === 7);
    expect(bad.length).toBe(62);
    expect(written).toBe(2_000 - bad.length);
    expect(deadLetters.map((d) => Number((d.row as LegacyRow).ticket_no) - 1)).toEqual(bad);
    expect(deadLetters.every((d) => d.stage === 'validate')).toBe(true);
    expect(deadLetters.find((d) => (d.row as LegacyRow).ticket_no === '1')?.reason).toBe('subject is empty');
    expect(deadLetters.find((d) => (d.row as LegacyRow).ticket_no === '6')?.reason).toBe('opened "31/02/2026" is not a DD/MM/YYYY date');
    expect(deadLetters.find((d) => (d.row as LegacyRow).ticket_no === '8')?.reason).toBe('unknown state "X" (expected O or R)');

    const client = localClient(inject('dynamoEndpoint'));
    const items = await scanAll(client, table);
    client.destroy();
    expect(items.length).toBe(2_000 - bad.length);
    const byId = new Map(items.map((item) => [item.id, item]));
    expect(byId.get('T-000002')).toEqual({
      id: 'T-000002',
      queue: 'hardware',
      status: 'open',
      openedAt: '2025-02-02T00:00:00.000Z',
      title: 'Subject of ticket 2',
    });
    expect(byId.get('T-000005')).toEqual({
      id: 'T-000005',
      queue: 'hardware',
      status: 'resolved',
      openedAt: '2025-05-05T00:00:00.000Z',
      title: 'Subject of ticket 5',
    });
    for (const i of bad) expect(byId.has(`T-${String(i + 1).padStart(6, '0')}`)).toBe(false);
  });

  it('should send a row that DynamoDB rejects (an item over 400 KB) to the dead-letter stream, and write the others', async () => {
    const row: LegacyRow = { ticket_no: '1', queue: 'billing', state: 'O', opened: '01/01/2025', subject: 'Small' };
    const huge = { ...row, ticket_no: '2', subject: 'x'.repeat(410_000) };
    const { table, written, deadLetters } = await etlTransform(inject('dynamoEndpoint'), uniqueTable('Etl'), [row, huge]);
    expect(written).toBe(1);
    expect(deadLetters).toEqual([{ stage: 'write', row: transform(huge), reason: expect.stringContaining('InvalidRequestError') }]);
    const client = localClient(inject('dynamoEndpoint'));
    expect((await scanAll(client, table)).map((item) => item.id)).toEqual(['T-000001']);
    client.destroy();
  });

  it('should reject rows with a bad ticket number, state, date or subject', () => {
    const row: LegacyRow = { ticket_no: '12', queue: ' Network ', state: 'O', opened: '29/02/2024', subject: ' Wi-Fi ' };
    expect(transform(row)).toEqual({
      id: 'T-000012',
      queue: 'network',
      status: 'open',
      openedAt: '2024-02-29T00:00:00.000Z',
      title: 'Wi-Fi',
    });
    expect(transform({ ...row, ticket_no: 'A12' })).toEqual({ reason: 'ticket_no "A12" is not a number' });
    expect(transform({ ...row, state: 'closed' })).toEqual({ reason: 'unknown state "closed" (expected O or R)' });
    expect(transform({ ...row, opened: '29/02/2025' })).toEqual({ reason: 'opened "29/02/2025" is not a DD/MM/YYYY date' });
    expect(transform({ ...row, opened: '2024-02-29' })).toEqual({ reason: 'opened "2024-02-29" is not a DD/MM/YYYY date' });
    expect(transform({ ...row, subject: '' })).toEqual({ reason: 'subject is empty' });
  });
});
