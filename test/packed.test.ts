import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// What a consumer gets from the packed tarball, in an empty project — its dependencies linked from this clone's
// node_modules, so that no registry is needed. Packed with --ignore-scripts: `npm test` has just built dist, and
// prepack's fresh build would delete it under the CLI tests running alongside.
const root = resolve(import.meta.dirname, '..');
let work: string;
let project: string;
let files: string[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rxjs-dynamodb-packed-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' });
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = info!.files.map((f) => f.path);
  project = join(work, 'project');
  const installed = join(project, 'node_modules', 'rxjs-dynamodb');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, info!.filename), '-C', installed, '--strip-components=1']);
  for (const dep of ['rxjs', '@aws-sdk', '@smithy', '@aws-crypto', 'tslib', 'lossless-json', 'csv-parse', 'commander', 'cli-progress']) {
    const from = join(root, 'node_modules', dep);
    if (existsSync(from)) symlinkSync(from, join(project, 'node_modules', dep));
  }
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: project, encoding: 'utf8' });

describe('the packed tarball', () => {
  it('should build before packing, from scratch', () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.prepack).toBe('npm run build');
    expect(scripts.build).toMatch(/rmSync\('dist'.*&& tsc -p tsconfig\.build\.json$/);
  });

  it('should ship the build, its sources, README and LICENSE', () => {
    expect(files).toEqual(
      expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js']),
    );
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('scratch/'))).toBe(false);
  });

  it('should be loadable with require() and with import, both entry points', () => {
    const required = JSON.parse(
      run([
        '-e',
        "const r = require('rxjs-dynamodb'); const t = require('rxjs-dynamodb/testing'); console.log(JSON.stringify([typeof r.dynamoBatchWrite, typeof t.withFaults]))",
      ]),
    );
    expect(required).toEqual(['function', 'function']);
    const imported = JSON.parse(
      run([
        '--input-type=module',
        '-e',
        "const r = await import('rxjs-dynamodb'); const t = await import('rxjs-dynamodb/testing'); console.log(JSON.stringify([typeof r.dynamoBatchWrite, typeof t.withSimulatedCapacity]))",
      ]),
    );
    expect(imported).toEqual(['function', 'function']);
  });

  it('should ship every source a source map points to', () => {
    const dist = join(project, 'node_modules', 'rxjs-dynamodb', 'dist');
    const maps: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.map')) maps.push(path);
      }
    };
    walk(dist);
    expect(maps.length).toBeGreaterThan(10);
    const missing = maps.flatMap((map) =>
      (JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources
        .map((s) => resolve(dirname(map), s))
        .filter((s) => !existsSync(s)),
    );
    expect(missing).toEqual([]);
  });
});
