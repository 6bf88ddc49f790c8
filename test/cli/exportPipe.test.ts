import { spawn } from 'node:child_process';
import { from, lastValueFrom } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';
import { BIN, ensureBuilt } from './helpers.js';

describe('rxjs-dynamodb export | head', () => {
  const endpoint = inject('dynamoEndpoint');
  const client = localClient(endpoint);
  beforeAll(ensureBuilt, 120_000);
  afterAll(() => client.destroy());

  it('should stop quietly with exit 0 when the reader of stdout closes it after two lines', async () => {
    const table = await createTable(client, uniqueTable('CliPipe'));
    const items = Array.from({ length: 3_000 }, (_, i) => ({ pk: `p#${i}`, pad: 'x'.repeat(200) }));
    await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, table)), { defaultValue: undefined });

    const child = spawn(
      process.execPath,
      [BIN, 'export', '--table', table, '--endpoint', endpoint, '--no-progress', '--page-size', '100'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // as `head -2` does: read two lines, then close the pipe
    const lines = await new Promise<string[]>((resolve) => {
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
        const got = text.split('\n');
        if (got.length > 2) {
          child.stdout.destroy();
          resolve(got.slice(0, 2));
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(lines.map((l) => (JSON.parse(l) as { pk: string }).pk.startsWith('p#'))).toEqual([true, true]);
    expect(stderr).not.toMatch(/EPIPE|stopped/);
    expect(code).toBe(0);
  }, 60_000);
});
