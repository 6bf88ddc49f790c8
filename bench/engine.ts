/**
 * The engine bench (issue 9): `dynamoBatchWrite` and `dynamoBatchGet` against what a user writes today — a promise
 * pool of N workers sending `docClient.send(new BatchWriteCommand(…))` (or `BatchGetCommand`) for 25 items (100 keys)
 * and re-sending `UnprocessedItems` (`UnprocessedKeys`) with backoff — both on one real SDK `DynamoDBDocumentClient`
 * whose HTTP handler is an in-process responder that answers after 5 ms. The SDK's request serialization and
 * response parsing run on both sides; only the network is gone. Concurrency 4, 8 and 16; each setting runs the two
 * sides alternately (the order swapped every round) and reports, per side, the median over rounds of:
 *   - items/s (wall time from start to the last item acknowledged),
 *   - CPU µs per item (`process.cpuUsage()`, user + system, over the run: the responder's share is the same on both
 *     sides),
 *   - calls in flight on average (the responder integrates its open requests over the run).
 * Run alone: `npx tsx bench/engine.ts` (BENCH_SCALE, BENCH_ROUNDS as in bench/index.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { performance } from 'node:perf_hooks';
import { from, lastValueFrom, reduce } from 'rxjs';
import { dynamoBatchGet, dynamoBatchWrite } from 'rxjs-dynamodb';
import { envNumber, formatTable, makeItems } from './support.js';

type Item = ReturnType<typeof makeItems>[number];

/** An SDK request handler answering in-process after `latencyMs`, with the open requests integrated over time. */
export class Responder {
  private open = 0;
  private area = 0;
  private since = performance.now();
  private started = performance.now();
  calls = 0;
  private readonly items = new Map<string, string>();

  constructor(
    private readonly latencyMs: number,
    items: Item[] = [],
  ) {
    // BatchGetItem answers: each item's JSON as DynamoDB would send it, ready to splice into a response
    for (const item of items)
      this.items.set(item.pk, `{"pk":{"S":${JSON.stringify(item.pk)}},"n":{"N":"${item.n}"},"text":{"S":${JSON.stringify(item.text)}}}`);
  }

  private tick(delta: number): void {
    const now = performance.now();
    this.area += this.open * (now - this.since);
    this.since = now;
    this.open += delta;
  }

  /** Starts measuring afresh. */
  reset(): void {
    this.area = 0;
    this.calls = 0;
    this.started = this.since = performance.now();
  }

  /** Calls in flight on average since `reset`. */
  get averageInFlight(): number {
    this.tick(0);
    const elapsed = this.since - this.started;
    return elapsed > 0 ? this.area / elapsed : 0;
  }

  readonly handler = {
    handle: async (request: { headers: Record<string, string>; body?: unknown }) => {
      this.tick(+1);
      this.calls++;
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      const target = request.headers['x-amz-target'] ?? '';
      let json = '{}';
      if (target.endsWith('BatchWriteItem')) json = '{"UnprocessedItems":{}}';
      else if (target.endsWith('BatchGetItem')) json = this.batchGet(request.body);
      else if (target.endsWith('DescribeTable'))
        json =
          '{"Table":{"TableName":"T","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}]}}';
      this.tick(-1);
      return {
        response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.from(json) },
      };
    },
  };

  private batchGet(body: unknown): string {
    const text = typeof body === 'string' ? body : Buffer.from(body as Uint8Array).toString('utf8');
    const input = JSON.parse(text) as { RequestItems: Record<string, { Keys: Array<{ pk: { S: string } }> }> };
    const parts: string[] = [];
    for (const [table, { Keys }] of Object.entries(input.RequestItems)) {
      const found = Keys.map((k) => this.items.get(k.pk.S)).filter((i) => i !== undefined);
      parts.push(`${JSON.stringify(table)}:[${found.join(',')}]`);
    }
    return `{"Responses":{${parts.join(',')}},"UnprocessedKeys":{}}`;
  }
}

/** A document client on the responder, as a user would make one (SDK defaults otherwise). */
export function responderClient(responder: Responder): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: 'local',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestHandler: responder.handler as never,
  });
  return DynamoDBDocumentClient.from(client);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const backoff = (attempt: number) => sleep(Math.random() * Math.min(20_000, 100 * 2 ** (attempt - 1)));

/** The loop a user writes: N workers, 25 items a call, `UnprocessedItems` re-sent with backoff. Returns items written. */
export async function poolWrite(doc: DynamoDBDocumentClient, table: string, items: Item[], concurrency: number): Promise<number> {
  let next = 0;
  let written = 0;
  const worker = async () => {
    for (;;) {
      const start = next;
      next += 25;
      if (start >= items.length) return;
      let requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 1; requests.length > 0; attempt++) {
        if (attempt > 10) throw new Error(`${requests.length} items still unprocessed after 10 calls`);
        if (attempt > 1) await backoff(attempt - 1);
        const output = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        const left = (output.UnprocessedItems?.[table] ?? []) as typeof requests;
        written += requests.length - left.length;
        requests = left;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return written;
}

/** The same for reads: 100 keys a call, `UnprocessedKeys` re-sent with backoff. Returns items read. */
export async function poolGet(
  doc: DynamoDBDocumentClient,
  table: string,
  keys: Array<{ pk: string }>,
  concurrency: number,
): Promise<number> {
  let next = 0;
  let read = 0;
  const worker = async () => {
    for (;;) {
      const start = next;
      next += 100;
      if (start >= keys.length) return;
      let Keys: Array<Record<string, unknown>> = keys.slice(start, start + 100);
      for (let attempt = 1; Keys.length > 0; attempt++) {
        if (attempt > 10) throw new Error(`${Keys.length} keys still unprocessed after 10 calls`);
        if (attempt > 1) await backoff(attempt - 1);
        const output = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys } } }));
        read += output.Responses?.[table]?.length ?? 0;
        Keys = output.UnprocessedKeys?.[table]?.Keys ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return read;
}

export const operatorWrite = (doc: DynamoDBDocumentClient, table: string, items: Item[], concurrency: number) =>
  lastValueFrom(
    from(items).pipe(
      dynamoBatchWrite(doc, table, { concurrency }),
      reduce((n, r) => n + r.requests.length, 0),
    ),
  );

export const operatorGet = (doc: DynamoDBDocumentClient, table: string, keys: Array<{ pk: string }>, concurrency: number) =>
  lastValueFrom(
    from(keys).pipe(
      dynamoBatchGet(doc, table, { concurrency }),
      reduce((n) => n + 1, 0),
    ),
  );

/** One timed run. */
export interface EngineRun {
  itemsPerSec: number;
  cpuMicrosPerItem: number;
  averageInFlight: number;
  done: number;
}

/** Times `job` (which returns how many items it wrote or read), with its CPU and the responder's calls in flight. */
export async function timed(responder: Responder, expected: number, job: () => Promise<number>): Promise<EngineRun> {
  if (global.gc) global.gc();
  responder.reset();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const done = await job();
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  const averageInFlight = responder.averageInFlight;
  if (done !== expected) throw new Error(`expected ${expected} items, got ${done}`);
  return { itemsPerSec: (done * 1000) / ms, cpuMicrosPerItem: (used.user + used.system) / done, averageInFlight, done };
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The two sides' runs, alternating (the order swapped every round) after an untimed warm-up of each: medians. */
export async function alternate(
  label: string,
  rounds: number,
  count: number,
  responder: Responder,
  job: (side: 'operator' | 'pool') => () => Promise<number>,
): Promise<{ operator: EngineRun; pool: EngineRun; roundRatios: number[] }> {
  for (const side of ['operator', 'pool'] as const) await job(side)();
  const runs: Record<'operator' | 'pool', EngineRun[]> = { operator: [], pool: [] };
  const roundRatios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['operator', 'pool'] as const) : (['pool', 'operator'] as const);
    const got: Partial<Record<'operator' | 'pool', EngineRun>> = {};
    for (const side of order) {
      const run = await timed(responder, count, job(side));
      runs[side].push(run);
      got[side] = run;
      process.stderr.write(
        `  ${label} round ${round + 1} ${side.padEnd(8)} ${run.itemsPerSec.toFixed(0)} items/s, ${run.cpuMicrosPerItem.toFixed(1)} µs CPU/item, ${run.averageInFlight.toFixed(2)} in flight\n`,
      );
    }
    roundRatios.push(got.operator!.itemsPerSec / got.pool!.itemsPerSec);
  }
  const summary = (list: EngineRun[]): EngineRun => ({
    itemsPerSec: median(list.map((r) => r.itemsPerSec)),
    cpuMicrosPerItem: median(list.map((r) => r.cpuMicrosPerItem)),
    averageInFlight: median(list.map((r) => r.averageInFlight)),
    done: count,
  });
  return { operator: summary(runs.operator), pool: summary(runs.pool), roundRatios };
}

export interface EngineRow {
  kind: 'write' | 'get';
  concurrency: number;
  operator: EngineRun;
  pool: EngineRun;
  /** Per round, operator items/s over pool items/s. */
  roundRatios: number[];
}

/** Medians over rounds of each side, the sides alternating. */
export async function compare(
  kind: 'write' | 'get',
  concurrency: number,
  rounds: number,
  count: number,
  latencyMs = 5,
): Promise<EngineRow> {
  const items = makeItems(count);
  const keys = items.map((i) => ({ pk: i.pk }));
  const responder = new Responder(latencyMs, kind === 'get' ? items : []);
  const doc = responderClient(responder);
  const table = 'BenchTable';
  const job = (side: 'operator' | 'pool') =>
    kind === 'write'
      ? side === 'operator'
        ? () => operatorWrite(doc, table, items, concurrency)
        : () => poolWrite(doc, table, items, concurrency)
      : side === 'operator'
        ? () => operatorGet(doc, table, keys, concurrency)
        : () => poolGet(doc, table, keys, concurrency);
  const { operator, pool, roundRatios } = await alternate(`${kind} c=${concurrency}`, rounds, count, responder, job);
  doc.destroy();
  return { kind, concurrency, operator, pool, roundRatios };
}

export function formatEngineBench(rows: EngineRow[]): string {
  const table: string[][] = [
    [
      '',
      'concurrency',
      'operator items/s',
      'pool items/s',
      'ratio',
      'round ratios',
      'CPU µs/item op / pool',
      'CPU ratio',
      'in flight op / pool',
    ],
  ];
  for (const r of rows)
    table.push([
      r.kind === 'write' ? 'dynamoBatchWrite vs BatchWriteCommand pool' : 'dynamoBatchGet vs BatchGetCommand pool',
      `${r.concurrency}`,
      r.operator.itemsPerSec.toFixed(0),
      r.pool.itemsPerSec.toFixed(0),
      (r.operator.itemsPerSec / r.pool.itemsPerSec).toFixed(2),
      r.roundRatios.map((x) => x.toFixed(2)).join(' '),
      `${r.operator.cpuMicrosPerItem.toFixed(1)} / ${r.pool.cpuMicrosPerItem.toFixed(1)}`,
      (r.operator.cpuMicrosPerItem / r.pool.cpuMicrosPerItem).toFixed(2),
      `${r.operator.averageInFlight.toFixed(2)} / ${r.pool.averageInFlight.toFixed(2)}`,
    ]);
  return formatTable(table);
}

export async function runEngineBench(options: { scale?: number; rounds?: number } = {}): Promise<EngineRow[]> {
  const { scale = 1, rounds = 3 } = options;
  const rows: EngineRow[] = [];
  const writes = Math.round(100_000 * scale);
  for (const concurrency of [4, 8, 16]) rows.push(await compare('write', concurrency, rounds, writes));
  for (const concurrency of [8, 16]) rows.push(await compare('get', concurrency, rounds, writes));
  return rows;
}

if (import.meta.url === new URL(process.argv[1]!, 'file:').href || process.argv[1]?.endsWith('bench/engine.ts')) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const rows = await runEngineBench({ scale: envNumber('BENCH_SCALE', 1), rounds: Math.round(envNumber('BENCH_ROUNDS', 3)) });
  process.stdout.write(`${formatEngineBench(rows)}\n`);
}
