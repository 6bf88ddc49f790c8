import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, runCli, tempDir, removeTempDirs } from './helpers.js';

type Row = Record<string, unknown>;
const byPk = (a: Row, b: Row) => String(a.pk).localeCompare(String(b.pk));
const tickets = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    pk: `t#${i}`,
    title: `Ticket ${i}`,
    status: i % 4 === 0 ? 'resolved' : 'open',
    priority: i % 5,
    meta: { tags: ['a', 'b'], owner: { id: i } },
  }));

describe('rxjs-dynamodb export, copy, delete and count', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];
  const seeded = async (prefix: string, n: number) => {
    const table = await createTable(client, uniqueTable(prefix));
    await lastValueFrom(from(tickets(n)).pipe(dynamoBatchWrite(client, table)), { defaultValue: undefined });
    return table;
  };

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should export every item to stdout as NDJSON, with one scan or four segments, the summary on stderr', async () => {
    const table = await seeded('CliExport', 2_000);
    const expected = (await scanAll(client, table)).sort(byPk);

    for (const segments of ['1', '4']) {
      const run = await runCli(['export', '--table', table, '--segments', segments, '--json', ...connection]);
      expect(run.code).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines).toHaveLength(2_000); // stdout holds the data only
      expect(lines.map((l) => JSON.parse(l) as Row).sort(byPk)).toEqual(expected);
      expect(jsonSummary(run.stderr)).toMatchObject({ command: 'export', ok: true, items: 2_000, totalSegments: Number(segments) });
    }
  });

  it('should copy through a transform module: undefined drops the item, a throw dead-letters it', async () => {
    const source = await seeded('CliCopyFrom', 1_000);
    const target = uniqueTable('CliCopyTo');
    const dir = tempDir();
    const transform = join(dir, 'transform.mjs');
    writeFileSync(
      transform,
      `export default (item) => {
        if (item.pk === 't#13') throw new Error('cannot transform t#13');
        return item.status === 'resolved' ? undefined : { ...item, title: item.title.toUpperCase(), schema: 2 };
      };\n`,
    );
    const deadLetter = join(dir, 'copy.dead-letter.ndjson');

    const run = await runCli([
      'copy',
      '--from',
      source,
      '--to',
      target,
      '--transform',
      transform,
      '--create-table',
      '--segments',
      '2',
      '--dead-letter',
      deadLetter,
      '--json',
      ...connection,
    ]);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`dead-letter file ${deadLetter}`);
    expect(jsonSummary(run.stdout)).toMatchObject({ command: 'copy', read: 1_000, written: 749, skipped: 250, failed: 1 });
    const [bad] = readFileSync(deadLetter, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(bad).toMatchObject({ item: { pk: 't#13' }, error: { message: 'cannot transform t#13' } });
    const copied = (await scanAll(client, target)).sort(byPk);
    const expected = tickets(1_000)
      .filter((t) => t.status !== 'resolved' && t.pk !== 't#13')
      .map((t) => ({ ...t, title: t.title.toUpperCase(), schema: 2 }))
      .sort(byPk);
    expect(copied).toEqual(expected);
  });

  it('should name the flag of a missing copy target (--to), and plan a delete as items to delete', async () => {
    const table = await seeded('CliMessages', 30);
    const copy = await runCli(['copy', '--from', table, '--to', `${table}-missing`, ...connection]);
    expect(copy.code).toBe(3);
    expect(copy.stderr).toContain(`table ${table}-missing does not exist (check --to, --endpoint and --region)`);
    const dry = await runCli(['delete', '--table', table, '--all', '--dry-run', ...connection]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^ {2}items {6}30 to delete$/m);
    expect(await scanAll(client, table)).toHaveLength(30);
  });

  it('should refuse to delete every item without --all (exit 2, nothing deleted), and delete them with it', async () => {
    const table = await seeded('CliDeleteAll', 60);
    const refused = await runCli(['delete', '--table', table, ...connection]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`delete without --filter deletes every item of ${table}: add --all to say so`);
    expect(await scanAll(client, table)).toHaveLength(60);
    const run = await runCli(['delete', '--table', table, '--all', '--json', ...connection]);
    expect(run.code).toBe(0);
    expect(jsonSummary(run.stdout)).toMatchObject({ command: 'delete', ok: true, deleted: 60 });
    expect(await scanAll(client, table)).toEqual([]);
  });

  it('should delete the items matching --filter (dry run first, which deletes nothing), and count what is left', async () => {
    const table = await seeded('CliDelete', 1_200);
    const filter = ['--filter', '#s = :s', '--names', '{"#s":"status"}', '--values', '{":s":"resolved"}'];

    const dry = await runCli(['delete', '--table', table, ...filter, '--dry-run', '--json', ...connection]);
    expect(dry.code).toBe(0);
    // with a filter, each item gets its own conditional DeleteItem (issue 12): 300 calls and the scan, no batches
    expect(jsonSummary(dry.stdout)).toMatchObject({ dryRun: true, items: 300, invalid: 0, batches: 0, scanCalls: 1, calls: 301 });
    expect(await scanAll(client, table)).toHaveLength(1_200);

    const run = await runCli(['delete', '--table', table, ...filter, '--segments', '2', '--json', ...connection]);
    expect(run.code).toBe(0);
    expect(jsonSummary(run.stdout)).toMatchObject({ command: 'delete', ok: true, deleted: 300, failed: 0, skippedByCondition: 0 });
    const left = await scanAll(client, table);
    expect(left).toHaveLength(900);
    expect(left.every((t) => t.status === 'open')).toBe(true);

    const count = await runCli(['count', '--table', table, ...connection]);
    expect(count).toMatchObject({ code: 0, stdout: '900\n' });
    const counted = await runCli([
      'count',
      '--table',
      table,
      '--filter',
      'priority = :p',
      '--values',
      '{":p":1}',
      '--segments',
      '3',
      '--json',
      ...connection,
    ]);
    expect(jsonSummary(counted.stdout)).toMatchObject({
      command: 'count',
      count: left.filter((t) => t.priority === 1).length,
      scannedCount: 900,
      totalSegments: 3,
    });
  });
});
