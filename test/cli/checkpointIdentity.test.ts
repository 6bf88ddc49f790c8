/**
 * Issue 8, resume safety: a checkpoint names the tables it was made in (TableArn, CreationDateTime, TableId when
 * there is one), and is never resumed into another table of the same name. Before, an import resumed into a table
 * that had been dropped and made again exited 0 with every line before the checkpoint missing from it.
 */
import { DeleteTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, ndjson, runCli, tempDir, removeTempDirs } from './helpers.js';

type Row = Record<string, unknown>;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Row;

/** Drops the table and makes it again under the same name, empty. */
async function recreate(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: table }));
  await createTable(client, table);
}

async function seeded(client: DynamoDBClient, prefix: string, n: number): Promise<string> {
  const table = await createTable(client, uniqueTable(prefix));
  const items = Array.from({ length: n }, (_, i) => ({ pk: `i#${i}`, n: i }));
  await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, table)), { defaultValue: undefined });
  return table;
}

describe('rxjs-dynamodb --resume: the checkpoint belongs to one table', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should refuse (exit 2) to resume an import into a table dropped and made again under the same name (issue 8)', async () => {
    const table = await createTable(client, uniqueTable('CliIdImport'));
    const dir = tempDir();
    const file = join(dir, 'items.ndjson');
    writeFileSync(file, ndjson(Array.from({ length: 200 }, (_, i) => ({ pk: `r#${i}` }))));
    const checkpointFile = join(dir, 'import.checkpoint.json');
    const importArgs = (checkpoint: string) => ['import', file, '--table', table, '--resume', checkpoint, '--json', ...connection];
    const args = importArgs(checkpointFile);
    expect((await runCli(args)).code).toBe(0);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    expect(readJson(checkpointFile)).toMatchObject({
      line: 200,
      complete: true,
      tables: { target: { name: table, arn: Table!.TableArn, created: Table!.CreationDateTime!.toISOString() } },
    });

    await recreate(client, table);
    const rerun = await runCli(args);
    expect(rerun.code).toBe(2);
    expect(rerun.stderr).toContain(`checkpoint ${checkpointFile} was made for the target table ${table}`);
    expect(rerun.stderr).toContain('another table under the same name');
    expect(jsonSummary(rerun.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    expect(await scanAll(client, table)).toHaveLength(0);

    // a fresh checkpoint file starts over and writes every line
    const fresh = await runCli(importArgs(join(dir, 'fresh.checkpoint.json')));
    expect(fresh.code).toBe(0);
    expect(await scanAll(client, table)).toHaveLength(200);
  });

  it('should refuse to resume an import whose table is gone, and not make a new one with --create-table', async () => {
    const table = await createTable(client, uniqueTable('CliIdGone'));
    const dir = tempDir();
    const file = join(dir, 'items.ndjson');
    writeFileSync(file, ndjson([{ pk: 'a' }, { pk: 'b' }]));
    const checkpointFile = join(dir, 'import.checkpoint.json');
    const args = ['import', file, '--table', table, '--resume', checkpointFile, '--key', 'pk', ...connection];
    expect((await runCli(args)).code).toBe(0);
    await client.send(new DeleteTableCommand({ TableName: table }));

    for (const extra of [[], ['--create-table']]) {
      const rerun = await runCli([...args, ...extra]);
      expect(rerun.code).toBe(2);
      expect(rerun.stderr).toContain('which no longer exists');
    }
    await expect(client.send(new DescribeTableCommand({ TableName: table }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('should refuse to resume an export or a delete in a recreated table, and a copy into another target', async () => {
    const source = await seeded(client, 'CliIdSource', 30);
    const target = await createTable(client, uniqueTable('CliIdTarget'));
    const other = await createTable(client, uniqueTable('CliIdOther'));
    const dir = tempDir();

    // copy: the checkpoint names the source and the target; --to another table is refused
    const copyCheckpoint = join(dir, 'copy.checkpoint.json');
    const copy = ['copy', '--from', source, '--resume', copyCheckpoint, ...connection];
    expect((await runCli([...copy, '--to', target])).code).toBe(0);
    expect(readJson(copyCheckpoint)).toMatchObject({ tables: { source: { name: source }, target: { name: target } } });
    const elsewhere = await runCli([...copy, '--to', other]);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`was made for the target table ${target}`);
    expect(elsewhere.stderr).toContain(`but this run's target table is ${other}`);
    expect(await scanAll(client, other)).toHaveLength(0);

    // export: its source made again
    const exportCheckpoint = join(dir, 'export.checkpoint.json');
    const exportArgs = ['export', '--table', source, '--resume', exportCheckpoint, ...connection];
    const exported = await runCli([...exportArgs, '--page-size', '10']);
    expect(exported.code).toBe(0);
    expect(exported.stdout.trim().split('\n')).toHaveLength(30);
    // delete: its table made again
    const deleteCheckpoint = join(dir, 'delete.checkpoint.json');
    const deleteArgs = ['delete', '--table', target, '--all', '--resume', deleteCheckpoint, ...connection];
    expect((await runCli(deleteArgs)).code).toBe(0);
    expect(readJson(deleteCheckpoint)).toMatchObject({ complete: true, tables: { table: { name: target } } });

    await recreate(client, source);
    await recreate(client, target);
    for (const [args, role] of [
      [exportArgs, 'source'],
      [deleteArgs, 'table'],
      [[...copy, '--to', target], 'source'],
    ] as const) {
      const rerun = await runCli([...args]);
      expect(rerun.code).toBe(2);
      expect(rerun.stderr).toContain(`was made for the ${role} table`);
      expect(rerun.stderr).toContain('another table under the same name');
      expect(rerun.stdout).toBe('');
    }
  });

  it('should resume a checkpoint older than table identities with a warning, unless its table was created after it', async () => {
    const table = await seeded(client, 'CliIdLegacy', 20);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    const created = Table!.CreationDateTime!.getTime();
    const dir = tempDir();
    const checkpointFile = join(dir, 'legacy.checkpoint.json');
    const legacy = (updatedAt: number) =>
      writeFileSync(
        checkpointFile,
        JSON.stringify({
          command: 'export',
          table,
          totalSegments: 1,
          segments: [{ done: false }],
          complete: false,
          updatedAt: new Date(updatedAt).toISOString(),
        }),
      );
    const args = ['export', '--table', table, '--resume', checkpointFile, ...connection];

    // last written before the table was made: its progress was made in another table of that name
    legacy(created - 60_000);
    const refused = await runCli(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('was created after that');
    expect(refused.stdout).toBe('');

    // last written after: resumed, with a warning, and tied to the table from now on
    legacy(created + 1_000);
    const resumed = await runCli(args);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/warning: checkpoint .* does not say which source table it was made in/);
    expect(resumed.stdout.trim().split('\n')).toHaveLength(20);
    expect(readJson(checkpointFile)).toMatchObject({ complete: true, tables: { source: { name: table, arn: Table!.TableArn } } });
  });
});
