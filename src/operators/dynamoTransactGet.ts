import { type ConsumedCapacity, type TransactGetItem, TransactGetItemsCommand } from '@aws-sdk/client-dynamodb';
import type { OperatorFunction } from 'rxjs';
import type { TransactionError, TransactionProblem } from '../errors.js';
import { marshallOptionsOf, unmarshallOptionsOf } from '../internal/client.js';
import { describeKeyValues } from '../internal/engine/entry.js';
import { marshallItem, type MarshalSettings } from '../internal/marshal.js';
import { preview } from '../internal/prepare.js';
import { type Unmarshal, unmarshallerFor } from '../internal/unmarshal.js';
import type { DynamoDBSender, Item, Key } from '../types.js';
import { invalidGroup, keyOf, tablesOfGroup } from '../internal/transact/group.js';
import type { GroupEnd, PreparedGroup, TransactOutput } from '../internal/transact/spec.js';
import { type TransactOptions, transactEngine, validateTransactOptions } from './transactInternals.js';

/** One item to read in a transaction group. */
export interface TransactGetAction {
  table: string;
  /** The item's key; attributes other than the table's key attributes are left out. */
  key: Key;
  /**
   * Top-level attribute names to read (passed through `ExpressionAttributeNames`, so reserved words are fine). Key
   * attributes are not added. @default every attribute
   */
  projection?: string[];
}

/** Up to 100 items, across tables, read as of one moment (TransactGetItems). */
export type TransactGetGroup = ReadonlyArray<TransactGetAction>;

interface TransactGetOutcome {
  /** The group, as it came from the source. */
  group: TransactGetGroup;
  /** Its position in the stream: 0 for the first group taken. */
  index: number;
  /** TransactGetItems calls made for it: 1 means no retry; 0 for a group refused before any call. */
  attempts: number;
}

/** The group was read: `items[i]` is the item of action `i`, or `undefined` when there is none with its key. */
export interface TransactRead<T extends object = Item> extends TransactGetOutcome {
  status: 'read';
  /** In the order of the group's actions, unmarshalled exactly (numbers that a `number` cannot hold as `bigint` or `NumberValue`). */
  items: Array<T | undefined>;
  /** With `returnConsumedCapacity`: what the call consumed, per table. */
  consumedCapacity?: ConsumedCapacity[];
}

/** The group was refused before any call (`'invalid'`), or could not be read (`'failed'`): see `error`. */
export interface TransactGetFailure extends TransactGetOutcome {
  status: 'invalid' | 'failed';
  error: TransactionError<TransactGetGroup>;
}

/** What `dynamoTransactGet` emits: one outcome per group, in the order they are settled. */
export type TransactGetResult<T extends object = Item> = TransactRead<T> | TransactGetFailure;

export interface TransactGetOptions extends TransactOptions {
  /**
   * When a group is refused or fails. `'emit'`: emit its outcome with `status: 'invalid' | 'failed'` and `error`, and
   * go on. `'error'`: start no more calls, let the calls in flight finish (their outcomes are emitted), then error the
   * stream with a `TransactionError` whose `unprocessed` holds every group taken and not settled. @default 'emit'
   */
  onFailure?: 'emit' | 'error';
}

interface PreparedGetGroup extends PreparedGroup {
  transactItems: TransactGetItem[];
}

/** `ProjectionExpression` and `ExpressionAttributeNames` for top-level attribute names. */
function projectionOf(names: string[]): { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> } {
  const unique = [...new Set(names)];
  return {
    ProjectionExpression: unique.map((_, i) => `#p${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(unique.map((name, i) => [`#p${i}`, name])),
  };
}

/** Checks and prepares a group: each action's key (marshalled exactly) and projection; no item read twice. */
function prepareGetGroup(
  group: TransactGetGroup,
  index: number,
  keyAttributesOf: (table: string) => string[],
  marshalling: MarshalSettings,
): PreparedGetGroup | TransactionError<TransactGetGroup> {
  const transactItems: TransactGetItem[] = [];
  const wheres: string[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < group.length; i++) {
    const { table, key: values, projection } = group[i]!;
    const bad = (problem: TransactionProblem, text: string, cause?: unknown) =>
      invalidGroup('TransactGetItems', group, index, problem, `Group ${index}, ${text}. The group was not sent.`, i, cause);
    const what = `action ${i} (get on table ${table})`;
    if (typeof values !== 'object' || values === null || Array.isArray(values))
      return bad('action.malformed', `${what}: the key must be an object, got ${preview(values)}`);
    if (
      projection !== undefined &&
      (!Array.isArray(projection) || projection.length === 0 || projection.some((p) => typeof p !== 'string' || p.length === 0))
    )
      return bad('action.malformed', `${what}: projection must be a non-empty array of attribute names, got ${preview(projection)}`);
    const attributes = keyAttributesOf(table);
    const key = keyOf(values, attributes);
    if ('problem' in key) return bad('action.invalidKey', `${what}: ${key.problem}`);
    const where = `action ${i} (get of table ${table}, ${describeKeyValues(key.key, attributes)})`;
    wheres.push(where);
    const identity = `${table}\u0000${key.identity}`;
    const earlier = seen.get(identity);
    if (earlier !== undefined)
      return bad(
        'group.duplicateItem',
        `${wheres[earlier]} and ${where} read the same item; DynamoDB refuses two operations on one item in a transaction`,
      );
    seen.set(identity, i);
    let marshalled: ReturnType<typeof marshallItem>;
    try {
      marshalled = marshallItem(key.key, marshalling);
    } catch (error) {
      return bad('action.marshallFailed', `${where}: could not marshal the key: ${(error as Error).message}`, error);
    }
    transactItems.push({ Get: { TableName: table, Key: marshalled, ...(projection ? projectionOf(projection) : {}) } });
  }
  // a transactional read of up to 4 KB costs 2 read units; DynamoDB's report corrects the estimate
  return {
    items: [...seen.keys()],
    units: 2 * group.length,
    table: group[0]!.table,
    where: (i) => wheres[i] ?? `action ${i}`,
    transactItems,
  };
}

/** The items of an answer, in the order of the actions. */
function itemsOf(prepared: PreparedGetGroup, output: TransactOutput, unmarshal: Unmarshal): Array<Item | undefined> {
  const responses = output.Responses ?? [];
  if (responses.length !== prepared.transactItems.length)
    throw new Error(`DynamoDB answered ${responses.length} responses for ${prepared.transactItems.length} actions`);
  return responses.map((r, i) => {
    if (r?.Item === undefined) return undefined;
    try {
      return unmarshal(r.Item);
    } catch (error) {
      throw new Error(`${prepared.where(i)}: ${(error as Error).message}`, { cause: error });
    }
  });
}

/**
 * Reads each group of the stream as one transaction (TransactGetItems): up to 100 items across tables, as of one
 * moment — no transaction is half-applied in what they show. Emits the items in the order of the group's actions,
 * `undefined` where there is none, unmarshalled exactly. A group over 100 actions, or reading one item twice, is
 * refused before any call; conflicts with transactions writing the items (`TransactionConflict`), throttling and
 * transient errors are retried with backoff. `concurrency` groups at a time.
 *
 * ```
 * groups:   --a-----b--|
 * > dynamoTransactGet(client)
 * outcomes: ----A-----(B|)     A = { status: 'read', group: a, index: 0, attempts: 1, items: [item0, undefined] }
 * ```
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { dynamoTransactGet } from 'rxjs-dynamodb';
 * from([[{ table: 'Accounts', key: { pk: 'alice' } }, { table: 'Accounts', key: { pk: 'bob' } }]])
 *   .pipe(dynamoTransactGet<{ pk: string; balance: number }>(client, { onFailure: 'error' }))
 *   .subscribe(({ items: [alice, bob] }) => console.log(alice?.balance, bob?.balance));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param options Concurrency, retries, key attributes, failure mode; see {@link TransactGetOptions}.
 * @returns An operator from groups to one {@link TransactGetResult} per group (only {@link TransactRead}s with
 * `onFailure: 'error'`, which errors with a `TransactionError` instead).
 * @see dynamoTransactWrite
 * @see dynamoBatchGet for many items without the single moment, at half the cost
 */
export function dynamoTransactGet<T extends object = Item>(
  client: DynamoDBSender,
  options: TransactGetOptions & { onFailure: 'error' },
): OperatorFunction<TransactGetGroup, TransactRead<T>>;
export function dynamoTransactGet<T extends object = Item>(
  client: DynamoDBSender,
  options?: TransactGetOptions,
): OperatorFunction<TransactGetGroup, TransactGetResult<T>>;
export function dynamoTransactGet<T extends object = Item>(
  client: DynamoDBSender,
  options: TransactGetOptions = {},
): OperatorFunction<TransactGetGroup, TransactGetResult<T>> {
  validateTransactOptions(options);
  const { returnConsumedCapacity } = options;
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const unmarshal = unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client));
  return transactEngine<TransactGetGroup, PreparedGetGroup, TransactGetResult<T>>(
    client,
    {
      operation: 'TransactGetItems',
      kind: 'read',
      tablesOf: (group, index) => tablesOfGroup<TransactGetGroup>('TransactGetItems', group, index),
      prepare: (group, index, keyAttributesOf) => prepareGetGroup(group, index, keyAttributesOf, marshalling),
      command: (p, askConsumed) =>
        new TransactGetItemsCommand({ TransactItems: p.transactItems, ...(askConsumed ? { ReturnConsumedCapacity: askConsumed } : {}) }),
      read: itemsOf,
    },
    options,
    unmarshal,
    (end: GroupEnd<TransactGetGroup, PreparedGetGroup>): TransactGetResult<T> => {
      const base = { group: end.group, index: end.index, attempts: end.attempts };
      if ('error' in end) return { status: end.status, ...base, error: end.error };
      // reads are never cancelled by a condition: the engine gives 'done' or a failure
      if (end.status !== 'done') throw new Error(`TransactGetItems of group ${end.index} ended ${end.status}`);
      const result: TransactRead<T> = { status: 'read', ...base, items: end.value as Array<T | undefined> };
      if (returnConsumedCapacity && end.output.ConsumedCapacity) result.consumedCapacity = end.output.ConsumedCapacity;
      return result;
    },
  );
}
