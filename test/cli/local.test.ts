import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, jsonSummary, ndjson, runCli, tempDir, removeTempDirs } from './helpers.js';

describe('rxjs-dynamodb --local', () => {
  beforeAll(ensureBuilt, 120_000);
  afterAll(removeTempDirs);

  it('should start its own DynamoDB Local, run the job on it, and stop it at the end', async () => {
    const dir = tempDir();
    const file = join(dir, 'local.ndjson');
    writeFileSync(file, ndjson(Array.from({ length: 500 }, (_, i) => ({ id: i, name: `n${i}` }))));

    const run = await runCli([
      'import',
      file,
      '--table',
      'Tickets',
      '--local',
      '--create-table',
      '--key',
      'id:N',
      '--json',
      '--no-progress',
    ]);

    expect(run.code).toBe(0);
    expect(jsonSummary(run.stdout)).toMatchObject({ ok: true, written: 500 });
    const pid = Number(/pid (\d+)/.exec(run.stderr)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/); // stopped
  });
});
