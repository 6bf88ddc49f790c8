import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { changeFeed, project, type Order } from '../../examples/change-feed.js';
import { removeTempDirs, tempDir } from '../cli/helpers.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll, uniqueTable } from '../helpers/tables.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
afterAll(() => removeTempDirs());

/** Both tables as they are: the projection must be exactly what the orders say. */
async function tables(orders: string, byCustomer: string) {
  const client = localClient(inject('dynamoEndpoint'));
  const [o, p] = [await scanAll(client, orders), await scanAll(client, byCustomer)];
  client.destroy();
  return { orders: o, projections: p };
}
const byOrder = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.order).localeCompare(String(b.order));

describe('examples/change-feed.ts', () => {
  it('should apply each run only the changes since the last checkpoint, leaving the projection exactly as the orders', async () => {
    const [orders, byCustomer] = [uniqueTable('Orders'), uniqueTable('ByCustomer')];
    const checkpoint = join(tempDir(), 'feed.json');
    // each run places three orders, ships one, cancels (deletes) one and moves one to another customer: six changes
    expect(await changeFeed(inject('dynamoEndpoint'), orders, byCustomer, checkpoint)).toEqual({ changes: 6, removed: 1 });
    expect(await changeFeed(inject('dynamoEndpoint'), orders, byCustomer, checkpoint)).toEqual({ changes: 6, removed: 1 });
    const { orders: now, projections } = await tables(orders, byCustomer);
    expect(now).toHaveLength(4);
    // the orders as scanAll reads them (the SDK's plain unmarshall): ids beyond 2^53 as NumberValue text
    const expected = now.map((o) => ({
      customer: o.customer,
      order: o.orderId,
      total: o.total,
      status: String(o.status).toUpperCase(),
    }));
    expect(projections.sort(byOrder)).toEqual(expected.sort(byOrder));
    expect(projections.map((p) => p.status).sort()).toEqual(['PLACED', 'PLACED', 'SHIPPED', 'SHIPPED']);
    // the moved orders are under their new customer only: their old projection was deleted
    expect(projections.filter((p) => p.customer === 'customer#9')).toHaveLength(2);
    expect(projections.map((p) => p.customer).sort()).toEqual(['customer#0', 'customer#0', 'customer#9', 'customer#9']);
    // 2^62 + run * 10 + i: beyond 2^53, every digit kept, and the three of a run differ by 1
    const ids = projections.map((p) => BigInt(String(p.order))).sort((a, b) => (a < b ? -1 : 1));
    expect(ids.every((id) => id > 2n ** 62n)).toBe(true);
    expect(ids[1]! - ids[0]!).toBe(1n);
  });

  it('should project an order exactly', () => {
    const order: Order = { orderId: 2n ** 62n + 1n, customer: 'c', total: NumberValue.from('19.990000000000000000001'), status: 'placed' };
    expect(project(order)).toEqual({
      customer: 'c',
      order: 2n ** 62n + 1n,
      total: NumberValue.from('19.990000000000000000001'),
      status: 'PLACED',
    });
  });

  it('should run as a script, twice, and print what it did', async () => {
    const env = { ...process.env, DYNAMODB_ENDPOINT: inject('dynamoEndpoint'), CHANGE_FEED_CHECKPOINT: join(tempDir(), 'cp.json') };
    const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/change-feed.ts'], { cwd: root, env });
    const first = await run();
    expect(first.stdout).toMatch(/^applied \d+ changes \(\d+ removals\) to OrdersByCustomer; the checkpoint is saved\n$/);
    // the second run from the first one's checkpoint: its own six changes only
    expect((await run()).stdout).toBe('applied 6 changes (1 removals) to OrdersByCustomer; the checkpoint is saved\n');
  }, 60_000);
});
