import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  ScanCommand,
  type ScanCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { compileExpressions, dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { type CliRun, ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

type Row = Record<string, unknown>;
type Raw = Record<string, AttributeValue>;

/** Every item of the table as DynamoDB holds it (AttributeValues: every digit of a number, as stored), by key. */
async function scanRaw(client: DynamoDBClient, table: string, extra: Partial<ScanCommandInput> = {}): Promise<Map<string, Raw>> {
  const items = new Map<string, Raw>();
  let ExclusiveStartKey: Raw | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey, ...extra }));
    for (const item of page.Items ?? []) items.set(item.sk ? `${item.pk!.S}|${item.sk.N}` : item.pk!.S!, item);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** Polls until `ready` holds, for `what`. */
async function waitFor(what: string, ready: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The items settled so far by a running command, from its last plain status line (`update: 12 items done, …`). */
const settledSoFar = (stderr: string, command: string): number => {
  const done = [...stderr.matchAll(new RegExp(`^${command}: (\\d+) items done`, 'gm'))].at(-1);
  return done ? Number(done[1]) : 0;
};

const status = (s: string) => ['--names', '{"#s":"status"}', '--values', JSON.stringify({ ':s': s })];
const TWENTY_DIGITS = '12345678901234567890';

describe('rxjs-dynamodb update (issue 12)', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];
  const seed = async (table: string, items: Row[]) => {
    await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, table)), { defaultValue: undefined });
    return table;
  };

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should update exactly the items matching --filter: ADD, a nested SET, a 20-digit integer kept, REMOVE; the rest untouched', async () => {
    const table = await createTable(client, uniqueTable('CliUpdate'));
    const items = Array.from({ length: 600 }, (_, i) => ({
      pk: `u#${i}`,
      status: i % 3 === 0 ? 'stale' : 'fresh',
      n: i,
      meta: { owner: i },
      draft: true,
    }));
    await seed(table, items);

    const run = await runCli([
      'update',
      '--table',
      table,
      '--filter',
      '#s = :s',
      ...status('stale'),
      '--set',
      `{"meta.by":"job-12","big":${TWENTY_DIGITS}}`,
      '--add',
      '{"n":1}',
      '--remove',
      'draft',
      '--segments',
      '2',
      '--json',
      ...connection,
    ]);

    expect(run.code).toBe(0);
    const summary = jsonSummary(run.stdout);
    expect(summary).toMatchObject({ command: 'update', ok: true, read: 200, modified: 200, skippedByCondition: 0, failed: 0 });
    expect(summary.calls).toBe(200 + Number(summary.scanCalls)); // one UpdateItem per item, and the scans
    expect(run.stderr).toMatch(new RegExp(`^update: 200 items modified in ${table}, 0 failed in [\\d.]+ s \\(\\d+/s\\)$`, 'm'));

    const after = await scanRaw(client, table);
    expect(after.size).toBe(600);
    for (const item of items) {
      const expected =
        item.status === 'stale'
          ? {
              ...marshall({ pk: item.pk, status: 'stale', n: item.n + 1, meta: { owner: item.n, by: 'job-12' } }),
              big: { N: TWENTY_DIGITS }, // not 12345678901234567000
            }
          : marshall(item);
      expect(after.get(item.pk)).toEqual(expected);
    }
  });

  describe('with a writer changing items between the scan and the updates', () => {
    /**
     * 240 items match (`open`), 60 do not. The command's scan reads every key in its first and only page (the items
     * are small), and then sends one call at a time (`--concurrency 1`) in scan order at 60 write units a second, so
     * its calls reach the last 40 keys of the scan order some 3 s after its first one. As soon as its status line
     * shows a first item settled, the test moves 20 of those 40 out of the filter (status `held`) and deletes the
     * other 20. Exact counts prove the timing held: a changed item scanned after the change would not be read (read
     * < 240), and one updated before it would be counted as modified.
     */
    const setUp = async (prefix: string) => {
      const table = await createTable(client, uniqueTable(prefix));
      const items = Array.from({ length: 300 }, (_, i) => ({ pk: `r#${i}`, status: i < 240 ? 'open' : 'closed', n: 0 }));
      await seed(table, items);
      const order = await client.send(
        new ScanCommand({ TableName: table, ProjectionExpression: 'pk', FilterExpression: '#s = :s', ...rawStatus('open') }),
      );
      expect(order.LastEvaluatedKey).toBeUndefined(); // one page: every key is read before the first write
      const late = order.Items!.slice(-40).map((i) => i.pk!.S!);
      return { table, items, held: late.filter((_, i) => i % 2 === 0), gone: late.filter((_, i) => i % 2 === 1) };
    };
    const rawStatus = (s: string) => ({ ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: s } } });

    /** Runs the command and, once it has settled its first item, holds and deletes the given items; returns its run. */
    const racing = async (args: string[], command: string, table: string, held: string[], gone: string[]): Promise<CliRun> => {
      const cli = startCli([...args, '--concurrency', '1', '--capacity', '60', '--json', '--endpoint', endpoint], {
        env: { RXJS_DYNAMODB_STATUS_INTERVAL_MS: '20' },
      });
      let stderr = '';
      cli.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await waitFor(`${command} to settle an item`, () => settledSoFar(stderr, command) > 0 || cli.child.exitCode !== null);
      await Promise.all([
        ...held.map((pk) =>
          client.send(
            new UpdateItemCommand({
              TableName: table,
              Key: { pk: { S: pk } },
              UpdateExpression: 'SET #s = :s',
              ...rawStatus('held'),
            }),
          ),
        ),
        ...gone.map((pk) => client.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: pk } } }))),
      ]);
      const run = await cli.done;
      expect(settledSoFar(stderr, command)).toBeGreaterThan(0); // the changes came while it ran
      return run;
    };

    it('should skip the items changed or deleted meanwhile, count them, and neither clobber nor re-create them', async () => {
      const { table, items, held, gone } = await setUp('CliUpdateRace');
      const args = ['update', '--table', table, '--filter', '#s = :s', ...status('open'), '--set', '{"status":"archived","by":"job"}'];

      const run = await racing([...args, '--add', '{"n":1}'], 'update', table, held, gone);

      expect(run.code).toBe(0); // a skipped item is not a failure
      expect(jsonSummary(run.stdout)).toMatchObject({
        command: 'update',
        ok: true,
        read: 240,
        modified: 200,
        skippedByCondition: 40,
        failed: 0,
        scanCalls: 1,
        calls: 241,
      });
      expect(run.stderr).toMatch(
        new RegExp(
          `^update: 200 items modified in ${table}, 0 failed, 40 skipped \\(changed since the scan: the filter no longer matched\\) in`,
          'm',
        ),
      );
      const after = await scanRaw(client, table);
      expect(after.size).toBe(280); // the 20 deleted ones were not re-created
      for (const { pk, status: s } of items) {
        if (gone.includes(pk)) expect(after.has(pk)).toBe(false);
        else if (held.includes(pk)) expect(after.get(pk)).toEqual(marshall({ pk, status: 'held', n: 0 }));
        else if (s === 'open') expect(after.get(pk)).toEqual(marshall({ pk, status: 'archived', n: 1, by: 'job' }));
        else expect(after.get(pk)).toEqual(marshall({ pk, status: 'closed', n: 0 }));
      }
    });

    it('should not delete (delete --filter) the items changed meanwhile so that they no longer match, and count them', async () => {
      const { table, items, held, gone } = await setUp('CliDeleteRace');

      const run = await racing(['delete', '--table', table, '--filter', '#s = :s', ...status('open')], 'delete', table, held, gone);

      expect(run.code).toBe(0);
      expect(jsonSummary(run.stdout)).toMatchObject({
        command: 'delete',
        ok: true,
        read: 240,
        deleted: 200,
        skippedByCondition: 40,
        failed: 0,
        calls: 241,
      });
      expect(run.stderr).toMatch(
        new RegExp(
          `^delete: 200 items deleted from ${table}, 0 failed, 40 skipped \\(changed since the scan: the filter no longer matched\\)`,
          'm',
        ),
      );
      const after = await scanRaw(client, table);
      expect([...after.keys()].sort()).toEqual(
        items
          .filter((i) => i.status === 'closed' || held.includes(i.pk))
          .map((i) => i.pk)
          .sort(),
      );
      for (const pk of held) expect(after.get(pk)).toEqual(marshall({ pk, status: 'held', n: 0 }));
    });
  });

  it('should plan a --dry-run: the items, one UpdateItem each plus the scans, the write units and the UpdateExpression; writing nothing', async () => {
    const table = await createTable(client, uniqueTable('CliUpdateDry'));
    // 90 of 270 match; 30 of those are over 1 KB (2 write units each)
    const items = Array.from({ length: 270 }, (_, i) => ({
      pk: `d#${i}`,
      status: i % 3 === 0 ? 'stale' : 'fresh',
      ...(i % 9 === 0 ? { body: 'x'.repeat(1_500) } : {}),
    }));
    await seed(table, items);
    const before = await scanRaw(client, table);
    const update = ['--set', '{"meta":{"by":"job"},"status":"archived"}', '--add', '{"views":1}', '--remove', 'draft'];
    const { UpdateExpression } = compileExpressions({
      update: { set: { meta: { by: 'job' }, status: 'archived' }, add: { views: 1 }, remove: ['draft'] },
    });
    // 270 items read 25 at a time: 11 Scan calls
    const args = ['update', '--table', table, '--filter', '#s = :s', ...status('stale'), ...update, '--page-size', '25', '--dry-run'];

    const dry = await runCli([...args, '--json', ...connection]);
    expect(dry.code).toBe(0);
    expect(jsonSummary(dry.stdout)).toEqual(
      expect.objectContaining({
        command: 'update',
        dryRun: true,
        ok: true,
        read: 90,
        modified: 0,
        items: 90,
        invalid: 0,
        batches: 0,
        scanCalls: 11,
        calls: 101,
        capacityUnits: 120,
        updateExpression: UpdateExpression,
      }),
    );
    expect(UpdateExpression).toMatch(/^SET .+ REMOVE .+ ADD .+$/);

    const human = await runCli([...args, ...connection]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Dry run: update ${table} where #s = :s: ${UpdateExpression}. Nothing was written.`);
    expect(human.stdout).toMatch(/^ {2}items {6}90 to update$/m);
    expect(human.stdout).toMatch(/^ {2}calls {6}101 \(90 UpdateItem, one per item, without retries, 11 Scan\)$/m);
    expect(human.stdout).toMatch(/^ {2}capacity {3}120 write units/m);
    expect(await scanRaw(client, table)).toEqual(before);
  });

  it('should update only the partition of --key-condition, and re-check a --filter beside it with the shared --names and --values', async () => {
    const table = await createTable(client, uniqueTable('CliUpdateQuery'), { sortKey: 'N' });
    const items = Array.from({ length: 200 }, (_, i) => ({ pk: `p#${i % 4}`, sk: Math.floor(i / 4), kind: i % 8 < 4 ? 'a' : 'b', n: 0 }));
    await seed(table, items);
    const key = (item: { pk: string; sk: number }) => `${item.pk}|${item.sk}`;

    const run = await runCli([
      'update',
      '--table',
      table,
      '--key-condition',
      '#p = :p',
      '--names',
      '{"#p":"pk"}',
      '--values',
      '{":p":"p#2"}',
      '--add',
      '{"n":1}',
      '--json',
      ...connection,
    ]);
    expect(run.code).toBe(0);
    expect(jsonSummary(run.stdout)).toMatchObject({
      ok: true,
      read: 50,
      modified: 50,
      skippedByCondition: 0,
      failed: 0,
      scanCalls: 1,
      calls: 51,
    });
    let after = await scanRaw(client, table);
    for (const item of items) expect(after.get(key(item))).toEqual(marshall({ ...item, n: item.pk === 'p#2' ? 1 : 0 }));

    // the filter's condition goes out with values only the key condition uses (:p, :lo): DynamoDB refused every
    // update for an unused value until the key condition went into the condition too
    const filtered = await runCli([
      'update',
      '--table',
      table,
      '--key-condition',
      'pk = :p AND sk >= :lo',
      '--filter',
      '#k = :k',
      '--names',
      '{"#k":"kind"}',
      '--values',
      '{":p":"p#1",":lo":20,":k":"b"}',
      '--add',
      '{"n":10}',
      '--json',
      ...connection,
    ]);
    expect(filtered.stderr).not.toContain('failed with');
    expect(filtered.code).toBe(0);
    const hit = (item: (typeof items)[number]) => item.pk === 'p#1' && item.sk >= 20 && item.kind === 'b';
    expect(items.filter(hit)).toHaveLength(15);
    expect(jsonSummary(filtered.stdout)).toMatchObject({ ok: true, read: 15, modified: 15, skippedByCondition: 0, failed: 0 });
    after = await scanRaw(client, table);
    for (const item of items)
      expect(after.get(key(item))).toEqual(marshall({ ...item, n: (item.pk === 'p#2' ? 1 : 0) + (hit(item) ? 10 : 0) }));
  });

  it('should refuse (exit 2, nothing written) an update of every item without --all, nothing to change, overlapping paths and adaptive concurrency; and update all with --all', async () => {
    const table = await createTable(client, uniqueTable('CliUpdateRefused'));
    const items = Array.from({ length: 40 }, (_, i) => ({ pk: `a#${i}`, status: 'open', n: i }));
    await seed(table, items);
    const before = await scanRaw(client, table);
    const filter = ['--filter', '#s = :s', ...status('open')];
    const refused = async (args: string[], message: string) => {
      const run = await runCli([...args, '--json', ...connection]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`error: ${message}`);
      expect(jsonSummary(run.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    };

    await refused(
      ['update', '--table', table, '--set', '{"x":1}'],
      `update without --filter or --key-condition changes every item of ${table}: add --all to say so (or --dry-run to see the plan first)`,
    );
    await refused(['update', '--table', table, ...filter], 'update needs --set, --add or --remove: what to change');
    await refused(
      ['update', '--table', table, ...filter, '--set', '{"x":1}', '--remove', 'x'],
      'the update is not valid: update: set x and remove x overlap',
    );
    await refused(
      ['update', '--table', table, ...filter, '--set', '{"x":1}', '--concurrency', 'adaptive'],
      '--concurrency adaptive drives BatchWriteItem calls; update sends one call per item here: give a number (default 4)',
    );
    await refused(
      ['delete', '--table', table, ...filter, '--concurrency', 'adaptive'],
      '--concurrency adaptive drives BatchWriteItem calls; delete sends one call per item here: give a number (default 4)',
    );
    expect(await scanRaw(client, table)).toEqual(before);

    const all = await runCli(['update', '--table', table, '--all', '--set', '{"x":1}', '--add', '{"n":1}', '--json', ...connection]);
    expect(all.code).toBe(0);
    expect(jsonSummary(all.stdout)).toMatchObject({ ok: true, read: 40, modified: 40, skippedByCondition: 0, failed: 0 });
    const after = await scanRaw(client, table);
    for (const item of items) expect(after.get(item.pk)).toEqual(marshall({ ...item, n: item.n + 1, x: 1 }));
  });

  it('should finish an update interrupted with SIGINT from its checkpoint, every matching item updated exactly once', async () => {
    const table = await createTable(client, uniqueTable('CliUpdateResume'));
    const items = Array.from({ length: 300 }, (_, i) => ({ pk: `s#${i}`, status: 'todo', n: 0 }));
    await seed(table, [...items, ...Array.from({ length: 20 }, (_, i) => ({ pk: `x#${i}`, status: 'other', n: 0 }))]);
    const order = [...(await scanRaw(client, table)).values()].map((i) => i.pk!.S!);
    const checkpointFile = join(tempDir(), 'update.checkpoint.json');
    // the update moves the item out of its filter: a page after the checkpoint, read again, skips what is done
    const args = ['update', '--table', table, '--filter', '#s = :s', ...status('todo'), '--set', '{"status":"done"}', '--add', '{"n":1}'];
    const resume = ['--resume', checkpointFile, '--json', ...connection];

    // pages of 10, one call at a time at 40 write units a second: ~7 s; interrupted at its first checkpoint
    const first = startCli([...args, ...resume, '--page-size', '10', '--concurrency', '1', '--capacity', '40']);
    await waitFor(
      'a checkpoint',
      () => existsSync(checkpointFile) && Boolean(JSON.parse(readFileSync(checkpointFile, 'utf8')).segments[0].startKey),
    );
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain(`--resume ${checkpointFile}`);
    const checkpoint = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { complete: boolean; segments: [{ startKey: Raw }] };
    expect(checkpoint).toMatchObject({ command: 'update', table, complete: false });
    const firstModified = Number(jsonSummary(interrupted.stdout).modified);
    const doneFirst = [...(await scanRaw(client, table)).values()].filter((i) => i.status!.S === 'done').length;
    expect(doneFirst).toBeGreaterThan(0);
    expect(doneFirst).toBeLessThan(300);
    // the one call in flight at the interrupt may have landed unanswered; nothing else was done uncounted
    expect(doneFirst - firstModified).toBeGreaterThanOrEqual(0);
    expect(doneFirst - firstModified).toBeLessThanOrEqual(1);

    const second = await runCli([...args, ...resume, '--page-size', '10']);
    expect(second.code).toBe(0);
    // it went on from the checkpoint's page: the keys after it, 10 a page, and the empty last page
    const rest = order.length - (order.indexOf(checkpoint.segments[0].startKey.pk!.S!) + 1);
    expect(jsonSummary(second.stdout)).toMatchObject({
      ok: true,
      read: 300 - doneFirst,
      modified: 300 - doneFirst,
      skippedByCondition: 0,
      failed: 0,
      scanCalls: Math.ceil(rest / 10) + (rest % 10 === 0 ? 1 : 0),
    });
    const after = await scanRaw(client, table);
    for (const { pk } of items) expect(after.get(pk)).toEqual(marshall({ pk, status: 'done', n: 1 })); // none at 2, none at 0
    expect([...after.values()].filter((i) => i.status!.S === 'other' && i.n!.N === '0')).toHaveLength(20);
    expect(JSON.parse(readFileSync(checkpointFile, 'utf8'))).toMatchObject({ complete: true });
  });

  it('should read every digit of a number in --values: a 64-bit id and a 38-digit decimal pick out their own items (JSON.parse would round them)', async () => {
    const table = await createTable(client, uniqueTable('CliExactValues'));
    // 18446744073709551615 and 18446744073709551616 are one double; so are the two 38-digit decimals
    await seed(table, [
      { pk: 'max', id: 18_446_744_073_709_551_615n, d: 1 },
      { pk: 'next', id: 18_446_744_073_709_551_616n, d: 2 },
    ]);
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'max' } },
        UpdateExpression: 'SET frac = :d',
        ExpressionAttributeValues: { ':d': { N: '0.12345678901234567890123456789012345678' } },
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'next' } },
        UpdateExpression: 'SET frac = :d',
        ExpressionAttributeValues: { ':d': { N: '0.12345678901234567890123456789012345679' } },
      }),
    );

    const byId = await runCli(['count', '--table', table, '--filter', 'id = :i', '--values', '{":i":18446744073709551615}', ...connection]);
    expect(byId).toMatchObject({ code: 0, stdout: '1\n' });
    const run = await runCli([
      'update',
      '--table',
      table,
      '--filter',
      'frac = :d',
      '--values',
      '{":d":0.12345678901234567890123456789012345679}',
      '--set',
      '{"hit":18446744073709551617}',
      '--json',
      ...connection,
    ]);
    expect(run.code).toBe(0);
    expect(jsonSummary(run.stdout)).toMatchObject({ read: 1, modified: 1, skippedByCondition: 0 });
    const rows = await scanRaw(client, table);
    expect(rows.get('next')!.hit).toEqual({ N: '18446744073709551617' });
    expect(rows.get('max')!.hit).toBeUndefined();
  });
});
