import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';

type Numeric = { [key: string]: number | string | Numeric | undefined };

function addInto(target: Numeric, source: Numeric): void {
  for (const [k, v] of Object.entries(source)) {
    if (typeof v === 'number') target[k] = ((target[k] as number | undefined) ?? 0) + v;
    else if (typeof v === 'object' && v !== null) addInto((target[k] ??= {}) as Numeric, v);
    else if (target[k] === undefined) target[k] = v;
  }
}

/** Sums ConsumedCapacity entries per table (capacity units, and per index for `INDEXES`), in first-seen table order. */
export function sumConsumedCapacity(entries: ConsumedCapacity[]): ConsumedCapacity[] {
  const byTable = new Map<string | undefined, Numeric>();
  for (const entry of entries) {
    let sum = byTable.get(entry.TableName);
    if (!sum) byTable.set(entry.TableName, (sum = {}));
    addInto(sum, entry as unknown as Numeric);
  }
  return [...byTable.values()] as ConsumedCapacity[];
}
