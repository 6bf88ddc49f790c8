/**
 * Issue 8, lossless keys through the command line: tables keyed by numbers a JavaScript `number` cannot hold — 22
 * significant digits, integers beyond 2^53, `12345678901234567.5` — are copied, exported and deleted whole, and a
 * job interrupted and resumed goes on from its checkpoint's exact key. Before, `copy` wrote 1 of 50 such items,
 * `delete` left 49, `export` stopped with exit 3, and a checkpoint's key came back through `Number()`, which
 * resumes somewhere else. The tables are read back with the low-level client: raw AttributeValues, no conversion.
 */
import { BatchWriteItemCommand, CreateTableCommand, type DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLosslessNumber, parse } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalNumber } from '../../src/internal/numbers.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, runCli, startCli, tempDir, removeTempDirs } from './helpers.js';

type Row = Record<string, unknown>;

const KEY_SETS: [string, string[]][] = [
  ['22 significant digits', Array.from({ length: 50 }, (_, i) => `1.${'0'.repeat(19)}${String(i + 1).padStart(2, '0')}`)],
  [
    'integers beyond 2^53 and 12345678901234567.5',
    [...Array.from({ length: 49 }, (_, i) => String(2n ** 53n + 1n + 2n * BigInt(i))), '12345678901234567.5'],
  ],
];

/** A table keyed by `pk` (N) holding one item per key, each with its key's text in `text`, written raw. */
async function seeded(client: DynamoDBClient, prefix: string, keys: string[]): Promise<string> {
  const table = await emptyTable(client, prefix);
  for (let i = 0; i < keys.length; i += 25)
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: { [table]: keys.slice(i, i + 25).map((k) => ({ PutRequest: { Item: { pk: { N: k }, text: { S: k } } } })) },
      }),
    );
  return table;
}

async function emptyTable(client: DynamoDBClient, prefix: string): Promise<string> {
  const table = uniqueTable(prefix);
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'N' }],
    }),
  );
  return table;
}

/** Every item of the table as DynamoDB holds it, in scan order. */
async function rawItems(client: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

const sortedCanonical = (numbers: string[]) => numbers.map(canonicalNumber).sort();
const rawKeys = async (client: DynamoDBClient, table: string) => (await rawItems(client, table)).map((item) => item.pk!.N!);

/** The `pk` of each exported NDJSON line, as its digits (read losslessly). */
function exportedKeys(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const pk = (parse(line) as Row).pk;
      return isLosslessNumber(pk) ? (pk as { value: string }).value : typeof pk === 'string' ? pk : JSON.stringify(pk);
    });
}

/** Polls the checkpoint file until a segment has a start key. */
async function firstStartKey(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path) && ((JSON.parse(readFileSync(path, 'utf8')) as { segments: Row[] }).segments ?? []).some((s) => s.startKey))
      return;
    if (Date.now() > deadline) throw new Error(`no start key in ${path} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('rxjs-dynamodb with number keys beyond a JavaScript number (issue 8)', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  describe.each(KEY_SETS)('keyed by %s', (_, keys) => {
    it('should copy all 50 items, export all 50 and delete all 50, with --page-size 5', async () => {
      const source = await seeded(client, 'CliExactFrom', keys);
      const target = await emptyTable(client, 'CliExactTo');

      const copy = await runCli(['copy', '--from', source, '--to', target, '--page-size', '5', '--json', ...connection]);
      expect(copy.code).toBe(0);
      expect(jsonSummary(copy.stdout)).toMatchObject({ ok: true, read: 50, written: 50, failed: 0 });
      const copied = await rawItems(client, target);
      expect(sortedCanonical(copied.map((i) => i.pk!.N!))).toEqual(sortedCanonical(keys));
      // each item under its own key, not under a neighbour's rounded one
      expect(copied.every((i) => canonicalNumber(i.pk!.N!) === canonicalNumber(i.text!.S!))).toBe(true);

      const exported = await runCli(['export', '--table', source, '--page-size', '5', ...connection]);
      expect(exported.code).toBe(0);
      expect(sortedCanonical(exportedKeys(exported.stdout))).toEqual(sortedCanonical(keys));

      const deleted = await runCli(['delete', '--table', target, '--all', '--page-size', '5', '--json', ...connection]);
      expect(deleted.code).toBe(0);
      expect(jsonSummary(deleted.stdout)).toMatchObject({ ok: true, read: 50, deleted: 50 });
      expect(await rawItems(client, target)).toHaveLength(0);
    });

    it('should resume an interrupted copy from the exact key of its checkpoint: the rest, each item once', async () => {
      const source = await seeded(client, 'CliExactResumeFrom', keys);
      const target = await emptyTable(client, 'CliExactResumeTo');
      const dir = tempDir();
      const transform = join(dir, 'log.mjs');
      // logs each item it is given, so that the second run's reads can be checked one by one
      writeFileSync(
        transform,
        `import { appendFileSync } from 'node:fs';\nexport default (item) => { appendFileSync(process.env.KEY_LOG, String(item.pk) + '\\n'); return item; };\n`,
      );
      const checkpointFile = join(dir, 'copy.checkpoint.json');
      const args = ['copy', '--from', source, '--to', target, '--transform', transform, '--page-size', '5', '--resume', checkpointFile];

      // 2 write units per second: 2.5 s a page; interrupted once the first page is written
      const first = startCli([...args, '--capacity', '2', ...connection], { env: { KEY_LOG: join(dir, 'first.log') } });
      await firstStartKey(checkpointFile);
      first.child.kill('SIGINT');
      expect((await first.done).code).toBe(130);
      const text = readFileSync(checkpointFile, 'utf8');
      const startKey = (JSON.parse(text) as { segments: { startKey: { pk: { N: string } } }[] }).segments[0]!.startKey.pk.N;
      expect(keys).toContain(startKey); // every digit, as DynamoDB gave it
      expect(text).toContain(`"N": "${startKey}"`);

      const second = await runCli([...args, '--json', ...connection], { env: { KEY_LOG: join(dir, 'second.log') } });
      expect(second.code).toBe(0);
      const order = await rawKeys(client, source);
      const rest = order.slice(order.indexOf(startKey) + 1);
      const read = readFileSync(join(dir, 'second.log'), 'utf8').trim().split('\n');
      expect(read).toHaveLength(rest.length);
      expect(sortedCanonical(read)).toEqual(sortedCanonical(rest));
      expect(jsonSummary(second.stdout)).toMatchObject({ ok: true, read: rest.length });
      expect(sortedCanonical(await rawKeys(client, target))).toEqual(sortedCanonical(keys));
    });

    it('should resume an interrupted export from the exact key of its checkpoint: every item once over both runs', async () => {
      const table = await seeded(client, 'CliExactExport', keys);
      const checkpointFile = join(tempDir(), 'export.checkpoint.json');
      const args = ['export', '--table', table, '--page-size', '5', '--resume', checkpointFile, ...connection];

      // 1 read unit per second: about 2 pages a second
      const first = startCli([...args, '--capacity', '1']);
      await firstStartKey(checkpointFile);
      first.child.kill('SIGINT');
      const interrupted = await first.done;
      expect(interrupted.code).toBe(130);
      const second = await runCli(args);
      expect(second.code).toBe(0);
      const exported = [...exportedKeys(interrupted.stdout), ...exportedKeys(second.stdout)];
      expect(exportedKeys(interrupted.stdout).length).toBeLessThan(50);
      expect(exported).toHaveLength(50);
      expect(sortedCanonical(exported)).toEqual(sortedCanonical(keys));
    });
  });
});
