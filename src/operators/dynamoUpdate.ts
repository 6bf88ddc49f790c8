import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { itemCommand } from '../internal/itemWrite/command.js';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import type { OperatorFunction } from 'rxjs';
import { InvalidRequestError } from '../errors.js';
import type { CompiledExpressions, Condition, UpdateSpec } from '../expressions.js';
import { preview } from '../internal/prepare.js';
import type { DynamoDBSender, Item, Key } from '../types.js';
import { checkKey, checkShape, compileFor, expressionFields, type ItemWriteSpec, marshalFor } from '../internal/itemWrite/prepare.js';
import { whereOf } from '../internal/itemWrite/messages.js';
import { type ItemWriteOptions, type ItemWriteResult, itemWriteEngine, validateItemWriteOptions } from './itemWriteInternals.js';

/** What UpdateItem returns in the result's `attributes`. */
export type UpdateReturnValues = 'NONE' | 'ALL_OLD' | 'UPDATED_OLD' | 'ALL_NEW' | 'UPDATED_NEW';

/** An update from plain JavaScript: `set`, `add`, `remove`, `delete` (see `UpdateSpec`), and an optional condition. */
export interface UpdateSpecRequest<K extends object = Key> extends UpdateSpec {
  /** The key attributes only. */
  key: K;
  /** Update only if this holds for the item stored now; otherwise the result's status is `'conditionFailed'`. */
  condition?: Condition;
  /** What the result's `attributes` hold. @default 'NONE' */
  returnValues?: UpdateReturnValues;
  UpdateExpression?: never;
  ConditionExpression?: never;
  ExpressionAttributeNames?: never;
  ExpressionAttributeValues?: never;
}

/** An update given as DynamoDB expressions, sent as it is (values plain JavaScript, marshalled exactly). */
export interface RawUpdateRequest<K extends object = Key> {
  key: K;
  UpdateExpression: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, NativeAttributeValue>;
  returnValues?: UpdateReturnValues;
  set?: never;
  add?: never;
  remove?: never;
  delete?: never;
  condition?: never;
}

/** One update: from plain JavaScript, or raw. `K` names the key's shape: not checked at run time. */
export type UpdateItemRequest<K extends object = Key> = UpdateSpecRequest<K> | RawUpdateRequest<K>;

const RETURN_VALUES = new Set([undefined, 'NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW']);
const SPEC_FIELDS = ['set', 'add', 'remove', 'delete'] as const;
const RAW_FIELDS = ['UpdateExpression', 'ConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues'] as const;
const FIELDS = ['key', 'returnValues', 'condition', ...SPEC_FIELDS, ...RAW_FIELDS];

/** The request's expressions: passed through when raw, compiled from `set`/`add`/`remove`/`delete`/`condition` otherwise. */
function expressionsOf(r: Record<string, unknown>, where: string, request: unknown): CompiledExpressions | InvalidRequestError {
  const malformed = (why: string) =>
    new InvalidRequestError('request.malformed', `The update for ${where} ${why}. It was not sent.`, request);
  if (r.UpdateExpression !== undefined) {
    if (typeof r.UpdateExpression !== 'string' || r.UpdateExpression.trim() === '')
      return malformed('has an UpdateExpression that is not a non-empty string');
    const mixed = [...SPEC_FIELDS, 'condition'].filter((f) => r[f] !== undefined);
    if (mixed.length > 0) return malformed(`mixes a raw UpdateExpression with ${mixed.join(', ')}: give one form or the other`);
    return {
      UpdateExpression: r.UpdateExpression,
      ConditionExpression: r.ConditionExpression as string | undefined,
      ExpressionAttributeNames: r.ExpressionAttributeNames as Record<string, string> | undefined,
      ExpressionAttributeValues: r.ExpressionAttributeValues as Record<string, unknown> | undefined,
    };
  }
  const raw = RAW_FIELDS.filter((f) => r[f] !== undefined);
  if (raw.length > 0)
    return malformed(`has ${raw.join(', ')} without a raw UpdateExpression: give a condition as condition, or the whole update raw`);
  const update: Record<string, unknown> = {};
  for (const f of SPEC_FIELDS) if (r[f] !== undefined) update[f] = r[f];
  if (Object.keys(update).length === 0) return malformed('has nothing to set, add, remove or delete (nor a raw UpdateExpression)');
  return compileFor({ update: update as UpdateSpec, condition: r.condition as Condition | undefined }, where, request);
}

/**
 * Updates one item per request of the stream with its own UpdateItem call — from plain JavaScript
 * (`{ key, set, add, remove, delete, condition }`) or a raw `UpdateExpression` — and emits one result per request as
 * it is settled: `'written'` (with the `returnValues` asked for in `attributes`), `'conditionFailed'` (an outcome,
 * never an error; with `returnCurrentOnConditionFailure`, the item as it is in `current`), or `'failed'` with an
 * error naming the table and key. `concurrency` calls in flight; the updates of one key go one after another, in
 * input order; throttling and transient errors are retried with exponential backoff and jitter, up to `maxAttempts`
 * calls per request. Unsubscribing aborts the calls in flight (whether they were applied is then unknown).
 *
 * A throttled call was not applied, so retrying it is safe. A call that failed with a transient error (HTTP 500, a
 * timeout, a reset connection) may have been applied: it is sent again, as the AWS SDK itself does, which applies an
 * update that is not idempotent (`add`, `x = x + 1`, `list_append`) twice if the first one landed. Guard such
 * updates with a condition (a version number) when that matters; a `'failed'` error says when it may have happened.
 *
 * ```
 * requests: --a--b--c--|             b is throttled once, c's condition is false
 * > dynamoUpdate(client, 'Counters', { backoff: { baseDelayMs: 40, jitter: 'none' } })
 * results:  ---A--C------B|          B = { request: b, status: 'written', attempts: 2 }, C = { …, status: 'conditionFailed' }
 * ```
 *
 * ## Example
 * ```ts
 * import { from, map } from 'rxjs';
 * import { dynamoUpdate } from 'rxjs-dynamodb';
 * from(views)
 *   .pipe(
 *     map((v) => ({ key: { pk: v.page }, add: { views: 1 }, set: { lastSeen: v.at }, returnValues: 'UPDATED_NEW' as const })),
 *     dynamoUpdate(client, 'Pages', { concurrency: 16 }),
 *   )
 *   .subscribe((r) => console.log(r.status, r.attributes?.views));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param table The table name.
 * @param options See {@link ItemWriteOptions}; all optional.
 * @returns An operator from {@link UpdateItemRequest}s to one {@link ItemWriteResult} per request, in completion order.
 * @see dynamoPut, dynamoDelete
 */
export function dynamoUpdate<K extends object = Key, A extends object = Item>(
  client: DynamoDBSender,
  table: string,
  options: ItemWriteOptions = {},
): OperatorFunction<UpdateItemRequest<K>, ItemWriteResult<UpdateItemRequest<K>, A>> {
  validateItemWriteOptions(table, options);
  const spec: ItemWriteSpec<UpdateItemRequest<K>> = {
    operation: 'UpdateItem',
    command: (input, sender) => itemCommand(UpdateItemCommand, input, sender),
    keyAttributes: options.keyAttributes,
    prepare: (request, keyAttributes, marshalling) => {
      const r = checkShape(
        request,
        FIELDS,
        '{ key, set?, add?, remove?, delete?, condition?, returnValues? } or { key, UpdateExpression, … }',
      );
      if (r instanceof InvalidRequestError) return r;
      if (!RETURN_VALUES.has(r.returnValues as string | undefined))
        return new InvalidRequestError(
          'request.malformed',
          `returnValues must be one of ${[...RETURN_VALUES].slice(1).join(', ')}; got ${preview(r.returnValues)}.`,
          request,
        );
      const key = checkKey(r.key, keyAttributes, table, request, true);
      if (key instanceof InvalidRequestError) return key;
      const where = whereOf(table, key);
      const marshalled = marshalFor(key.key, marshalling, 'key', where, request);
      if (marshalled instanceof InvalidRequestError) return marshalled;
      const compiled = expressionsOf(r, where, request);
      if (compiled instanceof InvalidRequestError) return compiled;
      const fields = expressionFields(compiled, marshalling, where, request);
      if (fields instanceof InvalidRequestError) return fields;
      const returnValues = r.returnValues !== undefined && r.returnValues !== 'NONE' ? { ReturnValues: r.returnValues } : {};
      return { ...key, input: { TableName: table, Key: marshalled, ...fields, ...returnValues }, units: 1 };
    },
  };
  return itemWriteEngine(client, table, spec, options) as OperatorFunction<UpdateItemRequest<K>, ItemWriteResult<UpdateItemRequest<K>, A>>;
}
