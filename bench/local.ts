/**
 * `dynamoBatchWrite` against the document-client promise pool of bench/engine.ts on DynamoDB Local, at concurrency 8:
 * 20,000 items a run, the two sides alternating (the order swapped every round), each run on a fresh table and
 * checked by a key-only scan. Local shares the 2 cores with the bench, so runs are noisy: the ratio is reported per
 * round, with its minimum and maximum.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { performance } from 'node:perf_hooks';
import { localClient } from '../test/helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../test/helpers/tables.js';
import { operatorWrite, poolWrite } from './engine.js';
import { checkTable, formatTable, makeItems } from './support.js';

export interface LocalRound {
  operator: number;
  pool: number;
  ratio: number;
  allPresent: boolean;
}

export interface LocalBench {
  items: number;
  concurrency: number;
  rounds: LocalRound[];
  min: number;
  max: number;
}

async function once(endpoint: string, side: 'operator' | 'pool', count: number, concurrency: number) {
  const client = localClient(endpoint);
  const doc = DynamoDBDocumentClient.from(client);
  try {
    const table = await createTable(client, uniqueTable('BenchLocal'));
    const items = makeItems(count);
    const t0 = performance.now();
    const written =
      side === 'operator' ? await operatorWrite(doc, table, items, concurrency) : await poolWrite(doc, table, items, concurrency);
    const itemsPerSec = (written * 1000) / (performance.now() - t0);
    const check = await checkTable(client, table, count);
    await client.send(new DeleteTableCommand({ TableName: table }));
    return { itemsPerSec, ok: check.ok };
  } finally {
    client.destroy();
  }
}

export async function runLocalBench(
  endpoint: string,
  options: { items?: number; rounds?: number; concurrency?: number } = {},
): Promise<LocalBench> {
  const { items = 20_000, rounds = 4, concurrency = 8 } = options;
  await once(endpoint, 'operator', 5_000, concurrency); // warm the JIT and Local
  await once(endpoint, 'pool', 5_000, concurrency);
  const results: LocalRound[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['operator', 'pool'] as const) : (['pool', 'operator'] as const);
    const got: Record<string, { itemsPerSec: number; ok: boolean }> = {};
    for (const side of order) got[side] = await once(endpoint, side, items, concurrency);
    const r = {
      operator: got.operator!.itemsPerSec,
      pool: got.pool!.itemsPerSec,
      ratio: got.operator!.itemsPerSec / got.pool!.itemsPerSec,
      allPresent: got.operator!.ok && got.pool!.ok,
    };
    results.push(r);
    process.stderr.write(
      `  Local c=${concurrency} round ${round + 1}: operator ${r.operator.toFixed(0)}, pool ${r.pool.toFixed(0)} items/s, ratio ${r.ratio.toFixed(2)}\n`,
    );
  }
  const ratios = results.map((r) => r.ratio);
  return { items, concurrency, rounds: results, min: Math.min(...ratios), max: Math.max(...ratios) };
}

export function formatLocalBench(bench: LocalBench): string {
  const rows = [['DynamoDB Local, concurrency ' + bench.concurrency, 'operator items/s', 'pool items/s', 'ratio', 'all present']];
  bench.rounds.forEach((r, i) =>
    rows.push([
      `round ${i + 1} (${bench.items} items)`,
      r.operator.toFixed(0),
      r.pool.toFixed(0),
      r.ratio.toFixed(2),
      r.allPresent ? 'yes' : 'NO',
    ]),
  );
  rows.push(['min - max', '', '', `${bench.min.toFixed(2)} - ${bench.max.toFixed(2)}`, '']);
  return formatTable(rows);
}
