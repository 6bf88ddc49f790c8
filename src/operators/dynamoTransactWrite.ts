import { type AttributeValue, type ConsumedCapacity, type TransactWriteItem, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import type { OperatorFunction } from 'rxjs';
import { type TransactionError, type TransactionProblem, type TransactionReason } from '../errors.js';
import { compileExpressions, type Condition, type RawExpression, type UpdateSpec } from '../expressions.js';
import { marshallOptionsOf, unmarshallOptionsOf } from '../internal/client.js';
import {
  MAX_ITEM_BYTES,
  MAX_REQUEST_BYTES,
  REQUEST_ENVELOPE_BYTES,
  TRANSACT_MAX_PAYLOAD_BYTES,
  WRITE_UNIT_BYTES,
} from '../internal/constants.js';
import { describeKeyValues } from '../internal/engine/entry.js';
import { attributeValueSize, marshalledItemSize } from '../internal/itemSize.js';
import { marshallItem, type MarshalSettings } from '../internal/marshal.js';
import { preview } from '../internal/prepare.js';
import { unmarshallerFor } from '../internal/unmarshal.js';
import type { DynamoDBSender, Item, Key } from '../types.js';
import { invalidGroup, keyOf, tablesOfGroup } from '../internal/transact/group.js';
import type { GroupEnd, PreparedGroup } from '../internal/transact/spec.js';
import { canonicalJson, CLIENT_REQUEST_TOKEN_MAX_LENGTH, contentToken } from '../internal/transact/token.js';
import { type TransactOptions, transactEngine, validateTransactOptions } from './transactInternals.js';

/** What every write action may add: a condition on the item, and whether to read the item when it fails. */
interface ActionCondition {
  /** The action (and so the whole group) applies only if this holds for the item as it is. */
  condition?: Condition;
  /** When the condition fails, DynamoDB returns the item as it was (`ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`), in the reason's `item`. @default false */
  returnOnConditionFailure?: boolean;
}

/** One action of a transaction group, on one item of one table. `T` names the items' type: not checked at run time. */
export type TransactWriteAction<T extends object = Item> =
  | ({ table: string; put: T } & ActionCondition)
  | ({ table: string; update: UpdateSpec | RawExpression; key: Key } & ActionCondition)
  | ({ table: string; delete: Key } & ActionCondition)
  | { table: string; conditionCheck: Key; condition: Condition; returnOnConditionFailure?: boolean };

/** Up to 100 actions, across tables, on distinct items, applied all or none. */
export type TransactGroup<T extends object = Item> = ReadonlyArray<TransactWriteAction<T>>;

interface TransactOutcome<T extends object> {
  /** The group, as it came from the source. */
  group: TransactGroup<T>;
  /** Its position in the stream: 0 for the first group taken. */
  index: number;
  /** TransactWriteItems calls made for it: 1 means no retry; 0 for a group refused before any call. */
  attempts: number;
}

/** Every action of the group was applied, atomically. */
export interface TransactWritten<T extends object = Item> extends TransactOutcome<T> {
  status: 'written';
  /** The `ClientRequestToken` sent, when one was. */
  token?: string;
  /** With `returnConsumedCapacity`: what the call consumed, per table. */
  consumedCapacity?: ConsumedCapacity[];
  /**
   * An earlier group of this stream with the same token (so the same content) was written less than 10 minutes
   * before: DynamoDB took this one for a retry of it and changed nothing. Pass `clientRequestToken` to write repeats.
   * (Checked against the last 100,000 groups written.)
   */
  replayOf?: number;
}

/** A condition failed: nothing in the group was applied. An outcome, not an error. */
export interface TransactCancelled<T extends object = Item> extends TransactOutcome<T> {
  status: 'cancelled';
  token?: string;
  /** DynamoDB's reasons that are not `None`, each with the action it is about (`ConditionalCheckFailed`, …). */
  reasons: Array<TransactionReason<TransactWriteAction<T>, T>>;
}

/** The group was refused before any call (`'invalid'`), or could not be written (`'failed'`): see `error`. */
export interface TransactWriteFailure<T extends object = Item> extends TransactOutcome<T> {
  status: 'invalid' | 'failed';
  error: TransactionError<TransactGroup<T>>;
}

/** What `dynamoTransactWrite` emits: one outcome per group, in the order they are settled. */
export type TransactWriteResult<T extends object = Item> = TransactWritten<T> | TransactCancelled<T> | TransactWriteFailure<T>;

export interface TransactWriteOptions<T extends object = Item> extends TransactOptions {
  /**
   * When a group is refused or fails (not when a condition fails: that is a `'cancelled'` outcome either way).
   * `'emit'`: emit its outcome with `status: 'invalid' | 'failed'` and `error`, and go on. `'error'`: start no more
   * calls, let the calls in flight finish (their outcomes are emitted), then error the stream with a
   * `TransactionError` whose `unprocessed` holds every group taken and not settled. @default 'emit'
   */
  onFailure?: 'emit' | 'error';
  /**
   * The `ClientRequestToken` of each group. `'content'`: derived from the group's marshalled content, so that a retry
   * after a timeout, or the same group sent again within 10 minutes (a re-run, a duplicate from an at-least-once
   * source), is applied once. `'none'`: no token; a retry after a transient error may apply a group twice. A
   * function: your token (1 to 36 characters), for groups that are meant to repeat (`group => event.id`).
   * @default 'content'
   */
  clientRequestToken?: 'content' | 'none' | ((group: TransactGroup<T>, index: number) => string);
}

const KINDS = ['put', 'update', 'delete', 'conditionCheck'] as const;
type Kind = (typeof KINDS)[number];
const WIRE: Record<Kind, 'Put' | 'Update' | 'Delete' | 'ConditionCheck'> = {
  put: 'Put',
  update: 'Update',
  delete: 'Delete',
  conditionCheck: 'ConditionCheck',
};
const utf8 = (s: string | undefined) => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface PreparedWriteGroup extends PreparedGroup {
  transactItems: TransactWriteItem[];
}

/**
 * The bytes DynamoDB counts against a transaction's 4 MB for one action (measured on DynamoDB Local, to the byte):
 * the put's item or the key, by the item-size rules, plus the UTF-8 bytes of the update and condition expressions,
 * of the attribute names they map to, and the item size of each expression value.
 */
function payloadOf(body: Record<string, AttributeValue>, wire: TransactWriteItem[keyof TransactWriteItem]): number {
  const w = wire as { UpdateExpression?: string; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string> };
  const values = (wire as { ExpressionAttributeValues?: Record<string, AttributeValue> }).ExpressionAttributeValues ?? {};
  let bytes = marshalledItemSize(body) + utf8(w.UpdateExpression) + utf8(w.ConditionExpression);
  for (const name of Object.values(w.ExpressionAttributeNames ?? {})) bytes += utf8(name);
  for (const value of Object.values(values)) bytes += attributeValueSize(value);
  return bytes;
}

/**
 * Checks and prepares a group: each action's shape, key and expressions; its items and values marshalled (exactly);
 * no two actions on one item; at most 4 MB by DynamoDB's payload rules and 16 MiB of request JSON; its token.
 */
function prepareWriteGroup<T extends object>(
  group: TransactGroup<T>,
  index: number,
  keyAttributesOf: (table: string) => string[],
  marshalling: MarshalSettings,
  tokenOption: NonNullable<TransactWriteOptions<T>['clientRequestToken']>,
): PreparedWriteGroup | TransactionError<TransactGroup<T>> {
  const transactItems: TransactWriteItem[] = [];
  const wheres: string[] = [];
  const seen = new Map<string, number>();
  let payload = 0;
  let units = 0;
  for (let i = 0; i < group.length; i++) {
    const a = group[i] as unknown as Record<string, unknown>;
    const { table } = a as { table: string };
    const kinds = KINDS.filter((k) => k in a);
    const bad = (problem: TransactionProblem, text: string, cause?: unknown) =>
      invalidGroup('TransactWriteItems', group, index, problem, `Group ${index}, ${text}. The group was not sent.`, i, cause);
    if (kinds.length !== 1)
      return bad(
        'action.malformed',
        `action ${i} on table ${table}: an action has exactly one of put, update (with key), delete or conditionCheck, got ${preview(a)}`,
      );
    const kind = kinds[0]!;
    const values = kind === 'update' ? a.key : a[kind];
    const what = `action ${i} (${kind} on table ${table})`;
    if (!isObject(values))
      return bad('action.malformed', `${what}: ${kind === 'put' ? 'the item' : 'the key'} must be an object, got ${preview(values)}`);
    if (kind === 'conditionCheck' && a.condition === undefined)
      return bad('action.malformed', `${what}: a conditionCheck needs a condition`);
    if (a.returnOnConditionFailure !== undefined && typeof a.returnOnConditionFailure !== 'boolean')
      return bad('action.malformed', `${what}: returnOnConditionFailure must be a boolean, got ${preview(a.returnOnConditionFailure)}`);
    const attributes = keyAttributesOf(table);
    const key = keyOf(values, attributes);
    if ('problem' in key) return bad('action.invalidKey', `${what}: ${key.problem}`);
    const where = `action ${i} (${kind} of table ${table}, ${describeKeyValues(key.key, attributes)})`;
    wheres.push(where);
    const identity = `${table}\u0000${key.identity}`;
    const earlier = seen.get(identity);
    if (earlier !== undefined)
      return bad(
        'group.duplicateItem',
        `${wheres[earlier]} and ${where} touch the same item; DynamoDB refuses two operations on one item in a transaction: merge them`,
      );
    seen.set(identity, i);
    let compiled: ReturnType<typeof compileExpressions>;
    try {
      compiled = compileExpressions({
        update: kind === 'update' ? (a.update as UpdateSpec) : undefined,
        condition: a.condition as Condition,
      });
    } catch (error) {
      return bad('action.invalidExpression', `${where}: ${(error as Error).message}`, error);
    }
    if (kind === 'update' && compiled.UpdateExpression === undefined) return bad('action.malformed', `${where}: an update needs an update`);
    let body: Record<string, AttributeValue>;
    let expressionValues: Record<string, AttributeValue> | undefined;
    try {
      body = marshallItem(kind === 'put' ? values : key.key, marshalling);
      if (compiled.ExpressionAttributeValues) expressionValues = marshallItem(compiled.ExpressionAttributeValues, marshalling);
    } catch (error) {
      return bad('action.marshallFailed', `${where}: could not marshal it: ${(error as Error).message}`, error);
    }
    const wire = {
      TableName: table,
      [kind === 'put' ? 'Item' : 'Key']: body,
      ...(compiled.UpdateExpression !== undefined ? { UpdateExpression: compiled.UpdateExpression } : {}),
      ...(compiled.ConditionExpression !== undefined ? { ConditionExpression: compiled.ConditionExpression } : {}),
      ...(compiled.ExpressionAttributeNames ? { ExpressionAttributeNames: compiled.ExpressionAttributeNames } : {}),
      ...(expressionValues && Object.keys(expressionValues).length > 0 ? { ExpressionAttributeValues: expressionValues } : {}),
      ...(a.returnOnConditionFailure ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
    };
    if (kind === 'put') {
      const size = marshalledItemSize(body);
      if (size > MAX_ITEM_BYTES)
        return bad(
          'action.itemTooLarge',
          `${where}: the item is ${size} bytes by DynamoDB's item-size rules; the limit is ${MAX_ITEM_BYTES}`,
        );
      units += 2 * Math.max(1, Math.ceil(size / WRITE_UNIT_BYTES));
    } else units += 2; // the item's size is not known here: DynamoDB's report corrects the estimate
    payload += payloadOf(body, wire as never);
    transactItems.push({ [WIRE[kind]]: wire } as TransactWriteItem);
  }
  const tooLarge = (text: string) =>
    invalidGroup(
      'TransactWriteItems',
      group,
      index,
      'group.tooLarge',
      `Group ${index} ${text}. It was not sent: split it or shrink its items.`,
    );
  if (payload > TRANSACT_MAX_PAYLOAD_BYTES)
    return tooLarge(
      `is ${payload} bytes by DynamoDB's transaction payload rules (items and keys by their item size, plus expressions, names and values); the limit is ${TRANSACT_MAX_PAYLOAD_BYTES} (4 MB)`,
    );
  const canonical = canonicalJson(transactItems);
  const bodyBytes = Buffer.byteLength(canonical);
  if (bodyBytes > MAX_REQUEST_BYTES - REQUEST_ENVELOPE_BYTES)
    return tooLarge(`would be a request of ${bodyBytes} bytes of JSON; DynamoDB takes at most ${MAX_REQUEST_BYTES} (16 MiB)`);
  let token: string | undefined;
  if (tokenOption === 'content') token = contentToken(canonical);
  else if (typeof tokenOption === 'function') {
    const given: unknown = tokenOption(group, index);
    if (typeof given !== 'string' || given.length === 0 || given.length > CLIENT_REQUEST_TOKEN_MAX_LENGTH)
      return invalidGroup(
        'TransactWriteItems',
        group,
        index,
        'group.invalidToken',
        `Group ${index}: clientRequestToken gave ${preview(given)}; a token is a string of 1 to ${CLIENT_REQUEST_TOKEN_MAX_LENGTH} characters. It was not sent.`,
      );
    token = given;
  }
  return { items: [...seen.keys()], units, table: group[0]!.table, token, where: (i) => wheres[i] ?? `action ${i}`, transactItems };
}

/**
 * Writes each group of the stream as one transaction (TransactWriteItems): up to 100 puts, updates, deletes and
 * condition checks across tables, applied all or none. Each group goes with a `ClientRequestToken` derived from its
 * content, so a retry after a timeout cannot apply it twice. A group over 100 actions or 4 MB, or with two actions on
 * one item, is refused before any call. Conflicts (`TransactionConflict`), throttling and transient errors are retried
 * with backoff; a failed condition cancels the group and says which action's condition failed. Groups that share an
 * item are sent one after another in input order, so they never conflict with each other; others go `concurrency`
 * at a time. Emits one outcome per group, as each is settled.
 *
 * ```
 * groups:   --a--b--c--|
 * > dynamoTransactWrite(client)
 * outcomes: ----A---B---(C|)     A = { status: 'written', group: a, index: 0, attempts: 1, token }
 *                                B = { status: 'cancelled', reasons: [{ index: 0, code: 'ConditionalCheckFailed', … }] }
 * ```
 *
 * ## Example
 * ```ts
 * import { from, map } from 'rxjs';
 * import { dynamoTransactWrite } from 'rxjs-dynamodb';
 * from(transfers).pipe(
 *   map(({ payer, payee, amount }) => [
 *     { table: 'Accounts', key: { pk: payer }, update: { add: { balance: -amount } }, condition: { balance: { ge: amount } } },
 *     { table: 'Accounts', key: { pk: payee }, update: { add: { balance: amount } } },
 *   ]),
 *   dynamoTransactWrite(client),
 * ).subscribe((o) => o.status === 'cancelled' && console.log(`transfer ${o.index} refused:`, o.reasons[0].code));
 * ```
 *
 * Identical groups get identical tokens: DynamoDB applies only the first of them sent within 10 minutes (the
 * others' outcomes say `replayOf`). That is what makes retries and re-runs safe; when identical groups are meant to
 * apply each time, give each its own `clientRequestToken`.
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param options Concurrency, retries, tokens, key attributes, failure mode; see {@link TransactWriteOptions}.
 * @returns An operator from groups to one {@link TransactWriteResult} per group. With `onFailure: 'error'` it errors
 * with a `TransactionError` whose `unprocessed` lists every group taken and not settled. An error from the source is
 * passed on after the groups already taken are settled.
 * @see dynamoTransactGet
 * @see compileExpressions
 */
export function dynamoTransactWrite<T extends object = Item>(
  client: DynamoDBSender,
  options: TransactWriteOptions<T> & { onFailure: 'error' },
): OperatorFunction<TransactGroup<T>, TransactWritten<T> | TransactCancelled<T>>;
export function dynamoTransactWrite<T extends object = Item>(
  client: DynamoDBSender,
  options?: TransactWriteOptions<T>,
): OperatorFunction<TransactGroup<T>, TransactWriteResult<T>>;
export function dynamoTransactWrite<T extends object = Item>(
  client: DynamoDBSender,
  options: TransactWriteOptions<T> = {},
): OperatorFunction<TransactGroup<T>, TransactWriteResult<T>> {
  validateTransactOptions(options);
  const { clientRequestToken = 'content', returnConsumedCapacity } = options;
  if (clientRequestToken !== 'content' && clientRequestToken !== 'none' && typeof clientRequestToken !== 'function')
    throw new RangeError(`clientRequestToken must be 'content', 'none' or a function, got ${String(clientRequestToken)}`);
  const marshalling = options.marshallOptions ?? marshallOptionsOf(client);
  const unmarshal = unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client));
  type G = TransactGroup<T>;
  return transactEngine<G, PreparedWriteGroup, TransactWriteResult<T>>(
    client,
    {
      operation: 'TransactWriteItems',
      kind: 'write',
      tablesOf: (group, index) => tablesOfGroup<G>('TransactWriteItems', group, index),
      prepare: (group, index, keyAttributesOf) => prepareWriteGroup(group, index, keyAttributesOf, marshalling, clientRequestToken),
      command: (p, askConsumed) =>
        new TransactWriteItemsCommand({
          TransactItems: p.transactItems,
          ...(p.token !== undefined ? { ClientRequestToken: p.token } : {}),
          ...(askConsumed ? { ReturnConsumedCapacity: askConsumed } : {}),
        }),
    },
    options,
    unmarshal,
    (end: GroupEnd<G, PreparedWriteGroup>): TransactWriteResult<T> => {
      const base = { group: end.group, index: end.index, attempts: end.attempts };
      if ('error' in end) return { status: end.status, ...base, error: end.error };
      const token = end.prepared.token !== undefined ? { token: end.prepared.token } : {};
      if (end.status === 'cancelled')
        return { status: 'cancelled', ...base, ...token, reasons: end.reasons as TransactCancelled<T>['reasons'] };
      const result: TransactWritten<T> = { status: 'written', ...base, ...token };
      if (returnConsumedCapacity && end.output.ConsumedCapacity) result.consumedCapacity = end.output.ConsumedCapacity;
      if (end.replayOf !== undefined) result.replayOf = end.replayOf;
      return result;
    },
  );
}
