import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { itemSize } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, ndjson, runCli, tempDir, removeTempDirs } from './helpers.js';

describe('rxjs-dynamodb import', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const dir = tempDir();
  const connection = ['--endpoint', endpoint, '--no-progress'];

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should write every valid NDJSON line, and report and dead-letter the bad ones with their line numbers', async () => {
    const table = await createTable(client, uniqueTable('CliImport'));
    const lines: unknown[] = Array.from({ length: 3_000 }, (_, i) => ({ pk: `t#${i + 1}`, line: i + 1, title: `Ticket ${i + 1}` }));
    lines[99] = '{"pk": "t#100", "line": 100,'; // line 100: malformed
    lines[1_999] = 'not json at all'; // line 2000: malformed
    lines[1_499] = { line: 1500, title: 'no key' }; // line 1500: missing key
    const file = join(dir, 'tickets.ndjson');
    writeFileSync(file, ndjson(lines));
    const deadLetter = join(dir, 'tickets.dead-letter.ndjson');

    const run = await runCli(['import', file, '--table', table, '--dead-letter', deadLetter, '--json', ...connection]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/line 100: malformed JSON/);
    expect(run.stderr).toMatch(/line 1500: Key attribute "pk" is missing/);
    expect(run.stderr).toMatch(/line 2000: malformed JSON/);
    expect(run.stderr).toContain(`dead-letter file ${deadLetter}`);
    const bad = readFileSync(deadLetter, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(bad.map((b) => b.line).sort((a, b) => a - b)).toEqual([100, 1500, 2000]);
    expect(bad.find((b) => b.line === 100).text).toBe('{"pk": "t#100", "line": 100,');
    expect(bad.find((b) => b.line === 1500)).toMatchObject({ item: { line: 1500 }, error: { code: 'request.missingKey' } });
    expect(jsonSummary(run.stdout)).toMatchObject({ command: 'import', ok: false, written: 2_997, failed: 3, lines: 3_000, exitCode: 1 });
    const items = await scanAll(client, table);
    expect(items).toHaveLength(2_997);
    const valid = lines.filter((l): l is { pk: string } => typeof l === 'object' && l !== null && 'pk' in l);
    const byPk = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.pk).localeCompare(String(b.pk));
    expect(items.sort(byPk)).toEqual([...valid].sort(byPk));
  });

  it('should import a CSV file with a header row: quoted fields, typed columns, bad rows dead-lettered', async () => {
    const table = await createTable(client, uniqueTable('CliCsv'));
    const csv = [
      'pk,title,count:N,done:BOOL,tags:JSON,note',
      'a#1,"Printer, on fire",3,true,"[""urgent"",""hw""]",',
      'a#2,"two\nlines with ""quotes""",2.5,false,{},""',
      'a#3,plain,not-a-number,true,1,x', // line 5: bad number
      'a#4,too,few', // line 6: wrong field count
      'a#5,last,7,false,null,end',
    ].join('\r\n');
    const file = join(dir, 'tickets.csv');
    writeFileSync(file, `${csv}\r\n`);

    const run = await runCli(['import', file, '--table', table, '--json', ...connection], { cwd: dir });

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/line 5: CSV: column count: "not-a-number" is not a number/);
    expect(run.stderr).toMatch(/line 6: CSV: has 3 fields, the header has 6/);
    const summary = jsonSummary(run.stdout);
    expect(summary).toMatchObject({ format: 'csv', written: 3, failed: 2 });
    // without --dead-letter, the bad rows go to a file named after the job, in the working directory
    expect(readdirSync(dir)).toContain(summary.deadLetter);
    const items = await scanAll(client, table);
    expect(items.sort((a, b) => String(a.pk).localeCompare(String(b.pk)))).toEqual([
      { pk: 'a#1', title: 'Printer, on fire', count: 3, done: true, tags: ['urgent', 'hw'] },
      { pk: 'a#2', title: 'two\nlines with "quotes"', count: 2.5, done: false, tags: {}, note: '' },
      { pk: 'a#5', title: 'last', count: 7, done: false, tags: null, note: 'end' },
    ]);
  });

  it('should import NDJSON from stdin (-) and exit 0 when every item was written', async () => {
    const table = await createTable(client, uniqueTable('CliStdin'));
    const lines = Array.from({ length: 120 }, (_, i) => ({ pk: `s#${i}`, n: i }));
    const input = ndjson(lines).replace('\n', '\n\n'); // a blank line is skipped

    const run = await runCli(['import', '-', '--table', table, '--json', '--concurrency', 'adaptive', ...connection], { input });

    expect(run.code).toBe(0);
    expect(jsonSummary(run.stdout)).toMatchObject({ ok: true, written: 120, failed: 0, deadLetter: null, exitCode: 0 });
    expect(await scanAll(client, table)).toHaveLength(120);
  });

  it("should show the throughput controller's rate in the status lines with --concurrency adaptive, and not without", async () => {
    const table = await createTable(client, uniqueTable('CliRate'));
    const file = join(dir, 'rate.ndjson');
    writeFileSync(file, ndjson(Array.from({ length: 4_000 }, (_, i) => ({ pk: `r#${i}` }))));
    const env = { RXJS_DYNAMODB_STATUS_INTERVAL_MS: '100' };
    // --capacity: the job lasts a couple of seconds, so that status lines are printed (stderr is not a terminal)
    const args = ['import', file, '--table', table, '--json', '--capacity', '2000', '--endpoint', endpoint];

    const adaptive = await runCli([...args, '--concurrency', 'adaptive'], { env });

    expect(adaptive.code).toBe(0);
    expect(jsonSummary(adaptive.stdout)).toMatchObject({ ok: true, written: 4_000 });
    const status =
      /^import: \d+ lines done, \d+ written, 0 failed, \d+\/s, (?:[\d,]+ u\/s|unbounded) \((?:starting|throttled|holding|probing)\), [\d.]+ s$/m;
    expect(adaptive.stderr).toMatch(status);

    const fixed = await runCli([...args, '--concurrency', '4'], { env });

    expect(fixed.code).toBe(0);
    expect(fixed.stderr).toMatch(/^import: \d+ lines done, \d+ written, 0 failed, \d+\/s, [\d.]+ s$/m);
    expect(fixed.stderr).not.toMatch(/u\/s|unbounded/);
  });

  it('should check every item with --dry-run, print the plan, and write nothing', async () => {
    const table = await createTable(client, uniqueTable('CliDry'), { sortKey: 'N' });
    const valid = Array.from({ length: 60 }, (_, i) => ({ pk: `d#${i}`, sk: i, body: 'x'.repeat(i * 50) }));
    const lines = [
      ...valid,
      { pk: 'd#missing-sort-key' },
      { pk: 'd#wrong-type', sk: 'one' },
      { pk: 'd#big', sk: 1, body: 'x'.repeat(410_000) },
    ];
    const file = join(dir, 'dry.ndjson');
    writeFileSync(file, ndjson(lines));

    const cwd = tempDir();
    const run = await runCli(['import', file, '--table', table, '--dry-run', '--json', ...connection], { cwd });

    expect(run.code).toBe(1); // invalid items
    expect(run.stderr).toMatch(/line 61: key attribute "sk" is missing/);
    expect(run.stderr).toMatch(/line 62: key attribute "sk" is of type S, the table's key is N/);
    expect(run.stderr).toMatch(/line 63: item is \d+ bytes, over DynamoDB's limit/);
    const bytes = valid.reduce((sum, item) => sum + itemSize(item), 0);
    const units = valid.reduce((sum, item) => sum + Math.ceil(itemSize(item) / 1024), 0);
    expect(jsonSummary(run.stdout)).toEqual(
      expect.objectContaining({ dryRun: true, ok: false, items: 60, invalid: 3, batches: 3, calls: 3, bytes, capacityUnits: units }),
    );
    expect(await scanAll(client, table)).toHaveLength(0);

    const plain = await runCli(['import', file, '--table', table, '--dry-run', '--key', 'pk,sk:N', ...connection]);
    expect(plain.stdout).toMatch(/Dry run: .*Nothing was written/);
    expect(plain.stdout).toMatch(/batches +3 BatchWriteItem batches/);
    expect(await scanAll(client, table)).toHaveLength(0);
    expect(readdirSync(cwd)).toEqual([]); // no dead-letter file either
  });

  it('should exit 2 on bad flags and 3 when the table does not exist', async () => {
    const file = join(dir, 'one.ndjson');
    writeFileSync(file, ndjson([{ pk: 'x' }]));
    const badFlag = await runCli(['import', file, '--table', 'T1234', '--concurrency', '0', ...connection]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--concurrency.*must be an integer >= 1, got 0/);
    const noTable = await runCli(['import', file, '--table', uniqueTable('CliMissing'), '--json', ...connection]);
    expect(noTable.code).toBe(3);
    expect(noTable.stderr).toMatch(/does not exist/);
    expect(jsonSummary(noTable.stdout)).toMatchObject({ command: 'import', ok: false, exitCode: 3 });
    // with --key there is no DescribeTable: the first write meets the missing table, and the job stops there
    const cwd = tempDir();
    const many = join(dir, 'many.ndjson');
    writeFileSync(many, ndjson(Array.from({ length: 500 }, (_, i) => ({ pk: `m#${i}` }))));
    const stopped = await runCli(['import', many, '--table', uniqueTable('CliMissing'), '--key', 'pk', ...connection], { cwd });
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toMatch(/import stopped: DynamoDB failed with ResourceNotFoundException/);
    expect(readdirSync(cwd)).toEqual([]); // not 500 dead letters
  });
});
