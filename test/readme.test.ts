/**
 * Issue 11: every CLI example in README.md runs as pasted against the local DynamoDB the README starts, and every
 * output and message it quotes is checked against the real text. README marks the blocks it quotes with an HTML
 * comment on the line before the fence: `<!-- readme-test: NAME -->`.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestScheduler } from 'rxjs/testing';
import { backpressure, type BackpressureStall, dynamoBatchWrite } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { targetNotice } from '../src/cli/target.js';
import { BIN, ensureBuilt, ROOT } from './cli/helpers.js';
import { type DynamoLocal, startDynamoLocal } from './helpers/dynamoLocal.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** A fenced block of the README: its info string (`sh`, `text`, …), its body, and the line its fence opens on. */
interface Block {
  lang: string;
  body: string;
  line: number;
}

/** Every fenced block of `markdown`, in order. */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README.md:${i + 1}: a fenced block that never closes`);
    blocks.push({ lang: open[1]!, body: lines.slice(i + 1, end).join('\n'), line: i + 1 });
    i = end;
  }
  return blocks;
}

/** The block right after `<!-- readme-test: NAME -->` (exactly one such marker, on the line before the fence). */
function markedBlock(markdown: string, name: string): Block {
  const lines = markdown.split('\n');
  const at = lines.flatMap((l, i) => (l.trim() === `<!-- readme-test: ${name} -->` ? [i] : []));
  if (at.length !== 1) throw new Error(`README.md has ${at.length} markers <!-- readme-test: ${name} --> (expected 1)`);
  const block = fencedBlocks(markdown).find((b) => b.line === at[0]! + 2);
  if (!block) throw new Error(`README.md:${at[0]! + 1}: <!-- readme-test: ${name} --> is not followed by a fenced block`);
  return block;
}

/** The block's non-empty lines. */
const linesOf = (block: Block) => block.body.split('\n').filter((l) => l.trim() !== '');

/** The quick start's expected output: the marked block, else the ```text block right after "It prints:". */
function quickStartOutput(markdown: string): Block {
  if (markdown.includes('<!-- readme-test: quick-start-output -->')) return markedBlock(markdown, 'quick-start-output');
  const at = markdown.indexOf('\nIt prints:\n');
  if (at < 0) throw new Error('README.md has no "It prints:" and no <!-- readme-test: quick-start-output --> marker');
  const line = markdown.slice(0, at).split('\n').length + 1;
  const block = fencedBlocks(markdown).find((b) => b.line > line);
  if (
    !block ||
    block.lang !== 'text' ||
    markdown
      .split('\n')
      .slice(line, block.line - 1)
      .some((l) => l.trim() !== '')
  )
    throw new Error(`README.md:${line}: "It prints:" is not followed by a \`\`\`text block`);
  return block;
}

/** The README's own DynamoDB Local, replaced by the test's. */
const README_ENDPOINT = 'http://127.0.0.1:8000';

/** `npx rxjs-dynamodb ARGS` (and a bare `rxjs-dynamodb ARGS`) run this clone's build, as they do in a project with the package. */
const SHIMS =
  'npx() { if [ "$1" = rxjs-dynamodb ]; then shift; "$NODE" "$CLI" "$@"; else command npx "$@"; fi; }\n' +
  'rxjs-dynamodb() { "$NODE" "$CLI" "$@"; }\n' +
  'set -o pipefail\n';

/** What one line of a README block did. */
interface LineRun {
  line: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs one README line with bash in `cwd`, against `endpoint`; no AWS settings of the machine leak in. */
function runLine(line: string, cwd: string, endpoint: string, timeoutMs = 120_000): Promise<LineRun> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && name !== 'DEBUG'));
  const script = SHIMS + line.replaceAll(README_ENDPOINT, endpoint);
  const child = spawn('bash', ['-c', script], {
    cwd,
    env: { ...env, NODE: process.execPath, CLI: BIN, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ line, code, signal, stdout, stderr }));
  });
}

const describeRun = (run: LineRun) =>
  `$ ${run.line}\nexit ${run.code}${run.signal ? ` (${run.signal})` : ''}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;

/** The lines of the output the README quotes with variable parts: in "in 0.7 s (1534/s)", the time and the rate. */
const normalise = (line: string) => line.replace(/ in \d+(\.\d+)? s \(\d+\/s\)/g, ' in # s (#/s)');

/** A `--json` summary without its `elapsedMs` (which varies), or `undefined` for a line that is not one. */
function summaryOf(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const { elapsedMs, ...rest } = JSON.parse(line) as Record<string, unknown>;
    return typeof elapsedMs === 'number' && elapsedMs >= 0 ? rest : { ...rest, elapsedMs };
  } catch {
    return undefined;
  }
}

/** Whether a printed line is what the README quotes. */
function sameLine(quoted: string, printed: string): boolean {
  const summary = summaryOf(quoted);
  if (summary) return JSON.stringify(summaryOf(printed)) === JSON.stringify(summary);
  return normalise(printed) === normalise(quoted);
}

/**
 * Each quoted line, in the order of the printed ones: a later quoted line comes from the same command or a later one,
 * and within one command from a later line of the same stream (stdout and stderr of one command have no common order).
 * Returns the quoted lines that were not found in that order.
 */
function unmatched(quoted: string[], runs: LineRun[]): string[] {
  const lines = runs.map((r) => ({ stdout: r.stdout.split('\n'), stderr: r.stderr.split('\n') }));
  let command = 0;
  let after = { stdout: -1, stderr: -1 };
  const missing: string[] = [];
  for (const line of quoted) {
    let found = false;
    for (let c = command; c < lines.length && !found; c++) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const from = c === command ? after[stream] + 1 : 0;
        const index = lines[c]![stream].findIndex((printed, i) => i >= from && sameLine(line, printed));
        if (index < 0) continue;
        if (c !== command) after = { stdout: -1, stderr: -1 };
        command = c;
        after[stream] = index;
        found = true;
        break;
      }
    }
    if (!found) missing.push(line);
  }
  return missing;
}

describe('README.md (issue 11)', () => {
  let local: DynamoLocal;
  let work: string;

  beforeAll(async () => {
    [local] = await Promise.all([startDynamoLocal(), ensureBuilt()]);
    work = mkdtempSync(join(tmpdir(), 'rxjs-dynamodb-readme-'));
  }, 120_000);
  afterAll(async () => {
    await local?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The quick start (the example script, as README says to run it in a clone), then the walkthrough, once. */
  let walkthrough: Promise<{ quickStart: string; runs: LineRun[] }> | undefined;
  const walk = () =>
    (walkthrough ??= (async () => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'examples', 'quick-start.ts')], {
        cwd: ROOT,
        env: { ...process.env, DYNAMODB_ENDPOINT: local.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      const runs: LineRun[] = [];
      for (const line of linesOf(markedBlock(README, 'cli-walkthrough'))) {
        const run = await runLine(line, work, local.endpoint);
        runs.push(run);
        if (run.code !== 0) break;
      }
      return { quickStart: stdout, runs };
    })());

  it('should run every line of the CLI walkthrough as pasted, after the quick start (cli-walkthrough)', async () => {
    const block = markedBlock(README, 'cli-walkthrough');
    expect(block.lang).toBe('sh');
    const lines = linesOf(block);
    expect(lines.some((l) => l.includes('--local'))).toBe(true);
    const { runs } = await walk();
    const failed = runs.find((r) => r.code !== 0);
    expect(failed && describeRun(failed)).toBeUndefined();
    expect(runs.map((r) => r.line)).toEqual(lines);
  }, 180_000);

  it('should print what the quick start says it prints (quick-start output)', async () => {
    const block = quickStartOutput(README);
    expect(block.lang).toBe('text');
    const { quickStart } = await walk();
    expect(quickStart).toBe(`${block.body}\n`);
  }, 180_000);

  it('should print every line the README quotes from the walkthrough, in order (cli-output)', async () => {
    const block = markedBlock(README, 'cli-output');
    expect(block.lang).toBe('text');
    const quoted = linesOf(block);
    const { runs } = await walk();
    expect(unmatched(quoted, runs), runs.map(describeRun).join('\n')).toEqual([]);
  }, 180_000);

  it('should say what the README quotes for a delete without --filter and a mistyped flag (cli-messages)', async () => {
    const block = markedBlock(README, 'cli-messages');
    expect(block.lang).toBe('text');
    const runs = await Promise.all(
      [
        `npx rxjs-dynamodb delete --table TicketsCopy --endpoint ${README_ENDPOINT}`,
        `npx rxjs-dynamodb count --tabel TicketsV2 --endpoint ${README_ENDPOINT}`,
      ].map((line) => runLine(line, work, local.endpoint)),
    );
    for (const run of runs) expect(run.code, describeRun(run)).toBe(2);
    const stderr = runs.flatMap((r) => r.stderr.split('\n'));
    expect(linesOf(block).filter((line) => !stderr.includes(line))).toEqual([]);
  }, 60_000);

  it('should quote the notice a command prints before it writes to AWS (target-notice)', () => {
    const block = markedBlock(README, 'target-notice');
    expect(block.lang).toBe('text');
    const notice = targetNotice(
      'delete items of table Tickets',
      {},
      {
        endpoint: 'https://dynamodb.eu-west-1.amazonaws.com',
        region: 'eu-west-1',
        tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Tickets',
      },
    );
    expect(notice).toBe(block.body);
  });

  it('should quote the stall warning of a backpressure link, with its defaults, and its code (stall-warning)', () => {
    const block = markedBlock(README, 'stall-warning');
    expect(block.lang).toBe('text');
    const code = /process warning \(code `([A-Z_]+)`/.exec(README)?.[1];
    expect(code).toBe('RXJS_DYNAMODB_STALLED');
    const stalls: Array<BackpressureStall & { at: number }> = [];
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
      scheduler.run(() => {
        // a plain filter(…) dropped all 10,000 items: the sink holds none and releases none
        for (const onStall of [(stall: BackpressureStall) => stalls.push({ ...stall, at: scheduler.now() }), undefined]) {
          const link = backpressure({ scheduler, ...(onStall ? { onStall } : {}) });
          link.emitted(10_000);
          link.attachSink(() => 0);
          link.ready().subscribe();
        }
      });
      expect(stalls).toHaveLength(1);
      expect(stalls[0]!.at).toBe(30_000);
      expect(stalls[0]!.message).toBe(block.body);
      expect(warnings.mock.calls).toEqual([[block.body, { code }]]);
    } finally {
      warnings.mockRestore();
    }
  });

  it("should quote the RangeError an operator's bad option throws when it is created", () => {
    const quoted = /`dynamoBatchWrite\(client, '([^']+)', \{ concurrency: (-?\d+) \}\)` throws\s+`(RangeError: [^`]+)`/.exec(README);
    expect(quoted, 'README quotes dynamoBatchWrite(client, …, { concurrency: N }) throwing a RangeError').not.toBeNull();
    const [, table, concurrency, message] = quoted!;
    const client = { send: () => Promise.reject(new Error('no call expected')) };
    let error: unknown;
    try {
      dynamoBatchWrite(client as never, table!, { concurrency: Number(concurrency) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect(String(error)).toBe(message);
  });

  it('should give --endpoint or --local to every command of a ```sh block that touches DynamoDB', () => {
    const command = /(^|[\s|;&(])(npx\s+)?rxjs-dynamodb\s+(import|export|copy|delete|count|update|migrate|diff|submit|worker)\b/;
    const sh = fencedBlocks(README).filter((b) => b.lang === 'sh');
    const touching = sh.flatMap((b) => b.body.split('\n').filter((l) => command.test(l)));
    expect(touching.length).toBeGreaterThan(10);
    expect(touching.filter((l) => !/\s--(endpoint|local)\b/.test(l))).toEqual([]);
  });
});
