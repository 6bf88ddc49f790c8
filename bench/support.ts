/** Small helpers for the bench: settings from the environment, items, the table check, and the aligned table. */
import { type DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** A positive number from the environment, or `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a number > 0, got ${JSON.stringify(raw)}`);
  return value;
}

const FILLER = 'The quick brown fox jumps over the lazy dog while the operator batches twenty-five puts per call. ';

/** `{ pk: 'item#N', n: N, text }`, about 200 B by DynamoDB's item-size rules (under 1 KB: one write unit). */
export function makeItem(n: number): { pk: string; n: number; text: string } {
  const text = `${n} ${FILLER}${FILLER}`.slice(0, 180);
  return { pk: `item#${n}`, n, text };
}

export const makeItems = (count: number) => Array.from({ length: count }, (_, i) => makeItem(i));

/** Whether every `item#0 … item#(expected-1)` is in the table, by a paginated scan of the key only. */
export interface TableCheck {
  expected: number;
  present: number;
  /** Items in the table that were not expected. */
  extra: number;
  ok: boolean;
}

export async function checkTable(client: DynamoDBClient, table: string, expected: number): Promise<TableCheck> {
  const seen = new Set<string>();
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ProjectionExpression: '#k', ExpressionAttributeNames: { '#k': 'pk' }, ExclusiveStartKey }),
    );
    for (const item of page.Items ?? []) if (item.pk?.S !== undefined) seen.add(item.pk.S);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  let present = 0;
  for (let i = 0; i < expected; i++) if (seen.has(`item#${i}`)) present += 1;
  const extra = seen.size - present;
  return { expected, present, extra, ok: present === expected && extra === 0 };
}

/** A process's peak resident set (VmHWM) in MB, from /proc; undefined where /proc is not available. */
export function procPeakRssMB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Rows aligned in columns: text left, numbers (cells that start with a digit) right. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = (s: string) => /^[\d.]/.test(s);
  return rows
    .map((r) =>
      r
        .map((cell, c) => (numeric(cell) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Sets `key` in bench/out/latest.json, keeping the other keys (or creating the file); returns its path. */
export async function saveToLatest(key: string, value: unknown): Promise<string> {
  const out = new URL('./out/', import.meta.url);
  await mkdir(out, { recursive: true });
  const latest = new URL('latest.json', out);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(await readFile(latest, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  json[key] = value;
  await writeFile(latest, `${JSON.stringify(json, null, 2)}\n`);
  return fileURLToPath(latest);
}
