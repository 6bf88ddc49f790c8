import { type AttributeValue, DeleteItemCommand, type DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanRawByPk, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

type Raw = Record<string, AttributeValue>;

let client: DynamoDBClient;
let endpoint: string;
beforeAll(async () => {
  endpoint = inject('dynamoEndpoint');
  client = localClient(endpoint);
  await ensureBuilt();
}, 180_000);
afterAll(() => {
  client.destroy();
  removeTempDirs();
});

const scanRaw = (table: string) => scanRawByPk(client, table);

/** An item with the values real tables hold. */
const item = (i: number, version = 0): Raw => ({
  pk: { S: `ticket#${i}#\u{1F600}` },
  id: { N: `${2n ** 63n - BigInt(i)}` },
  amount: { N: `12345678901234567890123456789012345.${version % 1000}` }, // 38 digits at most
  tags: { SS: ['open', `v${version}`, '\u{1F680}'] },
  blob: { B: new Uint8Array([i % 256, 0, 255, version % 256]) },
  nested: { M: { version: { N: `${version}` }, list: { L: [{ S: 'a' }, { NULL: true }] } } },
});

const put = (table: string, i: number, version = 0) => client.send(new PutItemCommand({ TableName: table, Item: item(i, version) }));
const key = (i: number) => ({ pk: { S: `ticket#${i}#\u{1F600}` } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function seed(table: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 50)
    await Promise.all(Array.from({ length: Math.min(50, count - start) }, (_, j) => put(table, start + j)));
}

/**
 * A writer that keeps changing `table` while `running()`: new items, changed items, deleted items, and one key
 * changed again and again. Resolves to the number of changes made.
 */
async function writer(table: string, count: number, running: () => boolean): Promise<number> {
  let changes = 0;
  for (let round = 1; running(); round++) {
    const i = (round * 37) % count;
    await put(table, i, round); // changed
    await client.send(new DeleteItemCommand({ TableName: table, Key: key((round * 53 + 11) % count) })); // deleted
    await put(table, count + round, round); // new
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key(7),
        UpdateExpression: 'SET nested.version = :v ADD tags :t',
        ExpressionAttributeValues: { ':v': { N: `${round}` }, ':t': { SS: [`r${round}`] } },
      }),
    ); // the same key, many times
    changes += 4;
  }
  return changes;
}

const args = (from: string, to: string, more: string[]) => ['migrate', '--from', from, '--to', to, '--endpoint', endpoint, ...more];

describe('rxjs-dynamodb migrate (issue 13)', () => {
  it('should end with the target exactly as the source after a copy under a concurrent writer, stopped and resumed', async () => {
    const from = await createTable(client, uniqueTable('migFrom'), { stream: true });
    const to = uniqueTable('migTo');
    await seed(from, 1500);
    const dir = tempDir();
    const checkpoint = join(dir, 'migrate.json');
    const first = startCli(
      args(from, to, ['--create-table', '--segments', '4', '--page-size', '25', '--poll-ms', '100', '--resume', checkpoint]),
      { cwd: dir },
    );
    let writing = true;
    const changes = writer(from, 1500, () => writing);
    // the writer runs through the copy and into the replay
    const deadline = Date.now() + 60_000;
    while (!/replaying the changes/.test(await stderrOf(first)) && Date.now() < deadline) await sleep(50);
    await sleep(1_000);
    writing = false;
    expect(await changes).toBeGreaterThan(20);
    // the migration follows the stream until stopped
    await sleep(1_000);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/changes replayed, lag \d+\.\d s/);
    const state = JSON.parse(readFileSync(checkpoint, 'utf8')) as { complete: boolean; stream?: { version: number } };
    expect(state.complete).toBe(true);
    expect(state.stream?.version).toBe(1);
    // more changes while it is stopped, then go on until caught up
    for (let i = 0; i < 20; i++) await put(from, i, 1000 + i);
    await client.send(new DeleteItemCommand({ TableName: from, Key: key(30) }));
    const second = await runCli(args(from, to, ['--resume', checkpoint, '--until-caught-up', '--poll-ms', '100', '--json']), { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    expect(jsonSummary(second.stdout)).toMatchObject({ command: 'migrate', ok: true, failed: 0 });
    const [a, b] = await Promise.all([scanRaw(from), scanRaw(to)]);
    expect(b.size).toBe(a.size);
    expect(b).toEqual(a);
    // and the diff command says so
    const diff = await runCli(['diff', '--from', from, '--to', to, '--endpoint', endpoint, '--segments', '2']);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  }, 180_000);

  it('should converge after being killed (SIGKILL) during the copy and resumed', async () => {
    const from = await createTable(client, uniqueTable('migKill'), { stream: true });
    const to = await createTable(client, uniqueTable('migKillTo'));
    await seed(from, 1200);
    const dir = tempDir();
    const checkpoint = join(dir, 'migrate.json');
    const run = startCli(args(from, to, ['--page-size', '20', '--concurrency', '1', '--resume', checkpoint, '--poll-ms', '100']), {
      cwd: dir,
    });
    // kill it once some pages were copied, with the copy not finished
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const state = existsSync(checkpoint)
        ? (JSON.parse(readFileSync(checkpoint, 'utf8')) as { segments: Array<{ startKey?: unknown }> })
        : undefined;
      if (state?.segments[0]?.startKey) break;
      await sleep(20);
    }
    run.child.kill('SIGKILL');
    await run.done;
    const killed = JSON.parse(readFileSync(checkpoint, 'utf8')) as { complete: boolean };
    expect(killed.complete).toBe(false);
    // changes while it is dead: to copied items, to items not copied yet, deletes
    for (let i = 0; i < 40; i++) await put(from, i * 29, 500 + i);
    for (let i = 0; i < 10; i++) await client.send(new DeleteItemCommand({ TableName: from, Key: key(i * 101) }));
    const resumed = await runCli(args(from, to, ['--resume', checkpoint, '--until-caught-up', '--poll-ms', '100']), { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    const [a, b] = await Promise.all([scanRaw(from), scanRaw(to)]);
    expect(b).toEqual(a);
    expect((await runCli(['diff', '--from', from, '--to', to, '--endpoint', endpoint])).code).toBe(0);
  }, 180_000);

  it('should replay through the transform: changed items are transformed, removed ones deleted', async () => {
    const from = await createTable(client, uniqueTable('migT'), { stream: true });
    const to = uniqueTable('migTTo');
    await seed(from, 100);
    const dir = tempDir();
    const transform = join(dir, 'transform.mjs');
    writeFileSync(transform, 'export default (item) => (item.pk.endsWith("#13#\\u{1F600}") ? undefined : { ...item, migrated: true });\n');
    const run = startCli(args(from, to, ['--create-table', '--transform', transform, '--poll-ms', '100']), { cwd: dir });
    while (!/replaying the changes/.test(await stderrOf(run))) await sleep(50);
    await put(from, 5, 99);
    await client.send(new DeleteItemCommand({ TableName: from, Key: key(6) }));
    await put(from, 500, 1);
    await sleep(1_500);
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(130);
    const [a, b] = await Promise.all([scanRaw(from), scanRaw(to)]);
    const expected = new Map([...a].filter(([k]) => k !== 'ticket#13#\u{1F600}').map(([k, v]) => [k, { ...v, migrated: { BOOL: true } }]));
    expect(b).toEqual(expected);
  }, 120_000);

  it('should refuse a source without a NEW_AND_OLD_IMAGES stream, saying how to turn it on', async () => {
    const from = await createTable(client, uniqueTable('migNoStream'));
    const run = await runCli(args(from, uniqueTable('migNone'), ['--create-table']));
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES');
  });
});

/** What a running command printed on stderr so far. */
async function stderrOf(run: ReturnType<typeof startCli>): Promise<string> {
  return (run as unknown as { stderrSoFar?: () => string }).stderrSoFar?.() ?? collected.get(run.child.pid!) ?? watch(run);
}
const collected = new Map<number, string>();
function watch(run: ReturnType<typeof startCli>): string {
  collected.set(run.child.pid!, '');
  run.child.stderr!.on('data', (chunk: Buffer) => collected.set(run.child.pid!, collected.get(run.child.pid!)! + chunk.toString()));
  return '';
}
