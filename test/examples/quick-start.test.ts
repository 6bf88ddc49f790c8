import { describe, expect, inject, it } from 'vitest';
import { quickStart } from '../../examples/quick-start.js';
import { uniqueTable } from '../helpers/tables.js';

describe('examples/quick-start.ts', () => {
  it('should write 1,000 tickets and find them all in the table', async () => {
    const outcome = await quickStart(inject('dynamoEndpoint'), uniqueTable('QuickStart'));
    expect(outcome).toEqual({ written: 1000, count: 1000 });
  });
});
