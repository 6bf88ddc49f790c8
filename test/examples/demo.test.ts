import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import type { Progress } from 'rxjs-dynamodb';
import { parseArgs, progressLine, runDemo } from '../../scripts/demo.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { scanAll } from '../helpers/tables.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('scripts/demo.ts (npm run demo)', () => {
  it('should run the support-desk story on 5,000 tickets, with retries under simulated throttling, and pass every check', async () => {
    const lines: string[] = [];
    const { passed, checks, summary } = await runDemo({
      endpoint: inject('dynamoEndpoint'),
      tickets: 5_000,
      writeUnitsPerSecond: 1_500,
      keepTable: true,
      log: (line) => lines.push(line),
    });

    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(passed).toBe(true);
    expect(checks.map((c) => c.name)).toEqual(['written', 'dashboard', 'archived', 'remaining']);
    expect(summary.phases.write.items).toBe(5_000);
    expect(summary.phases.write.retried).toBeGreaterThan(0); // the throttling is visible
    expect(summary.throttled.requests).toBeGreaterThan(0);
    expect(summary.phases.archive.items).toBe(summary.resolved);
    expect(summary.resolved / 5_000).toBeGreaterThan(0.25);
    expect(summary.resolved / 5_000).toBeLessThan(0.35);
    expect(summary.dashboard.ids).toHaveLength(50);
    expect(summary.dashboard.gone).toEqual([summary.dashboard.ids[4], summary.dashboard.ids[19], summary.dashboard.ids[37]]);
    expect(lines.at(-1)).toMatch(/^All 4 checks passed in \d+\.\d s\.$/);
    expect(lines.some((line) => /^ {2}write: 5,000\/5,000, [\d,]+ retried/.test(line))).toBe(true); // plain progress lines
    // with concurrency 'adaptive', each line ends with the throughput controller's rate and why
    const rate = / concurrency \d+, (?:[\d,]+ u\/s|unbounded) \((?:starting|throttled|holding|probing)\)$/;
    expect(lines.filter((line) => /^ {2}(?:write|archive): /.test(line)).every((line) => rate.test(line))).toBe(true);

    // the table itself: the open tickets, less the three purged for the dashboard
    const client = localClient(inject('dynamoEndpoint'));
    const left = await scanAll(client, summary.table);
    client.destroy();
    expect(left).toHaveLength(5_000 - summary.resolved - 3);
    expect(left.every((ticket) => ticket.status === 'open')).toBe(true);
    expect(left.some((ticket) => summary.dashboard.gone.includes(String(ticket.id)))).toBe(false);
    expect(Object.keys(left[0]!).sort()).toEqual(['createdAt', 'id', 'queue', 'status', 'title']);
  });

  it("should print a plain progress line with the controller's rate when there is one, and as before when there is none", () => {
    const p = { done: 2_400, retried: 31, ratePerSecond: 1_480.4, concurrency: 16 } as Progress;
    expect(progressLine('write', 5_000, p)).toBe('  write: 2,400/5,000, 31 retried, 1,480/s, concurrency 16');
    expect(progressLine('write', 5_000, { ...p, rate: { unitsPerSecond: 1_950, reason: 'throttled' } })).toBe(
      '  write: 2,400/5,000, 31 retried, 1,480/s, concurrency 16, 1,950 u/s (throttled)',
    );
    expect(progressLine('archive', 1_500, { ...p, rate: { unitsPerSecond: null, reason: 'starting' } })).toBe(
      '  archive: 2,400/1,500, 31 retried, 1,480/s, concurrency 16, unbounded (starting)',
    );
  });

  it('should parse --endpoint, --tickets and --keep-table, and refuse anything else', () => {
    expect(parseArgs([])).toEqual({});
    expect(parseArgs(['--endpoint', 'http://127.0.0.1:8000', '--tickets=20,000', '--keep-table'])).toEqual({
      endpoint: 'http://127.0.0.1:8000',
      tickets: 20_000,
      keepTable: true,
    });
    expect(() => parseArgs(['--tickets', '0'])).toThrow('--tickets must be an integer >= 1, got 0');
    expect(() => parseArgs(['--endpoint'])).toThrow('--endpoint needs a value');
    expect(() => parseArgs(['--tables', '3'])).toThrow('unknown argument --tables');
  });

  it('should stop the DynamoDB Local it started and exit with 130 on Ctrl-C (SIGINT)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--tickets', '2000000'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const pid = /DynamoDB Local started at \S+ \(pid (\d+)\)/.exec(output)?.[1];
        if (pid) resolve(Number(pid));
      });
      child.once('exit', () => reject(new Error(`the demo exited before DynamoDB Local started:\n${output}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const javaPid = await started;
    expect(isRunning(javaPid)).toBe(true);

    child.kill('SIGINT');

    expect(await exited).toBe(130);
    expect(isRunning(javaPid)).toBe(false);
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
