/**
 * `npm run demo`: the support-desk story, end to end, on a DynamoDB Local it starts itself.
 *
 * 1. write 100,000 generated tickets with `dynamoBatchWrite` on a table that throttles (simulated capacity), with
 *    adaptive concurrency and a progress bar, so that retries happen and are counted;
 * 2. load a dashboard of 50 tickets by ID, in queue order, with `dynamoLookup` (some were deleted before: "gone");
 * 3. archive the resolved tickets: `scan` with a filter → `dynamoBatchDelete`, with a backpressure link between them;
 * 4. verify the counts against what it wrote, and print a summary. The exit code is 0 only if every check passed.
 *
 * ```sh
 * npm run demo                                   # embedded DynamoDB Local (needs Java 17), stopped at exit and on Ctrl-C
 * npm run demo -- --tickets 20000                # a smaller run
 * npm run demo -- --endpoint http://127.0.0.1:8000   # any DynamoDB; localhost endpoints get dummy credentials
 * ```
 *
 * Against a real AWS endpoint the demo creates (and at the end deletes) an on-demand table and uses your usual
 * credentials and region; `--keep-table` keeps it.
 */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import cliProgress from 'cli-progress';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { from, lastValueFrom, map, reduce, toArray } from 'rxjs';
import { backpressure, dynamoBatchDelete, dynamoBatchWrite, dynamoLookup, dynamoScan, dynamoScanPages, type Progress } from 'rxjs-dynamodb';
import { capacityStats, withSimulatedCapacity } from 'rxjs-dynamodb/testing';
import { localClient, startDynamoLocal, type DynamoLocal } from '../src/cli/dynamoLocal.js';
import { formatRate } from '../src/cli/progress.js';
import { seededRandom as prng } from '../src/internal/random.js';

export type Ticket = { id: string; queue: string; status: 'open' | 'resolved'; title: string; createdAt: string };

export interface DemoOptions {
  /** A DynamoDB to run against. @default none: start DynamoDB Local for the run, and stop it at the end */
  endpoint?: string;
  /** Tickets to generate and write. @default 100000 */
  tickets?: number;
  /** The simulated table's write capacity, units per second (1 unit = one ticket). @default 3000 */
  writeUnitsPerSecond?: number;
  /** Where the story and the summary go. A progress bar is drawn only when this is not given and stdout is a terminal. @default console.log */
  log?: (line: string) => void;
  /** Keep the table at the end. @default false: it is deleted */
  keepTable?: boolean;
  /** Seed of the generated tickets. @default 42 */
  seed?: number;
}

export interface PhaseSummary {
  items: number;
  calls: number;
  retried: number;
  ms: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoSummary {
  endpoint: string;
  table: string;
  tickets: number;
  resolved: number;
  dashboard: { ids: string[]; gone: string[] };
  /** Of the writes and deletes: requests the simulated table sent back unprocessed, calls it refused whole. */
  throttled: { requests: number; calls: number };
  phases: { write: PhaseSummary; dashboard: PhaseSummary; archive: PhaseSummary; verify: PhaseSummary };
  totalMs: number;
}

export interface DemoOutcome {
  passed: boolean;
  checks: Check[];
  summary: DemoSummary;
}

const QUEUES = ['accounts', 'billing', 'hardware', 'network', 'shipping'] as const;
const SUBJECTS = ['Printer', 'Invoice', 'VPN', 'Password', 'Laptop', 'Parcel', 'Refund', 'Wi-Fi', 'Badge', 'Monitor'];
const PROBLEMS = ['is on fire', 'will not start', 'was charged twice', 'is stuck', 'keeps dropping', 'went missing', 'is slow'];
const DASHBOARD_SIZE = 50;
/** Positions in the dashboard of tickets deleted beforehand (closed and purged), which the dashboard shows as gone. */
const PURGED_POSITIONS = [4, 19, 37];

/** `count` support tickets, about 30 % of them resolved, created over 90 days. */
export function generateTickets(count: number, seed = 42): Ticket[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const start = Date.UTC(2026, 0, 1);
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => ({
    id: `T-${String(i + 1).padStart(width, '0')}`,
    queue: pick(QUEUES),
    status: random() < 0.3 ? 'resolved' : 'open',
    title: `${pick(SUBJECTS)} ${pick(PROBLEMS)}`,
    createdAt: new Date(start + Math.floor(random() * 90 * 86_400_000)).toISOString(),
  }));
}

/** The item read back has exactly the ticket's attributes and values. */
const sameTicket = (item: Record<string, unknown>, ticket: Ticket) =>
  Object.keys(item).length === Object.keys(ticket).length &&
  (Object.keys(ticket) as Array<keyof Ticket>).every((name) => item[name] === ticket[name]);
const isLocalhost = (endpoint: string) => /^https?:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/i.test(endpoint);
const n = (value: number) => Math.round(value).toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * A plain progress line: `  write: 2,400/5,000, 31 retried, 1,480/s, concurrency 16, 1,950 u/s (throttled)` — the
 * last part, the rate the throughput controller drives the table at and why, only with `concurrency: 'adaptive'`.
 */
export function progressLine(label: string, total: number, p: Progress): string {
  return `  ${label}: ${n(p.done)}/${n(total)}, ${n(p.retried)} retried, ${n(p.ratePerSecond)}/s, concurrency ${p.concurrency}${p.rate ? `, ${formatRate(p.rate)}` : ''}`;
}

/** Progress from `onProgress`: a cli-progress bar on a terminal, otherwise a plain line every 2 s (and the last). */
function progressReporter(label: string, total: number, log: (line: string) => void, bar: boolean): (p: Progress) => void {
  if (bar) {
    const b = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(8)} {bar} {value}/{total} | {rate}/s | retried {retried} | concurrency {concurrency}{controller}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    b.start(total, 0, { rate: 0, retried: 0, concurrency: '-', controller: '' });
    return (p) => {
      b.update(p.done, {
        rate: n(p.ratePerSecond),
        retried: n(p.retried),
        concurrency: p.concurrency,
        controller: p.rate ? ` | ${formatRate(p.rate)}` : '',
      });
      if (p.complete) b.stop();
    };
  }
  let last = -Infinity;
  return (p) => {
    if (!p.complete && p.elapsedMs - last < 2_000) return;
    last = p.elapsedMs;
    log(progressLine(label, total, p));
  };
}

const phase = (p: Progress | undefined, items: number, ms: number): PhaseSummary => ({
  items,
  calls: p?.calls ?? 0,
  retried: p?.retried ?? 0,
  ms,
});

/** The story on one endpoint. */
async function story(endpoint: string, options: DemoOptions, log: (line: string) => void, bar: boolean): Promise<DemoOutcome> {
  const { tickets: count = 100_000, writeUnitsPerSecond = 3_000, keepTable = false, seed = 42 } = options;
  const started = performance.now();
  const client = isLocalhost(endpoint) ? localClient(endpoint) : new DynamoDBClient({ endpoint });
  // the table under load: every batch call goes through a token bucket of `writeUnitsPerSecond`, 1 s of burst, empty
  // at the start as on a table that other traffic keeps busy
  const throttled = withSimulatedCapacity(client, { writeUnitsPerSecond, burstSeconds: 1, startEmpty: true });
  const table = `Tickets_demo_${Date.now()}_${randomUUID().slice(0, 8)}`;
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    }),
  );
  try {
    await waitUntilTableExists({ client, maxWaitTime: 120 }, { TableName: table });
    const tickets = generateTickets(count, seed);
    const resolved = tickets.filter((t) => t.status === 'resolved').length;
    log(`Table ${table}: ${n(count)} tickets (${n(resolved)} resolved), simulated capacity ${n(writeUnitsPerSecond)} write units/s`);

    // 1. write, under throttling: adaptive concurrency finds the rate the table serves; unprocessed items are retried
    let t = performance.now();
    let writeProgress: Progress | undefined;
    const report = progressReporter('write', count, log, bar);
    const written = await lastValueFrom(
      from(tickets).pipe(
        dynamoBatchWrite(throttled, table, {
          concurrency: 'adaptive',
          onProgress: (p) => ((writeProgress = p), report(p)),
        }),
        reduce((sum, result) => sum + result.requests.length, 0),
      ),
      { defaultValue: 0 },
    );
    const write = phase(writeProgress, written, performance.now() - t);
    const afterWrite = capacityStats(throttled);

    // 2. the dashboard: the oldest open tickets, queue by queue; a few were closed and purged meanwhile
    t = performance.now();
    const ids = tickets
      .filter((ticket) => ticket.status === 'open')
      .sort((a, b) => a.queue.localeCompare(b.queue) || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .slice(0, DASHBOARD_SIZE)
      .map((ticket) => ticket.id);
    const purged = PURGED_POSITIONS.filter((i) => i < ids.length).map((i) => ids[i]!);
    await lastValueFrom(from(purged.map((id) => ({ id }))).pipe(dynamoBatchDelete(client, table)), { defaultValue: undefined });
    let lookupProgress: Progress | undefined;
    const rows = await lastValueFrom(
      from(ids.map((id) => ({ id }))).pipe(dynamoLookup(client, table, { onProgress: (p) => (lookupProgress = p) }), toArray()),
    );
    const dashboard = phase(lookupProgress, rows.length, performance.now() - t);
    const gone = rows.filter((row) => row.item === undefined).map((row) => String(row.key.id));
    const byId = new Map(tickets.map((ticket) => [ticket.id, ticket]));
    for (const row of rows.slice(0, 6)) {
      const ticket = byId.get(String(row.key.id))!;
      log(`  ${ticket.id}  ${ticket.queue.padEnd(9)} ${ticket.createdAt.slice(0, 10)}  ${row.item ? String(row.item.title) : '(gone)'}`);
    }
    log(`  … ${rows.length} rows in queue order, ${gone.length} gone: ${gone.join(', ')}`);

    // 3. archive: scan the resolved tickets and delete them; the scan pages only while the deletes keep up
    t = performance.now();
    const link = backpressure({ highWaterMark: 5_000 });
    let archiveProgress: Progress | undefined;
    const reportArchive = progressReporter('archive', resolved, log, bar);
    const archived = await lastValueFrom(
      dynamoScan(
        client,
        {
          TableName: table,
          FilterExpression: '#status = :resolved',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':resolved': 'resolved' },
        },
        { backpressure: link },
      ).pipe(
        dynamoBatchDelete(throttled, table, {
          concurrency: 'adaptive',
          backpressure: link,
          onProgress: (p) => ((archiveProgress = p), reportArchive(p)),
        }),
        reduce((sum, result) => sum + result.requests.length, 0),
      ),
      { defaultValue: 0 },
    );
    const archive = phase(archiveProgress, archived, performance.now() - t);
    const afterArchive = capacityStats(throttled);

    // 4. verify against what was written
    t = performance.now();
    const countWhere = (filter?: {
      FilterExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, string>;
    }) => {
      let calls = 0;
      return lastValueFrom(
        dynamoScanPages(client, { TableName: table, Select: 'COUNT', ConsistentRead: true, ...filter }).pipe(
          map((page) => (calls++, page.count)),
          reduce((sum, c) => sum + c, 0),
        ),
        { defaultValue: 0 },
      ).then((total) => ({ total, calls }));
    };
    const remaining = await countWhere();
    const resolvedLeft = await countWhere({
      FilterExpression: '#status = :resolved',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':resolved': 'resolved' },
    });
    const verify: PhaseSummary = {
      items: remaining.total,
      calls: remaining.calls + resolvedLeft.calls,
      retried: 0,
      ms: performance.now() - t,
    };

    const expectedRemaining = count - resolved - purged.length;
    const found = rows.filter((row) => row.item !== undefined);
    const checks: Check[] = [
      { name: 'written', ok: written === count, detail: `${n(written)} written of ${n(count)} generated` },
      {
        name: 'dashboard',
        ok:
          rows.length === ids.length &&
          rows.every((row, i) => row.key.id === ids[i]) &&
          gone.join() === purged.join() &&
          found.every((row) => sameTicket(row.item!, byId.get(String(row.key.id))!)),
        detail: `${rows.length} rows of ${ids.length}, in queue order, gone ${gone.length} of ${purged.length} purged`,
      },
      { name: 'archived', ok: archived === resolved, detail: `${n(archived)} archived of ${n(resolved)} resolved` },
      {
        name: 'remaining',
        ok: remaining.total === expectedRemaining && resolvedLeft.total === 0,
        detail: `${n(remaining.total)} in the table = ${n(count)} − ${n(resolved)} resolved − ${purged.length} purged (${n(expectedRemaining)}); ${resolvedLeft.total} resolved left`,
      },
    ];
    const summary: DemoSummary = {
      endpoint,
      table,
      tickets: count,
      resolved,
      dashboard: { ids, gone },
      throttled: { requests: afterArchive.writeRequestsThrottled, calls: afterArchive.callsThrottled },
      phases: { write, dashboard, archive, verify },
      totalMs: performance.now() - started,
    };
    printSummary(summary, checks, afterWrite.writeRequestsThrottled, log);
    return { passed: checks.every((c) => c.ok), checks, summary };
  } finally {
    if (!keepTable) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    client.destroy();
  }
}

function printSummary(summary: DemoSummary, checks: Check[], throttledInWrite: number, log: (line: string) => void): void {
  const { write, dashboard, archive, verify } = summary.phases;
  const row = (name: string, p: PhaseSummary) =>
    `  ${name.padEnd(10)}${n(p.items).padStart(9)}${n(p.calls).padStart(8)}${n(p.retried).padStart(9)}${n(p.ms > 0 ? (p.items / p.ms) * 1000 : 0).padStart(9)}${seconds(p.ms).padStart(9)}`;
  log('');
  log(`  phase         items   calls  retried  items/s     time`);
  log(row('write', write));
  log(row('dashboard', dashboard));
  log(row('archive', archive));
  log(row('verify', verify));
  log(
    `  simulated throttling: ${n(throttledInWrite)} write requests sent back unprocessed during the write, ${n(summary.throttled.requests - throttledInWrite)} during the archive; ${n(summary.throttled.calls)} calls refused whole`,
  );
  log('');
  for (const check of checks) log(`  ${check.ok ? 'PASS' : 'FAIL'}  ${check.name.padEnd(10)} ${check.detail}`);
  const failed = checks.filter((c) => !c.ok).length;
  log('');
  log(failed === 0 ? `All ${checks.length} checks passed in ${seconds(summary.totalMs)}.` : `${failed} of ${checks.length} checks FAILED.`);
}

/**
 * Runs the demo: on `endpoint`, or on a DynamoDB Local started for the run (stopped at the end, and on SIGINT or
 * SIGTERM, after which the process exits with 130 or 143).
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoOutcome> {
  const log = options.log ?? ((line: string) => console.log(line));
  const bar = options.log === undefined && process.stdout.isTTY === true;
  const count = options.tickets ?? 100_000;
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`tickets must be an integer >= 1, got ${count}`);
  log(`rxjs-dynamodb demo: the support desk, ${n(count)} tickets`);
  if (options.endpoint !== undefined) {
    log(`DynamoDB at ${options.endpoint}`);
    return story(options.endpoint, options, log, bar);
  }

  let stopping = false;
  const starting = startDynamoLocal();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`\n${signal}: stopping DynamoDB Local…`);
    void starting
      .then(
        (local) => local.stop(),
        () => undefined,
      )
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let local: DynamoLocal | undefined;
  try {
    local = await starting;
    log(`DynamoDB Local started at ${local.endpoint} (pid ${local.pid}); it stops at exit and on Ctrl-C`);
    return await story(local.endpoint, options, log, bar);
  } finally {
    await local?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--endpoint URL`, `--tickets N`, `--keep-table` (also as `--name=value`). */
export function parseArgs(argv: string[]): DemoOptions {
  const options: DemoOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--endpoint') options.endpoint = value();
    else if (flag === '--tickets') {
      const v = value();
      options.tickets = Number(v.replace(/[_,]/g, ''));
      if (!(Number.isInteger(options.tickets) && options.tickets >= 1)) throw new Error(`--tickets must be an integer >= 1, got ${v}`);
    } else if (flag === '--keep-table') options.keepTable = true;
    else throw new Error(`unknown argument ${argv[i]}; usage: npm run demo -- [--endpoint URL] [--tickets N] [--keep-table]`);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let options: DemoOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  try {
    const { passed } = await runDemo(options);
    process.exitCode = passed ? 0 : 1;
  } catch (error) {
    console.error('The demo failed:', error);
    process.exitCode = 1;
  }
}
