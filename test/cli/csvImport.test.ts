/**
 * `import` of CSV through the built binary (issue 8): DynamoDB's number syntax and every digit in `:N` columns, line
 * numbers right across CRLF, bare CRs and records over several lines, a bad header stopping the job plainly, and a
 * stray quote that costs one line, not quadratic time.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, tempDir } from './helpers.js';

describe('rxjs-dynamodb import of CSV (issue 8)', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];
  const dir = tempDir();

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should take DynamoDB number syntax only, keep 38 digits, and name each bad row by its line', async () => {
    const table = await createTable(client, uniqueTable('CliCsvNumbers'));
    const rows = [
      'pk,amount:N,note,tags:JSON', // line 1
      'acct#1,12345678901234567890123456789012345678,"38 digits",[]', // 2
      'acct#2,0x1F,hex,[]', // 3: refused (was stored as 31)
      'acct#3,0b11,binary,[]', // 4: refused (was 3)
      'acct#4,1e-400,underflow,[]', // 5: refused (was 0)
      'acct#5,0.12345678901234567890123,"a note over', // 6
      'two lines, with ""quotes""","{""id"":18446744073709551615}"', // 7
      'acct#6,-9223372036854775808,bare\rcr,"[1.0000000000000000000001]"', // 8: a CR alone is data
      'acct#7,1e126,overflow,[]', // 9: refused
      'acct#8,1E-130,"tiny, but fine",null', // 10
    ];
    const file = join(dir, 'accounts.csv');
    writeFileSync(file, `${rows.join('\r\n')}\r\n`);
    const deadLetter = join(dir, 'accounts.dead-letter.ndjson');

    const run = await runCli(['import', file, '--table', table, '--dead-letter', deadLetter, '--json', ...connection]);

    expect(run.code).toBe(1);
    expect(jsonSummary(run.stdout)).toMatchObject({ format: 'csv', written: 4, failed: 4, lines: 10 });
    expect(run.stderr).toMatch(/^line 3: CSV: column amount: "0x1F" is not a number/m);
    expect(run.stderr).toMatch(/^line 4: CSV: column amount: "0b11" is not a number/m);
    expect(run.stderr).toMatch(/^line 5: CSV: column amount: 1e-400 is smaller than DynamoDB's smallest number/m);
    expect(run.stderr).toMatch(/^line 9: CSV: column amount: 1e126 is larger than DynamoDB's largest number/m);
    const dead = readFileSync(deadLetter, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; text: string });
    expect(dead.map((d) => [d.line, d.text])).toEqual([
      [3, rows[2]],
      [4, rows[3]],
      [5, rows[4]],
      [9, rows[8]],
    ]);

    const { Items = [] } = await client.send(new ScanCommand({ TableName: table }));
    const by = Object.fromEntries(Items.map((i) => [i.pk!.S!, i]));
    expect(Object.keys(by).sort()).toEqual(['acct#1', 'acct#5', 'acct#6', 'acct#8']);
    expect(by['acct#1']!.amount).toEqual({ N: '12345678901234567890123456789012345678' });
    expect(by['acct#5']!.amount).toEqual({ N: '0.12345678901234567890123' });
    expect(by['acct#5']!.note).toEqual({ S: 'a note over\r\ntwo lines, with "quotes"' });
    expect(by['acct#5']!.tags).toEqual({ M: { id: { N: '18446744073709551615' } } });
    expect(by['acct#6']!.amount).toEqual({ N: '-9223372036854775808' });
    expect(by['acct#6']!.note).toEqual({ S: 'bare\rcr' });
    expect(by['acct#6']!.tags).toEqual({ L: [{ N: '1.0000000000000000000001' }] });
    expect(by['acct#8']!.tags).toEqual({ NULL: true });
  });

  it('should stop on a bad header as bad input (exit 1), saying the header is bad and not that any line is settled', async () => {
    const table = await createTable(client, uniqueTable('CliCsvHeader'));
    const file = join(dir, 'header.csv');
    writeFileSync(file, 'pk,count:N,count\r\na,1,2\r\n');
    const run = await runCli(['import', file, '--table', table, '--json', ...connection]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/the CSV header \(line 1\) is bad: column count appears twice; nothing was imported/);
    expect(run.stderr).not.toMatch(/settled/);
    expect(jsonSummary(run.stdout)).toMatchObject({ ok: false, exitCode: 1 });
  });

  it('should read 40,000 rows after a stray quote in seconds, refusing only the line it is on (issue 8: 58 s)', async () => {
    const rows = ['pk,id:N,name'];
    for (let i = 1; i <= 40_000; i++) rows.push(`row#${i},${18_446_744_073_709_551_615n - BigInt(i)},name ${i}`);
    rows[2] = 'row#2,2,"a stray quote that is never closed';
    const file = join(dir, 'stray.csv');
    writeFileSync(file, `${rows.join('\n')}\n`);
    const started = Date.now();
    const run = await runCli(['import', file, '--table', 'NotNeededForADryRun', '--key', 'pk', '--dry-run', '--json', ...connection]);
    const elapsed = Date.now() - started;
    expect(run.code).toBe(1);
    expect(jsonSummary(run.stdout)).toMatchObject({ dryRun: true, items: 39_999, invalid: 1, lines: 40_001 });
    expect(run.stderr).toMatch(/^line 3: CSV: a quote opens a field on this line and is not closed by the end of the input/m);
    expect(elapsed).toBeLessThan(30_000); // about 2 s with the process start on a busy machine
  }, 60_000);
});
