/**
 * What the commands need to know about a table before they start: its key attributes (from `--key`, or one
 * DescribeTable), its approximate item count (for the progress bar), and, for `--create-table`, how to make it.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { KeySpec } from './options.js';
import { CliError } from './session.js';

/** A table's key: attribute names, partition key first, and their types when known. */
export interface TableKey {
  names: string[];
  types: Record<string, 'S' | 'N' | 'B'>;
  /** DescribeTable's ItemCount (approximate on AWS), when the table was described. */
  itemCount?: number;
}

const isNotFound = (error: unknown) => (error as { name?: string })?.name === 'ResourceNotFoundException';

/** DescribeTable, or `undefined` when the table does not exist. */
export async function describeTable(client: DynamoDBClient, table: string): Promise<DescribeTableCommandOutput['Table'] | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw new CliError(`DescribeTable ${table} failed: ${(error as Error).name}: ${(error as Error).message}`);
  }
}

/** The key of a described table. */
export function keyOf(description: NonNullable<DescribeTableCommandOutput['Table']>): TableKey {
  const schema = description.KeySchema ?? [];
  const ordered = [...schema.filter((k) => k.KeyType === 'HASH'), ...schema.filter((k) => k.KeyType !== 'HASH')];
  const types: TableKey['types'] = {};
  for (const d of description.AttributeDefinitions ?? []) types[d.AttributeName!] = d.AttributeType as 'S' | 'N' | 'B';
  return { names: ordered.map((k) => k.AttributeName!), types, itemCount: description.ItemCount };
}

/** The table's key from `--key` when given (no call), else from DescribeTable; fails with a clear message when the table is missing. */
export async function tableKey(client: DynamoDBClient, table: string, given?: KeySpec[]): Promise<TableKey> {
  if (given) {
    const types: TableKey['types'] = {};
    for (const k of given) if (k.type) types[k.name] = k.type;
    return { names: given.map((k) => k.name), types };
  }
  const description = await describeTable(client, table);
  if (!description) throw new CliError(`table ${table} does not exist (check --table, --endpoint and --region)`);
  return keyOf(description);
}

/** Creates an on-demand table with this key (types default to S) and waits until it is active. */
export async function createTable(client: DynamoDBClient, table: string, key: KeySpec[]): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: key.map((k, i) => ({ AttributeName: k.name, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
      AttributeDefinitions: key.map((k) => ({ AttributeName: k.name, AttributeType: k.type ?? 'S' })),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: table });
}

/**
 * The key of a table to write to; with `create`, a missing table is made first with `--key` (or `fallback`, the
 * source table's key for `copy`).
 */
export async function targetKey(
  client: DynamoDBClient,
  table: string,
  options: { key?: KeySpec[]; create?: boolean; fallback?: TableKey },
): Promise<TableKey> {
  if (options.create && !(await describeTable(client, table))) {
    const key = options.key ?? options.fallback?.names.map((name) => ({ name, type: options.fallback!.types[name] }));
    if (!key) throw new CliError(`--create-table needs --key to know the key of ${table} (e.g. --key pk or --key pk:S,sk:N)`, 2);
    await createTable(client, table, key);
    process.stderr.write(`created table ${table} (key ${key.map((k) => `${k.name}:${k.type ?? 'S'}`).join(', ')}, on-demand)\n`);
  }
  return tableKey(client, table, options.key);
}
