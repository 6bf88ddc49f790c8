import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { bulkUpdate, CUTOFF, seedTickets } from '../../examples/bulk-update.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll, uniqueTable } from '../helpers/tables.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The tickets the job should archive: resolved, and closed before the cutoff. */
const old = seedTickets().filter((t) => t.status === 'resolved' && t.closedAt! < CUTOFF);

/** The table as the job should leave it: the old resolved tickets archived (but those reopened), the others as seeded. */
function expectedTable(archivedAt: string, reopened: string[]) {
  const archive = new Set(old.map((t) => t.id));
  return seedTickets().map((t) =>
    reopened.includes(t.id)
      ? { ...t, status: 'open' }
      : archive.has(t.id)
        ? { ...t, status: 'archived', audit: { ...t.audit, archivedAt }, archiveCount: 1 }
        : t,
  );
}

const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));

async function table(name: string) {
  const client = localClient(inject('dynamoEndpoint'));
  const items = await scanAll(client, name);
  client.destroy();
  return items.sort(byId);
}

describe('examples/bulk-update.ts', () => {
  it('should seed 667 resolved tickets, 329 of them closed before the cutoff, and 134 open ones closed once (reopened since)', () => {
    const tickets = seedTickets();
    expect(tickets).toHaveLength(2_000);
    expect(tickets.filter((t) => t.status === 'resolved')).toHaveLength(667);
    expect(old).toHaveLength(329);
    expect(tickets.filter((t) => t.status === 'open' && t.closedAt !== undefined)).toHaveLength(134);
    expect(tickets.filter((t) => t.status === 'open' && t.closedAt! < CUTOFF)).toHaveLength(68); // old, but open: the status matters
    expect(old.map((t) => t.id)).toEqual(expect.arrayContaining(['ticket#3', 'ticket#42'])); // the two reopened meanwhile
  });

  it('should archive exactly the resolved tickets closed before the cutoff, and skip the two reopened meanwhile', async () => {
    const started = new Date().toISOString();
    const outcome = await bulkUpdate(inject('dynamoEndpoint'), uniqueTable('BulkUpdate'));

    expect(outcome).toMatchObject({
      written: 327,
      skipped: [
        { id: 'ticket#3', status: 'open' }, // the item as it is now: returnCurrentOnConditionFailure
        { id: 'ticket#42', status: 'open' },
      ],
      failed: 0,
    });
    expect(outcome.archivedAt >= started && outcome.archivedAt <= new Date().toISOString()).toBe(true);
    expect(await table(outcome.table)).toEqual(expectedTable(outcome.archivedAt, ['ticket#3', 'ticket#42']).sort(byId));
  });

  it('should skip nothing when no ticket changes meanwhile', async () => {
    const outcome = await bulkUpdate(inject('dynamoEndpoint'), uniqueTable('BulkUpdate'), []);
    expect(outcome).toMatchObject({ written: 329, skipped: [], failed: 0 });
    expect(await table(outcome.table)).toEqual(expectedTable(outcome.archivedAt, []).sort(byId));
  });

  it('should run a second time on the same table (it is there from the first run) with the same outcome', async () => {
    const name = uniqueTable('BulkUpdateTwice');
    await bulkUpdate(inject('dynamoEndpoint'), name);
    const second = await bulkUpdate(inject('dynamoEndpoint'), name);
    expect(second).toMatchObject({ written: 327, skipped: [{ id: 'ticket#3' }, { id: 'ticket#42' }], failed: 0 });
    // the seed put the tickets back as they were: archived once, by the second run
    expect(await table(name)).toEqual(expectedTable(second.archivedAt, ['ticket#3', 'ticket#42']).sort(byId));
  });

  it('should run as a script and print its tallies', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/bulk-update.ts'], {
      cwd: root,
      env: { ...process.env, DYNAMODB_ENDPOINT: inject('dynamoEndpoint') },
    });
    expect(stdout).toBe('archived 327 tickets, 2 skipped (changed meanwhile: ticket#3 is open now, ticket#42 is open now), 0 failed\n');
  }, 60_000);
});
