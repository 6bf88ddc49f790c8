import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';
import { ensureBuilt, jsonSummary, ndjson, runCli, startCli, tempDir, removeTempDirs } from './helpers.js';

type Row = Record<string, unknown>;

/** Polls the checkpoint file until `ready` says so (it is replaced atomically, so it always parses). */
async function waitForCheckpoint(path: string, ready: (checkpoint: Row) => boolean, timeoutMs = 20_000): Promise<Row> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path)) {
      const checkpoint = JSON.parse(readFileSync(path, 'utf8')) as Row;
      if (ready(checkpoint)) return checkpoint;
    }
    if (Date.now() > deadline) throw new Error(`no checkpoint in ${path} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('rxjs-dynamodb --resume', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should go on after a SIGKILL from the line checkpoint, sending no line before it again', async () => {
    const table = await createTable(client, uniqueTable('CliResume'));
    const dir = tempDir();
    const file = join(dir, 'big.ndjson');
    const total = 8_000;
    writeFileSync(file, ndjson(Array.from({ length: total }, (_, i) => ({ pk: `r#${i + 1}`, line: i + 1 }))));
    const checkpointFile = join(dir, 'import.checkpoint.json');
    const args = ['import', file, '--table', table, '--resume', checkpointFile, '--json', ...connection];

    // 1,000 write units per second: the job takes ~7 s, and is killed at its first checkpoint
    const first = startCli([...args, '--capacity', '1000']);
    const checkpoint = await waitForCheckpoint(checkpointFile, (c) => Number(c.line) > 0);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const line = Number(checkpoint.line);
    expect(line).toBeLessThan(total);
    expect(checkpoint).toMatchObject({ command: 'import', table, complete: false });

    // mark what is in the table for lines up to the checkpoint: if the rerun sent any of them again, the mark would go
    const before = await scanAll(client, table);
    const settled = before.filter((item) => Number(item.line) <= line);
    expect(settled.length).toBeGreaterThanOrEqual(line); // everything up to the checkpoint was written
    await lastValueFrom(from(settled.map((item) => ({ ...item, mark: 'before the rerun' }))).pipe(dynamoBatchWrite(client, table)), {
      defaultValue: undefined,
    });

    // with progress on and stderr not a terminal: a plain status line per interval
    const second = await runCli(
      args.filter((a) => a !== '--no-progress'),
      { env: { RXJS_DYNAMODB_STATUS_INTERVAL_MS: '100' } },
    );
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`resuming after line ${line}`);
    expect(second.stderr).toMatch(/^import: \d+ lines done, \d+ written, 0 failed, \d+\/s, [\d.]+ s$/m);
    expect(jsonSummary(second.stdout)).toMatchObject({ ok: true, resumedFromLine: line, written: total - line, failed: 0 });
    const after = await scanAll(client, table);
    expect(after).toHaveLength(total);
    expect(after.filter((item) => Number(item.line) <= line).every((item) => item.mark === 'before the rerun')).toBe(true);
    expect(after.filter((item) => Number(item.line) > line).some((item) => item.mark)).toBe(false);
    expect(JSON.parse(readFileSync(checkpointFile, 'utf8'))).toMatchObject({ line: total, complete: true });

    // a third run has nothing left to do
    const third = await runCli(args);
    expect(jsonSummary(third.stdout)).toMatchObject({ ok: true, written: 0, resumedFromLine: total });
  });

  it('should resume an export interrupted with SIGINT from the per-segment LastEvaluatedKey, exit code 130 first', async () => {
    const table = await createTable(client, uniqueTable('CliExportResume'));
    const items = Array.from({ length: 3_000 }, (_, i) => ({ pk: `e#${i}`, body: 'x'.repeat(200) }));
    await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, table)), { defaultValue: undefined });
    const checkpointFile = join(tempDir(), 'export.checkpoint.json');
    const args = ['export', '--table', table, '--resume', checkpointFile, '--json', ...connection];

    // 50-item pages at 10 read units per second: slow enough to interrupt midway
    const first = startCli([...args, '--segments', '3', '--page-size', '50', '--capacity', '10']);
    await waitForCheckpoint(checkpointFile, (c) => (c.segments as Row[]).some((s) => s.startKey));
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain(`--resume ${checkpointFile}`);
    const checkpoint = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { segments: Row[]; complete: boolean; totalSegments: number };
    expect(checkpoint).toMatchObject({ complete: false, totalSegments: 3 });

    const second = await runCli(args); // --segments comes from the checkpoint
    expect(second.code).toBe(0);
    const exported = [...interrupted.stdout.trim().split('\n'), ...second.stdout.trim().split('\n')].map((l) => (JSON.parse(l) as Row).pk);
    expect(new Set(exported)).toEqual(new Set(items.map((i) => i.pk)));
    // only pages written out after the last checkpoint came again
    expect(exported.length - items.length).toBeLessThan(interrupted.stdout.trim().split('\n').length);
    expect(JSON.parse(readFileSync(checkpointFile, 'utf8'))).toMatchObject({ complete: true });
  });
});

describe('rxjs-dynamodb copy --resume', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  const connection = ['--endpoint', endpoint, '--no-progress'];

  beforeAll(ensureBuilt, 120_000);
  afterAll(() => {
    client.destroy();
    removeTempDirs();
  });

  it('should finish a copy killed midway, each segment from the last page whose items were all written', async () => {
    const source = await createTable(client, uniqueTable('CliCopyResumeFrom'));
    const target = await createTable(client, uniqueTable('CliCopyResumeTo'));
    const items = Array.from({ length: 3_000 }, (_, i) => ({ pk: `c#${i}`, n: i }));
    await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, source)), { defaultValue: undefined });
    const checkpointFile = join(tempDir(), 'copy.checkpoint.json');
    const args = ['copy', '--from', source, '--to', target, '--resume', checkpointFile, '--json', ...connection];

    const first = startCli([...args, '--segments', '2', '--page-size', '100', '--capacity', '500']);
    const checkpoint = await waitForCheckpoint(checkpointFile, (c) => (c.segments as Row[]).some((s) => s.startKey));
    first.child.kill('SIGKILL');
    await first.done;
    expect(checkpoint).toMatchObject({ command: 'copy', table: source, totalSegments: 2, complete: false });
    expect((await scanAll(client, target)).length).toBeLessThan(items.length);

    const second = await runCli(args);
    expect(second.code).toBe(0);
    expect(jsonSummary(second.stdout).read).toBeLessThan(items.length); // it did not start over
    const copied = await scanAll(client, target);
    expect(copied.map((i) => i.pk).sort()).toEqual(items.map((i) => i.pk).sort());
  });
});
