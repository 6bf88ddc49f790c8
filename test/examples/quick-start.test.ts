import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { quickStart } from '../../examples/quick-start.js';
import { uniqueTable } from '../helpers/tables.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/quick-start.ts', () => {
  it('should write 1,000 tickets and find them all in the table', async () => {
    const outcome = await quickStart(inject('dynamoEndpoint'), uniqueTable('QuickStart'));
    expect(outcome).toEqual({ written: 1000, count: 1000 });
  });

  it('should run a second time on the same table (it is there from the first run)', async () => {
    const table = uniqueTable('QuickStartTwice');
    await quickStart(inject('dynamoEndpoint'), table);
    expect(await quickStart(inject('dynamoEndpoint'), table)).toEqual({ written: 1000, count: 1000 });
  });

  it('should run as a script from a path with a space in it', async () => {
    // inside the repository, so that `rxjs-dynamodb` still resolves (to the build) as it does for examples/
    const dir = mkdtempSync(join(root, '.examples with space-'));
    try {
      const script = join(dir, 'quick-start.ts');
      copyFileSync(join(root, 'examples', 'quick-start.ts'), script);
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
        cwd: root,
        env: { ...process.env, DYNAMODB_ENDPOINT: inject('dynamoEndpoint') },
      });
      expect(stdout).toMatch(/^1000 tickets written, 1000 in the table$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
