/**
 * Drives the real `rxjs-dynamodb` binary (dist/cli/index.js) as a child process. The build is made once, under a
 * lock, when dist/cli/index.js is missing or older than a source file (`npm test` builds before the tests run).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'dist/cli/index.js');

const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
    const path = join(dir, entry.name);
    return Math.max(max, entry.isDirectory() ? newest(path) : entry.name.endsWith('.ts') ? statSync(path).mtimeMs : 0);
  }, 0);

const fresh = () => existsSync(BIN) && statSync(BIN).mtimeMs >= newest(join(ROOT, 'src'));

/** Builds the package (tsc) unless dist/cli is up to date; test files running side by side build once. */
export async function ensureBuilt(): Promise<void> {
  if (fresh()) return;
  const lock = join(tmpdir(), `rxjs-dynamodb-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) rmdirSync(lock);
      if (Date.now() > deadline) throw new Error(`waited 120 s for the build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!fresh()) {
      try {
        execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
          cwd: ROOT,
        });
      } catch (error) {
        // a type error elsewhere in src/ (someone's work in progress) still emits; only a missing binary is fatal
        if (!existsSync(BIN)) throw error;
      }
    }
  } finally {
    rmdirSync(lock);
  }
}

/** What a run of the binary gave. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a run: no AWS settings of the machine leak in; the SDK's Node 20 notice is off. */
function cliEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && name !== 'DEBUG'));
  return { ...clean, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env };
}

/** Starts the binary; `done` resolves when it exits. */
export function startCli(
  args: string[],
  options: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): { child: ChildProcess; done: Promise<CliRun> } {
  // a temporary working directory by default, so that a default dead-letter file never lands in the repository
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? tempDir(), env: cliEnv(options.env) });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs the binary to its end. */
export function runCli(args: string[], options: { cwd?: string; input?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return startCli(args, options).done;
}

/** The last line of the output that is a JSON object: the `--json` summary. */
export function jsonSummary(output: string): Record<string, unknown> {
  const line = output
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON summary in:\n${output}`);
  return JSON.parse(line) as Record<string, unknown>;
}

const made: string[] = [];

/** A new temporary directory, removed by {@link removeTempDirs}. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rxjs-dynamodb-cli-'));
  made.push(dir);
  return dir;
}

/** Removes the temporary directories this test file made (call it in `afterAll`). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** NDJSON text of these values. */
export const ndjson = (lines: unknown[]) => `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`;
