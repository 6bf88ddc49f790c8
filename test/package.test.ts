import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// `npm test` builds before it runs the tests; this checks what a user's `import` really resolves to.
describe('the built package', () => {
  it('should resolve both entry points, with type declarations, as an ES module', () => {
    const script = `
      const root = await import('rxjs-dynamodb');
      const testing = await import('rxjs-dynamodb/testing');
      console.log(JSON.stringify({ root: Object.keys(root).sort(), testing: Object.keys(testing).sort() }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
    expect(out.root).toEqual(
      expect.arrayContaining([
        'dynamoBatchWrite',
        'dynamoBatchDelete',
        'dynamoBatchWriteRequests',
        'bufferBatch',
        'retryUnprocessed',
        'backoffDelay',
        'itemSize',
        'BatchWriteError',
      ]),
    );
    expect(out.testing).toEqual(expect.arrayContaining(['withSimulatedCapacity', 'withFaults']));
    expect(existsSync('dist/index.d.ts') && existsSync('dist/testing/index.d.ts')).toBe(true);
  });
});
