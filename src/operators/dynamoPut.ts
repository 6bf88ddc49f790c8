import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { itemCommand } from '../internal/itemWrite/command.js';
import type { OperatorFunction } from 'rxjs';
import { InvalidRequestError } from '../errors.js';
import type { Condition } from '../expressions.js';
import { MAX_ITEM_BYTES, WRITE_UNIT_BYTES } from '../internal/constants.js';
import { itemSizeOfJson } from '../internal/prepare.js';
import { preview } from '../internal/prepare.js';
import type { DynamoDBSender, Item } from '../types.js';
import {
  checkKey,
  checkShape,
  compileFor,
  expressionFields,
  isObject,
  type ItemWriteSpec,
  marshalFor,
} from '../internal/itemWrite/prepare.js';
import { whereOf } from '../internal/itemWrite/messages.js';
import { type ItemWriteOptions, type ItemWriteResult, itemWriteEngine, validateItemWriteOptions } from './itemWriteInternals.js';

/** One item to put, with an optional condition. `T` names the item's type: not checked at run time. */
export interface PutItemRequest<T extends object = Item> {
  item: T;
  /**
   * Put only if this holds for the item stored now: `{ attributeNotExists: 'pk' }` (only if absent),
   * `{ or: [{ attributeNotExists: 'pk' }, { version: { lt: 7 } }] }` (only if not newer), or a raw
   * `{ expression, names, values }`. When it does not hold, the result's status is `'conditionFailed'`.
   */
  condition?: Condition;
  /** `'ALL_OLD'`: the result's `attributes` are the item this put replaced (none when there was none). @default 'NONE' */
  returnValues?: 'NONE' | 'ALL_OLD';
}

/** Options of {@link dynamoPut}: those of every single-item write; `keyAttributes` spares the DescribeTable call. */
export type PutOptions = ItemWriteOptions;

const RETURN_VALUES = new Set([undefined, 'NONE', 'ALL_OLD']);

/**
 * Puts each item of the stream with its own PutItem call, optionally only when a condition holds, and emits one
 * result per request as it is settled: `'written'`, `'conditionFailed'` (an outcome, never an error), or `'failed'`
 * with an error naming the table and key. `concurrency` calls in flight; the puts of one key go one after another,
 * in input order; throttling and transient errors are retried with exponential backoff and jitter, up to
 * `maxAttempts` calls per request. Unsubscribing aborts the calls in flight.
 *
 * ```
 * requests: --a--b--c--|             c's condition is false
 * > dynamoPut(client, 'Tickets')
 * results:  ---A--B--C-|             A = { request: a, status: 'written', attempts: 1 }, C = { …, status: 'conditionFailed' }
 * ```
 *
 * ## Example
 * ```ts
 * import { from, map } from 'rxjs';
 * import { dynamoPut } from 'rxjs-dynamodb';
 * // only if not newer: absent, or an older version stored
 * from(tickets)
 *   .pipe(
 *     map((item) => ({ item, condition: { or: [{ attributeNotExists: 'pk' }, { version: { lt: item.version } }] } })),
 *     dynamoPut(client, 'Tickets', { concurrency: 8, returnCurrentOnConditionFailure: true }),
 *   )
 *   .subscribe((r) => {
 *     if (r.status === 'conditionFailed') console.log('kept the newer', r.current);
 *     if (r.status === 'failed') console.error(r.error?.message);
 *   });
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param table The table name.
 * @param options See {@link PutOptions}; all optional.
 * @returns An operator from {@link PutItemRequest}s to one {@link ItemWriteResult} per request, in completion order.
 * @see dynamoBatchWrite for unconditional puts in batches of 25, at a fraction of the calls.
 */
export function dynamoPut<T extends object = Item>(
  client: DynamoDBSender,
  table: string,
  options: PutOptions = {},
): OperatorFunction<PutItemRequest<T>, ItemWriteResult<PutItemRequest<T>, T>> {
  validateItemWriteOptions(table, options);
  const spec: ItemWriteSpec<PutItemRequest<T>> = {
    operation: 'PutItem',
    keyAttributes: options.keyAttributes ?? 'describe',
    command: (input, sender) => itemCommand(PutItemCommand, input, sender),
    prepare: (request, attributes, marshalling) => {
      const r = checkShape(request, ['item', 'condition', 'returnValues'], '{ item, condition?, returnValues? }');
      if (r instanceof InvalidRequestError) return r;
      if (!isObject(r.item))
        return new InvalidRequestError(
          'request.malformed',
          `The item of a put must be an object, got ${preview(r.item)}. It was not sent.`,
          request,
        );
      if (!RETURN_VALUES.has(r.returnValues as string | undefined))
        return new InvalidRequestError(
          'request.malformed',
          `returnValues of a put must be 'NONE' or 'ALL_OLD', got ${preview(r.returnValues)}.`,
          request,
        );
      const key = checkKey(r.item, attributes, table, request);
      if (key instanceof InvalidRequestError) return key;
      const where = whereOf(table, key);
      const item = marshalFor(r.item, marshalling, 'item', where, request);
      if (item instanceof InvalidRequestError) return item;
      const size = itemSizeOfJson(item.text);
      if (size > MAX_ITEM_BYTES)
        return new InvalidRequestError(
          'request.itemTooLarge',
          `Item ${where} is ${size} bytes by DynamoDB's item-size rules; the limit is ${MAX_ITEM_BYTES}. It was not sent: shrink it or keep large attributes elsewhere (S3).`,
          request,
        );
      const compiled = compileFor({ condition: r.condition as Condition | undefined }, where, request);
      if (compiled instanceof InvalidRequestError) return compiled;
      const fields = expressionFields(compiled, marshalling, where, request);
      if (fields instanceof InvalidRequestError) return fields;
      const returnValues = r.returnValues === 'ALL_OLD' ? { ReturnValues: 'ALL_OLD' } : {};
      return {
        ...key,
        input: { TableName: table, Item: item, ...fields, ...returnValues },
        units: Math.max(1, Math.ceil(size / WRITE_UNIT_BYTES)),
      };
    },
  };
  return itemWriteEngine(client, table, spec, options) as OperatorFunction<PutItemRequest<T>, ItemWriteResult<PutItemRequest<T>, T>>;
}
