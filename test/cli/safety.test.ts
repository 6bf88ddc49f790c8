/**
 * The command line's safety and polish (issue 11), through the built binary: a mistyped flag is named with a
 * suggestion; the `--json` summaries count the Scan calls and the units DynamoDB reported; a writing command says
 * which account and region it is about to change when no flag chose them; a bad CSV header is an input error.
 */
import { BatchWriteItemCommand, DescribeTableCommand, ScanCommand, type ScanCommandInput } from '@aws-sdk/client-dynamodb';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, ndjson, removeTempDirs, runCli, tempDir } from './helpers.js';

const usage = '(add --help for usage)\n';

/** This machine's first IPv4 address that is not loopback. */
function outsideAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

/** A TCP proxy on `host` (an ephemeral port) to `port` on loopback, so that DynamoDB Local is reached through a non-loopback URL. */
async function proxy(host: string, port: number): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = createConnection({ host: '127.0.0.1', port });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port: listening } = server.address() as { port: number };
  return {
    endpoint: `http://${host}:${listening}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('rxjs-dynamodb safety and polish (issue 11)', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];
  const dir = tempDir();
  const items = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ pk: { S: `item#${String(i).padStart(4, '0')}` }, n: { N: String(i) } }));
  const seeded = async (prefix: string, n: number) => {
    const table = await createTable(client, uniqueTable(prefix));
    const all = items(n);
    for (let i = 0; i < all.length; i += 25)
      await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: all.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
      );
    return table;
  };
  /** The Scan calls and the units DynamoDB reports for the whole table, page by page, as the CLI would scan it. */
  const scanCost = async (input: ScanCommandInput) => {
    let calls = 0;
    let units = 0;
    let ExclusiveStartKey: ScanCommandInput['ExclusiveStartKey'];
    do {
      const page = await client.send(new ScanCommand({ ...input, ExclusiveStartKey, ReturnConsumedCapacity: 'TOTAL' }));
      calls++;
      units += page.ConsumedCapacity?.CapacityUnits ?? 0;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return { calls, units };
  };

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  describe('a mistyped flag', () => {
    it.each([
      [['export', '--tabel', 'T'], '--tabel', '--table'],
      [['import', 'in.ndjson', '--table', 'T', '--endpont', 'http://127.0.0.1:1'], '--endpont', '--endpoint'],
      [['copy', '--from', 'A', '--tp', 'B'], '--tp', '--to'],
      [['delete', '--table', 'T', '--al'], '--al', '--all'],
    ])('should be named as unknown with a suggestion, not reported as a missing required flag: %j', async (args, typo, meant) => {
      const run = await runCli(args);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`error: unknown option '${typo}'\n(Did you mean ${meant}?)\n${usage}`);
    });

    it('should still report a required flag that is missing, with exit code 2', async () => {
      const run = await runCli(['export', '--json']);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`error: required option '--table <name>' not specified\n${usage}`);
      const copy = await runCli(['copy', '--from', 'A']);
      expect(copy.code).toBe(2);
      expect(copy.stderr).toBe(`error: required option '--to <table>' not specified\n${usage}`);
    });
  });

  describe('the --json summary', () => {
    it('should count the Scan calls of export and the read units DynamoDB reported (was calls 0, unitsConsumed 0)', async () => {
      const table = await seeded('CliExportUnits', 300);
      const expected = await scanCost({ TableName: table, Limit: 100 });
      const output = join(dir, 'export.ndjson');
      const run = await runCli(['export', '--table', table, '--page-size', '100', '--output', output, '--json', ...connection]);
      expect(run.code).toBe(0);
      const summary = jsonSummary(run.stderr);
      expect(expected.calls).toBe(4); // 3 full pages, and the empty page DynamoDB adds when Limit divides the count
      expect(expected.units).toBeGreaterThan(0);
      expect(summary).toMatchObject({
        items: 300,
        pages: 4,
        calls: expected.calls,
        scanCalls: expected.calls,
        unitsConsumed: expected.units,
        readUnitsConsumed: expected.units,
      });
    });

    it('should count the reads and the writes of copy and delete, the writes of import, and the reads of count', async () => {
      const source = await seeded('CliCopyUnits', 300);
      const reads = await scanCost({ TableName: source, Limit: 100 });
      const target = await createTable(client, uniqueTable('CliCopyUnitsTo'));
      // 300 items of under 1 KB: 300 write units in 12 BatchWriteItem calls
      const copy = await runCli(['copy', '--from', source, '--to', target, '--page-size', '100', '--json', ...connection]);
      expect(copy.code).toBe(0);
      expect(jsonSummary(copy.stdout)).toMatchObject({
        written: 300,
        calls: reads.calls + 12,
        scanCalls: reads.calls,
        unitsConsumed: reads.units + 300,
        readUnitsConsumed: reads.units,
      });

      const counted = await scanCost({ TableName: target, Limit: 100, Select: 'COUNT' });
      const count = await runCli(['count', '--table', target, '--page-size', '100', '--json', ...connection]);
      expect(count.code).toBe(0);
      expect(counted.units).toBeGreaterThan(0);
      expect(jsonSummary(count.stdout)).toMatchObject({ count: 300, calls: counted.calls, unitsConsumed: counted.units });

      const keysOnly = await scanCost({
        TableName: target,
        Limit: 100,
        ProjectionExpression: '#k',
        ExpressionAttributeNames: { '#k': 'pk' },
      });
      const del = await runCli(['delete', '--table', target, '--all', '--page-size', '100', '--json', ...connection]);
      expect(del.code).toBe(0);
      expect(jsonSummary(del.stdout)).toMatchObject({
        deleted: 300,
        calls: keysOnly.calls + 12,
        scanCalls: keysOnly.calls,
        unitsConsumed: keysOnly.units + 300,
        readUnitsConsumed: keysOnly.units,
      });
      expect(await scanAll(client, target)).toEqual([]);

      const file = join(dir, 'units.ndjson');
      writeFileSync(file, ndjson(Array.from({ length: 60 }, (_, i) => ({ pk: `line#${i}`, n: i }))));
      const imported = await runCli(['import', file, '--table', target, '--json', ...connection]);
      expect(imported.code).toBe(0);
      expect(jsonSummary(imported.stdout)).toMatchObject({ written: 60, calls: 3, scanCalls: 0, unitsConsumed: 60, readUnitsConsumed: 0 });
    });
  });

  describe('a writing command with no --endpoint or --region', () => {
    const host = outsideAddress();
    /** DynamoDB Local must be reached through a non-loopback address; a machine without one cannot run these. */
    const skipped = host ? '' : ' (skipped: this machine has no non-loopback IPv4 address)';
    let through: Awaited<ReturnType<typeof proxy>> | undefined;
    const aws = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' };
    const tail = '(from your AWS configuration; pass --region or --endpoint to choose explicitly).';

    beforeAll(async () => {
      if (host) through = await proxy(host, Number(new URL(endpoint).port));
    });
    afterAll(() => through?.close());

    it.skipIf(!host)(
      `should say which account and region it is about to change, when the endpoint of the environment is not this machine${skipped}`,
      async () => {
        const { endpoint: outside } = through!;
        const env = { ...aws, AWS_ENDPOINT_URL_DYNAMODB: outside };
        const table = await seeded('CliNotice', 30);
        const arn = (await client.send(new DescribeTableCommand({ TableName: table }))).Table!.TableArn!;
        expect(arn.split(':')[4]).toBe('000000000000'); // DynamoDB Local's account
        const where = `in account 000000000000, region eu-west-1, through ${outside} ${tail}`;

        const del = await runCli(['delete', '--table', table, '--all', '--no-progress'], { env });
        expect(del.code).toBe(0);
        expect(del.stderr.split('\n')[0]).toBe(`About to delete items of table ${table} ${where}`);
        expect(await scanAll(client, table)).toEqual([]);

        const file = join(dir, 'notice.ndjson');
        writeFileSync(file, ndjson([{ pk: 'a' }, { pk: 'b' }]));
        const imported = await runCli(['import', file, '--table', table, '--no-progress'], { env });
        expect(imported.code).toBe(0);
        expect(imported.stderr.split('\n')[0]).toBe(`About to write items to table ${table} ${where}`);

        const target = uniqueTable('CliNoticeTo');
        const copy = await runCli(['copy', '--from', table, '--to', target, '--create-table', '--no-progress'], { env });
        expect(copy.code).toBe(0);
        // the target does not exist yet: the account is the source's, told before the table is made
        expect(copy.stderr.split('\n').slice(0, 2)).toEqual([
          `About to copy items of table ${table} into table ${target} ${where}`,
          `created table ${target} (key pk:S, on-demand)`,
        ]);
        expect(await scanAll(client, target)).toHaveLength(2);

        // reading commands and dry runs write nothing: no line
        const dry = await runCli(['delete', '--table', table, '--all', '--dry-run', '--no-progress'], { env });
        expect(dry.code).toBe(0);
        expect(dry.stderr).not.toMatch(/About to/);
        const count = await runCli(['count', '--table', table], { env });
        expect(count.stdout).toBe('2\n');
        expect(count.stderr).not.toMatch(/About to/);
      },
    );

    it.skipIf(!host)(`should say nothing when --endpoint or --region chose, or the endpoint is on this machine${skipped}`, async () => {
      const { endpoint: outside } = through!;
      const table = await seeded('CliNoNotice', 30);
      for (const [args, env] of [
        [['--endpoint', outside], aws],
        [['--region', 'eu-west-1'], { ...aws, AWS_ENDPOINT_URL_DYNAMODB: outside }],
        [[], { ...aws, AWS_ENDPOINT_URL_DYNAMODB: endpoint }],
        [[], { ...aws, AWS_ENDPOINT_URL: endpoint }],
      ] as const) {
        const run = await runCli(['delete', '--table', table, '--filter', 'n = :n', '--values', '{":n":1}', '--no-progress', ...args], {
          env,
        });
        expect(run.code, run.stderr).toBe(0);
        expect(run.stderr).not.toMatch(/About to/);
      }
    });
  });

  describe('a bad CSV header', () => {
    it('should be an input error naming the header (exit 1), not a stopped write (exit 3, "up to line 0 is settled")', async () => {
      const table = await createTable(client, uniqueTable('CliCsvBadHeader'));
      const file = join(dir, 'bad-header.csv');
      writeFileSync(file, 'pk,count:N,count\na,1,2\n');
      const message = `error: ${file}: the CSV header (line 1) is bad: column count appears twice; nothing was imported — fix the header and run again\n`;
      const checkpoint = join(dir, 'bad-header.checkpoint.json');

      const run = await runCli(['import', file, '--table', table, '--resume', checkpoint, '--json', ...connection]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(message);
      expect(jsonSummary(run.stdout)).toMatchObject({ ok: false, exitCode: 1 });

      const dry = await runCli(['import', file, '--table', table, '--dry-run', ...connection]);
      expect(dry.code).toBe(1);
      expect(dry.stderr).toBe(message);
      expect(await scanAll(client, table)).toEqual([]);
    });
  });
});
