import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { itemCommand } from '../internal/itemWrite/command.js';
import type { OperatorFunction } from 'rxjs';
import { InvalidRequestError } from '../errors.js';
import type { Condition } from '../expressions.js';
import { preview } from '../internal/prepare.js';
import type { DynamoDBSender, Item, Key } from '../types.js';
import { checkKey, checkShape, compileFor, expressionFields, type ItemWriteSpec, marshalFor } from '../internal/itemWrite/prepare.js';
import { whereOf } from '../internal/itemWrite/messages.js';
import { type ItemWriteOptions, type ItemWriteResult, itemWriteEngine, validateItemWriteOptions } from './itemWriteInternals.js';

/** One key to delete, with an optional condition. `K` names the key's shape: not checked at run time. */
export interface DeleteItemRequest<K extends object = Key> {
  /** The key attributes only (DynamoDB refuses others in a key). */
  key: K;
  /** Delete only if this holds for the item stored now (`{ status: 'closed' }`, `{ version: { le: 3 } }`, raw `{ expression, … }`). */
  condition?: Condition;
  /** `'ALL_OLD'`: the result's `attributes` are the item deleted (none when there was none). @default 'NONE' */
  returnValues?: 'NONE' | 'ALL_OLD';
}

const RETURN_VALUES = new Set([undefined, 'NONE', 'ALL_OLD']);

/**
 * Deletes each key of the stream with its own DeleteItem call, optionally only when a condition holds, and emits one
 * result per request as it is settled: `'written'` (deleted, or there was nothing to delete), `'conditionFailed'`
 * (an outcome, never an error), or `'failed'` with an error naming the table and key. Concurrency, order per key,
 * retries and cancellation as {@link dynamoPut}.
 *
 * ```
 * keys:     --a--b--|                b's condition is false
 * > dynamoDelete(client, 'Tickets')
 * results:  ---A--B-|                A = { request: a, status: 'written', attempts: 1 }, B = { …, status: 'conditionFailed' }
 * ```
 *
 * ## Example
 * ```ts
 * import { from, map } from 'rxjs';
 * import { dynamoDelete } from 'rxjs-dynamodb';
 * from(closedTickets)
 *   .pipe(
 *     map((t) => ({ key: { pk: t.pk }, condition: { status: 'closed' } })),
 *     dynamoDelete(client, 'Tickets', { returnCurrentOnConditionFailure: true }),
 *   )
 *   .subscribe((r) => r.status === 'conditionFailed' && console.log('reopened meanwhile:', r.current));
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or anything with their `send`.
 * @param table The table name.
 * @param options See {@link ItemWriteOptions}; all optional.
 * @returns An operator from {@link DeleteItemRequest}s to one {@link ItemWriteResult} per request, in completion order.
 * @see dynamoBatchDelete for unconditional deletes in batches of 25.
 */
export function dynamoDelete<K extends object = Key, T extends object = Item>(
  client: DynamoDBSender,
  table: string,
  options: ItemWriteOptions = {},
): OperatorFunction<DeleteItemRequest<K>, ItemWriteResult<DeleteItemRequest<K>, T>> {
  validateItemWriteOptions(table, options);
  const spec: ItemWriteSpec<DeleteItemRequest<K>> = {
    operation: 'DeleteItem',
    command: (input, sender) => itemCommand(DeleteItemCommand, input, sender),
    keyAttributes: options.keyAttributes,
    prepare: (request, keyAttributes, marshalling) => {
      const r = checkShape(request, ['key', 'condition', 'returnValues'], '{ key, condition?, returnValues? }');
      if (r instanceof InvalidRequestError) return r;
      if (!RETURN_VALUES.has(r.returnValues as string | undefined))
        return new InvalidRequestError(
          'request.malformed',
          `returnValues of a delete must be 'NONE' or 'ALL_OLD', got ${preview(r.returnValues)}.`,
          request,
        );
      const key = checkKey(r.key, keyAttributes, table, request, true);
      if (key instanceof InvalidRequestError) return key;
      const where = whereOf(table, key);
      const marshalled = marshalFor(key.key, marshalling, 'key', where, request);
      if (marshalled instanceof InvalidRequestError) return marshalled;
      const compiled = compileFor({ condition: r.condition as Condition | undefined }, where, request);
      if (compiled instanceof InvalidRequestError) return compiled;
      const fields = expressionFields(compiled, marshalling, where, request);
      if (fields instanceof InvalidRequestError) return fields;
      const returnValues = r.returnValues === 'ALL_OLD' ? { ReturnValues: 'ALL_OLD' } : {};
      return { ...key, input: { TableName: table, Key: marshalled, ...fields, ...returnValues }, units: 1 };
    },
  };
  return itemWriteEngine(client, table, spec, options) as OperatorFunction<DeleteItemRequest<K>, ItemWriteResult<DeleteItemRequest<K>, T>>;
}
