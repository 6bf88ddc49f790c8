/**
 * What the commands need to know about a table before they start: its key attributes (from `--key`, or one
 * DescribeTable), its approximate item count (for the progress bar), for `--create-table` how to make it, and for
 * `--resume` which table it is (a checkpoint is tied to it). Every call stops on the first Ctrl-C.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { CheckpointFile, TableRole } from './checkpoint.js';
import type { KeySpec } from './options.js';
import { CliError, EXIT } from './session.js';

/** A table's key: attribute names, partition key first, and their types when known. */
export interface TableKey {
  names: string[];
  types: Record<string, 'S' | 'N' | 'B'>;
  /** DescribeTable's ItemCount (approximate on AWS), when the table was described. */
  itemCount?: number;
}

const isNotFound = (error: unknown) => (error as { name?: string })?.name === 'ResourceNotFoundException';

/** What went wrong in a call, for people: its name and message, and what to do about a timeout. */
function failure(error: unknown): string {
  const e = error as { name?: string; message?: string };
  const hint = e?.name === 'TimeoutError' ? ' (no answer in time: check --endpoint and --region, or give a longer --timeout)' : '';
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}${hint}`;
}

type Description = DescribeTableCommandOutput['Table'];

/** Each table's description, once per client (a command's session): the notice of `target.ts` and the key share it. */
const described = new WeakMap<DynamoDBClient, Map<string, Description | undefined>>();

/**
 * DescribeTable, or `undefined` when the table does not exist; asked once per client and table (until `createTable`
 * makes it). The first Ctrl-C (`signal`) stops it: exit 130.
 */
export async function describeTable(client: DynamoDBClient, table: string, signal?: AbortSignal): Promise<Description | undefined> {
  let known = described.get(client);
  if (!known) described.set(client, (known = new Map()));
  if (known.has(table)) return known.get(table);
  try {
    const description = (await client.send(new DescribeTableCommand({ TableName: table }), { abortSignal: signal })).Table;
    known.set(table, description);
    return description;
  } catch (error) {
    if (isNotFound(error)) {
      known.set(table, undefined);
      return undefined;
    }
    if (signal?.aborted) throw new CliError(`interrupted while describing table ${table}; nothing was read or written`, EXIT.interrupted);
    throw new CliError(`DescribeTable ${table} failed: ${failure(error)}`);
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

/** A `--resume` checkpoint to tie to the tables it works on, and the signal that stops the calls. */
export interface TableAccess {
  /** The first Ctrl-C: stops DescribeTable, CreateTable and the wait for a new table. */
  signal?: AbortSignal;
  checkpoint?: { bind: CheckpointFile<{ command: string }>['bind'] };
  /** The table's part in the job. @default 'table' */
  role?: TableRole;
  /** The flag that named the table, for the message when it is missing. @default '--table' */
  flag?: string;
}

/** The key from `--key` when given, else from the description; fails with a clear message when the table is missing. */
function keyFrom(
  table: string,
  given: KeySpec[] | undefined,
  description: DescribeTableCommandOutput['Table'] | undefined,
  flag = '--table',
): TableKey {
  if (given) {
    const types: TableKey['types'] = {};
    for (const k of given) if (k.type) types[k.name] = k.type;
    return { names: given.map((k) => k.name), types, ...(description ? { itemCount: description.ItemCount } : {}) };
  }
  if (!description) throw new CliError(`table ${table} does not exist (check ${flag}, --endpoint and --region)`);
  return keyOf(description);
}

/**
 * The table's key from `--key` when given, else from DescribeTable; fails with a clear message when the table is
 * missing. With a checkpoint the table is described in any case, and the checkpoint tied to it (or refused).
 */
export async function tableKey(client: DynamoDBClient, table: string, given?: KeySpec[], access: TableAccess = {}): Promise<TableKey> {
  const { signal, checkpoint, role = 'table', flag } = access;
  const description = !given || checkpoint ? await describeTable(client, table, signal) : undefined;
  checkpoint?.bind(role, table, description);
  return keyFrom(table, given, description, flag);
}

/** Creates an on-demand table with this key (types default to S) and waits until it is active; `signal` stops both. */
export async function createTable(client: DynamoDBClient, table: string, key: KeySpec[], signal?: AbortSignal): Promise<void> {
  described.get(client)?.delete(table);
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: key.map((k, i) => ({ AttributeName: k.name, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
        AttributeDefinitions: key.map((k) => ({ AttributeName: k.name, AttributeType: k.type ?? 'S' })),
      }),
      { abortSignal: signal },
    );
  } catch (error) {
    if (signal?.aborted)
      throw new CliError(
        `interrupted while creating table ${table} (it may exist now; a rerun uses it); nothing was written`,
        EXIT.interrupted,
      );
    throw new CliError(`CreateTable ${table} failed: ${failure(error)}`);
  }
  try {
    await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, ...(signal ? { abortSignal: signal } : {}) }, { TableName: table });
  } catch (error) {
    if (signal?.aborted)
      throw new CliError(
        `interrupted while waiting for the new table ${table} to become active (a rerun uses it); nothing was written`,
        EXIT.interrupted,
      );
    throw new CliError(`table ${table} was created but did not become active: ${failure(error)}`);
  }
}

/**
 * The key of a table to write to; with `create`, a missing table is made first with `--key` (or `fallback`, the
 * source table's key for `copy`). A checkpoint is tied to the table before anything is made: one whose table is
 * gone is refused, not resumed into a new empty table.
 */
export async function targetKey(
  client: DynamoDBClient,
  table: string,
  options: { key?: KeySpec[]; create?: boolean; fallback?: TableKey } & Omit<TableAccess, 'role'>,
): Promise<TableKey> {
  const { signal, checkpoint, flag } = options;
  if (!options.create && !checkpoint) return tableKey(client, table, options.key, { signal, flag });
  let description = await describeTable(client, table, signal);
  checkpoint?.bind('target', table, description);
  if (!description && options.create) {
    const key = options.key ?? options.fallback?.names.map((name) => ({ name, type: options.fallback!.types[name] }));
    if (!key) throw new CliError(`--create-table needs --key to know the key of ${table} (e.g. --key pk or --key pk:S,sk:N)`, EXIT.usage);
    await createTable(client, table, key, signal);
    process.stderr.write(`created table ${table} (key ${key.map((k) => `${k.name}:${k.type ?? 'S'}`).join(', ')}, on-demand)\n`);
    description = await describeTable(client, table, signal);
    checkpoint?.bind('target', table, description);
  }
  return keyFrom(table, options.key, description, flag);
}
