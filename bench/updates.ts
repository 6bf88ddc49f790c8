/**
 * The update bench (issue 12): `dynamoUpdate` against what a user writes today — a promise pool of N workers, each
 * sending `docClient.send(new UpdateCommand(…))` for one item at a time and sending it again with backoff when it is
 * throttled — both on one real SDK `DynamoDBDocumentClient` whose HTTP handler answers in-process after 5 ms (the
 * engine bench's responder), so the SDK's serialization is counted on both sides. Each update sets a status and adds
 * 1 to a counter (`SET #s = :s ADD #n :one`). Concurrency 8 and 16, the sides alternating, medians over rounds of
 * items/s and CPU µs per item.
 * Run alone: `npx tsx --tsconfig tsconfig.bench.json bench/updates.ts` (BENCH_SCALE, BENCH_ROUNDS as in bench/index.ts).
 */
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { from, lastValueFrom, reduce } from 'rxjs';
import { dynamoUpdate } from 'rxjs-dynamodb';
import { alternate, type EngineRun, Responder, responderClient } from './engine.js';
import { envNumber, formatTable } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);

/** The loop a user writes: N workers, one UpdateCommand per item, throttled calls sent again with backoff. */
export async function poolUpdate(doc: DynamoDBDocumentClient, table: string, ids: string[], concurrency: number): Promise<number> {
  let next = 0;
  let updated = 0;
  const worker = async () => {
    while (next < ids.length) {
      const pk = ids[next++]!;
      for (let attempt = 1; ; attempt++) {
        try {
          await doc.send(
            new UpdateCommand({
              TableName: table,
              Key: { pk },
              UpdateExpression: 'SET #s = :s ADD #n :one',
              ExpressionAttributeNames: { '#s': 'status', '#n': 'views' },
              ExpressionAttributeValues: { ':s': 'seen', ':one': 1 },
            }),
          );
          updated++;
          break;
        } catch (error) {
          if (attempt >= 10 || !THROTTLING.has((error as Error).name)) throw error;
          await sleep(Math.random() * Math.min(20_000, 100 * 2 ** (attempt - 1)));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return updated;
}

/** The same updates through `dynamoUpdate`, from plain JavaScript. */
export const operatorUpdate = (doc: DynamoDBDocumentClient, table: string, ids: string[], concurrency: number) =>
  lastValueFrom(
    from(ids.map((pk) => ({ key: { pk }, set: { status: 'seen' }, add: { views: 1 } }))).pipe(
      dynamoUpdate(doc, table, { concurrency, keyAttributes: ['pk'] }),
      reduce((n, r) => (r.status === 'written' ? n + 1 : n), 0),
    ),
  );

export interface UpdateRow {
  concurrency: number;
  operator: EngineRun;
  pool: EngineRun;
  roundRatios: number[];
}

/** Medians over alternating rounds of each side. */
export async function compareUpdates(concurrency: number, rounds: number, count: number, latencyMs = 5): Promise<UpdateRow> {
  const responder = new Responder(latencyMs);
  const doc = responderClient(responder);
  const ids = Array.from({ length: count }, (_, i) => `item#${i}`);
  const job = (side: 'operator' | 'pool') =>
    side === 'operator' ? () => operatorUpdate(doc, 'BenchTable', ids, concurrency) : () => poolUpdate(doc, 'BenchTable', ids, concurrency);
  const { operator, pool, roundRatios } = await alternate(`update c=${concurrency}`, rounds, count, responder, job);
  doc.destroy();
  return { concurrency, operator, pool, roundRatios };
}

export function formatUpdateBench(rows: UpdateRow[]): string {
  const table = [
    ['', 'concurrency', 'operator updates/s', 'pool updates/s', 'ratio', 'round ratios', 'CPU µs/item op / pool', 'CPU ratio'],
  ];
  for (const r of rows)
    table.push([
      'dynamoUpdate vs UpdateCommand pool',
      `${r.concurrency}`,
      r.operator.itemsPerSec.toFixed(0),
      r.pool.itemsPerSec.toFixed(0),
      (r.operator.itemsPerSec / r.pool.itemsPerSec).toFixed(2),
      r.roundRatios.map((x) => x.toFixed(2)).join(' '),
      `${r.operator.cpuMicrosPerItem.toFixed(1)} / ${r.pool.cpuMicrosPerItem.toFixed(1)}`,
      (r.operator.cpuMicrosPerItem / r.pool.cpuMicrosPerItem).toFixed(2),
    ]);
  return formatTable(table);
}

export async function runUpdateBench(options: { scale?: number; rounds?: number } = {}): Promise<UpdateRow[]> {
  const { scale = 1, rounds = 3 } = options;
  const count = Math.round(20_000 * scale);
  const rows: UpdateRow[] = [];
  for (const concurrency of [8, 16]) rows.push(await compareUpdates(concurrency, rounds, count));
  return rows;
}

if (process.argv[1]?.endsWith('bench/updates.ts')) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const rows = await runUpdateBench({ scale: envNumber('BENCH_SCALE', 1), rounds: Math.round(envNumber('BENCH_ROUNDS', 3)) });
  process.stdout.write(`${formatUpdateBench(rows)}\n`);
}
