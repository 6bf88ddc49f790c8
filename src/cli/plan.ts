/**
 * `--dry-run`: every item checked as DynamoDB would (key attributes present, non-empty and of the table's types,
 * at most 400 KB by `itemSize`), and the plan of the writes it would make: items, BatchWriteItem batches, calls,
 * bytes and estimated write capacity units (one per started KB of each item).
 */
import { BATCH_WRITE_MAX_REQUESTS, type Item, itemSize, MAX_ITEM_BYTES } from '../index.js';
import type { TableKey } from './table.js';

const typeOf = (value: unknown): 'S' | 'N' | 'B' | undefined =>
  typeof value === 'string'
    ? 'S'
    : typeof value === 'number' || typeof value === 'bigint'
      ? 'N'
      : value instanceof Uint8Array
        ? 'B'
        : undefined;

/** What is wrong with an item, or `undefined` when DynamoDB would take it; its size when it has one. */
export function checkItem(item: unknown, key: TableKey): { problem?: string; size: number } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return { problem: 'not an object', size: 0 };
  const record = item as Item;
  for (const name of key.names) {
    const value = record[name];
    if (value === undefined || value === null) return { problem: `key attribute "${name}" is missing`, size: 0 };
    const type = typeOf(value);
    if (!type) return { problem: `key attribute "${name}" must be a string, number or binary, got ${JSON.stringify(value)}`, size: 0 };
    const expected = key.types[name];
    if (expected && expected !== type)
      return { problem: `key attribute "${name}" is of type ${type}, the table's key is ${expected}`, size: 0 };
    if ((type === 'S' || type === 'B') && (value as string | Uint8Array).length === 0)
      return { problem: `key attribute "${name}" is empty; DynamoDB rejects empty key values`, size: 0 };
  }
  let size: number;
  try {
    size = itemSize(record);
  } catch (error) {
    return { problem: `cannot be stored in DynamoDB: ${(error as Error).message}`, size: 0 };
  }
  if (size > MAX_ITEM_BYTES) return { problem: `item is ${size} bytes, over DynamoDB's limit of ${MAX_ITEM_BYTES} bytes (400 KB)`, size };
  return { size };
}

/** The plan's numbers, as `--json` prints them. */
export interface PlanSummary {
  items: number;
  invalid: number;
  /** BatchWriteItem batches; 0 when each item has its own call (update, delete --filter). */
  batches: number;
  /** Write calls without retries (one per batch, or one per item), plus the Scan calls for copy, delete and update. */
  calls: number;
  /** Scan calls made to read the items (copy, delete). */
  scanCalls: number;
  /** Sum of the items' sizes by DynamoDB's rules. */
  bytes: number;
  /** Write capacity units: one per started KB of each item. */
  capacityUnits: number;
}

/** Adds up the plan as items are checked. */
export class Plan {
  /** `undefined`: items go in BatchWriteItem batches; else the call each item gets (update, delete --filter). */
  constructor(readonly perItem?: 'UpdateItem' | 'DeleteItem') {}
  items = 0;
  invalid = 0;
  bytes = 0;
  units = 0;
  scanCalls = 0;

  /** A valid item of this size. */
  add(size: number): void {
    this.items++;
    this.bytes += size;
    this.units += Math.max(1, Math.ceil(size / 1024));
  }

  summary(): PlanSummary {
    const batches = this.perItem ? 0 : Math.ceil(this.items / BATCH_WRITE_MAX_REQUESTS);
    return {
      items: this.items,
      invalid: this.invalid,
      batches,
      calls: (this.perItem ? this.items : batches) + this.scanCalls,
      scanCalls: this.scanCalls,
      bytes: this.bytes,
      capacityUnits: this.units,
    };
  }

  /** The plan as a reader wants it. */
  describe(what: string, verb = 'write'): string {
    const s = this.summary();
    const n = (x: number) => x.toLocaleString('en-US');
    return [
      `Dry run: ${what}. Nothing was written.`,
      `  items      ${n(s.items)} to ${verb}${s.invalid ? `, ${n(s.invalid)} invalid (not counted below; see the messages above)` : ''}`,
      ...(this.perItem
        ? [
            `  calls      ${n(s.calls)} (${n(s.items)} ${this.perItem}, one per item, without retries${s.scanCalls ? `, ${n(s.scanCalls)} Scan` : ''})`,
          ]
        : [
            `  batches    ${n(s.batches)} BatchWriteItem batches of up to ${BATCH_WRITE_MAX_REQUESTS}`,
            `  calls      ${n(s.calls)} (${n(s.batches)} BatchWriteItem without retries${s.scanCalls ? `, ${n(s.scanCalls)} Scan` : ''})`,
          ]),
      `  bytes      ${n(s.bytes)} (DynamoDB item size)`,
      `  capacity   ${n(s.capacityUnits)} write units (1 per started KB per item)`,
    ].join('\n');
  }
}
