/**
 * `export --output FILE --resume CKPT` (issue 8): the checkpoint records the file's length with each segment's key,
 * and a resumed export cuts the file back to it first, so an export killed at any moment leaves, once resumed, a file
 * with each item exactly once.
 */
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDynamoJsonItem } from '../../src/cli/dynamoJson.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, removeTempDirs, runCli, startCli, tempDir } from './helpers.js';

type Checkpoint = { segments: Array<{ startKey?: unknown; done: boolean }>; output: { path: string; bytes: number }; complete: boolean };

async function waitFor(path: string, ready: (c: Checkpoint) => boolean, timeoutMs = 30_000): Promise<Checkpoint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path)) {
      const checkpoint = JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
      if (ready(checkpoint)) return checkpoint;
    }
    if (Date.now() > deadline) throw new Error(`no checkpoint in ${path} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('rxjs-dynamodb export --output --resume (issue 8)', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];
  const total = 2_400;
  let table: string;

  beforeAll(async () => {
    await ensureBuilt();
    table = await createTable(client, uniqueTable('CliExportOutput'));
    const items = Array.from({ length: total }, (_, i) => ({
      pk: { S: `order#${String(i).padStart(5, '0')}` },
      customerId: { N: String(18_446_744_073_709_551_615n - BigInt(i)) },
      amount: { N: `${i}.12345678901234567890123` },
      tags: { SS: ['🦄', `t${i % 7}`] },
      digest: { B: new Uint8Array([i % 256, 0, 255]) },
      body: { S: 'x'.repeat(150) },
    }));
    for (let i = 0; i < items.length; i += 25)
      await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
      );
  }, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should leave every item exactly once after a SIGKILL and a resume, the file cut back to the checkpoint', async () => {
    const dir = tempDir();
    const output = join(dir, 'orders.ddb.json');
    const checkpointFile = join(dir, 'export.checkpoint.json');
    const args = [
      'export',
      '--table',
      table,
      '--format',
      'dynamodb-json',
      '--output',
      output,
      '--resume',
      checkpointFile,
      '--json',
      ...connection,
    ];

    // 3 segments of 30-item pages at 15 read units per second: killed midway, between checkpoints
    const first = startCli([...args, '--segments', '3', '--page-size', '30', '--capacity', '15']);
    const checkpoint = await waitFor(checkpointFile, (c) => c.output.bytes > 0 && c.segments.filter((s) => s.startKey).length >= 2);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const latest = JSON.parse(readFileSync(checkpointFile, 'utf8')) as Checkpoint;
    expect(latest).toMatchObject({ complete: false, output: { path: output } });
    expect(latest.output.bytes).toBeGreaterThanOrEqual(checkpoint.output.bytes);
    // what a kill in the middle of a write leaves: a partial line past the checkpoint (and perhaps whole pages)
    appendFileSync(output, '{"Item":{"pk":{"S":"order#');
    expect(statSync(output).size).toBeGreaterThan(latest.output.bytes);

    const second = await runCli(args); // --segments comes from the checkpoint
    expect(second.code, second.stderr).toBe(0);
    expect(jsonSummary(second.stderr)).toMatchObject({ ok: true, complete: true });
    expect(jsonSummary(second.stderr).items).toBeLessThan(total); // it did not start over

    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    const keys = lines.map((line) => parseDynamoJsonItem(line).pk as string);
    expect(new Set(keys).size).toBe(total);
    expect(keys).toHaveLength(total); // no duplicates, no gaps
    const item = parseDynamoJsonItem(lines.find((l) => l.includes('"order#00042"'))!);
    expect(item).toMatchObject({ customerId: 18_446_744_073_709_551_615n - 42n, amount: NumberValue.from('42.12345678901234567890123') });
    expect(item.tags).toEqual(new Set(['🦄', 't0']));
    expect(JSON.parse(readFileSync(checkpointFile, 'utf8'))).toMatchObject({ complete: true, output: { bytes: statSync(output).size } });
  });

  it('should refuse to resume into another output or format, or to a file shorter than the checkpoint says', async () => {
    const dir = tempDir();
    const output = join(dir, 'out.ndjson');
    const checkpointFile = join(dir, 'ckpt.json');
    writeFileSync(
      checkpointFile,
      JSON.stringify({
        command: 'export',
        table,
        totalSegments: 1,
        segments: [{ done: false }],
        complete: false,
        format: 'ndjson',
        output: { path: output, bytes: 100 },
      }),
    );
    const resume = (...extra: string[]) => runCli(['export', '--table', table, '--resume', checkpointFile, ...extra, ...connection]);

    const elsewhere = await resume('--output', join(dir, 'other.ndjson'));
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`was made for --output ${output}`);
    const toStdout = await resume();
    expect(toStdout.code).toBe(2);
    const format = await resume('--output', output, '--format', 'dynamodb-json');
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('was made for --format ndjson');
    writeFileSync(output, 'short\n');
    const short = await resume('--output', output);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/holds 6 bytes, fewer than the 100 the checkpoint says/);
    const gz = await runCli(['export', '--table', table, '--output', join(dir, 'x.ndjson.gz'), ...connection]);
    expect(gz.code).toBe(2);
    expect(gz.stderr).toMatch(/\| gzip >/);
  });
});
