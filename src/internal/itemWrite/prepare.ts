/**
 * What an operator tells the single-item engine (`ItemWriteSpec`), and the checks and conversions it prepares a
 * request with: its shape, its key, its values marshalled and its expressions compiled. A request that must not be
 * sent gets an {@link InvalidRequestError} naming its table and key. Plain synchronous functions.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { InvalidRequestError } from '../../errors.js';
import { type CompiledExpressions, compileExpressions, type Condition, type UpdateSpec } from '../../expressions.js';
import { describeKeyValues, nativeKey } from '../engine/entry.js';
import { marshalJson, type MarshalSettings } from '../marshal.js';
import { WireMap } from './command.js';
import { preview } from '../prepare.js';

/** One request made ready to send: its key (for the per-key order and for messages), its command input, its cost. */
export interface PreparedWrite {
  /** The key attributes and their plain values. */
  key: Record<string, unknown>;
  /** Names of the key attributes, in the order messages show them. */
  attributes: string[];
  /** The key as DynamoDB compares it (`1` and `1.0` are one key): requests with the same one go one after another. */
  identity: string;
  /** The command's input, `TableName` included, values marshalled. */
  input: Record<string, unknown>;
  /** Capacity units it is estimated to cost. */
  units: number;
}

/** What one operator tells the engine. */
export interface ItemWriteSpec<R> {
  operation: 'UpdateItem' | 'PutItem' | 'DeleteItem';
  /** The table's key attributes, when a request does not say its key by itself (puts): given, or read with DescribeTable. */
  keyAttributes?: string[] | 'describe';
  /** Checks and prepares one request, or refuses it with the reason (naming table and key). */
  prepare(request: R, keyAttributes: string[] | undefined, marshalling: MarshalSettings): PreparedWrite | InvalidRequestError;
  /** The command to send for an input. */
  command(input: Record<string, unknown>, sender?: unknown): object;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a key value is not one DynamoDB takes, or `undefined`. Twin: `keyValueProblem` in `../transact/group.ts`. */
function keyValueProblem(v: unknown): [InvalidRequestError['code'], string] | undefined {
  if (v === undefined || v === null) return ['request.missingKey', 'is missing'];
  if (nativeKey({ v }, ['v']) === undefined) return ['request.invalidKey', 'must be a string, number or binary'];
  if ((typeof v === 'string' && v.length === 0) || (ArrayBuffer.isView(v) && v.byteLength === 0))
    return ['request.invalidKey', 'is empty; DynamoDB rejects empty key values'];
  return undefined;
}

/**
 * The key attributes of `values`: each present, a string, number or binary, and not empty; or the reason it is not,
 * naming the table and the key.
 */
export function checkKey(
  values: unknown,
  attributes: string[] | undefined,
  table: string,
  request: unknown,
  only = false,
): Pick<PreparedWrite, 'key' | 'attributes' | 'identity'> | InvalidRequestError {
  const names = attributes ?? (isObject(values) ? Object.keys(values) : []);
  const extra = only && attributes && isObject(values) ? Object.keys(values).find((a) => !attributes.includes(a)) : undefined;
  if (extra !== undefined)
    return new InvalidRequestError(
      'request.invalidKey',
      `The key ${describeKeyValues(values as Record<string, unknown>, Object.keys(values as object))} for table ${table} has attribute "${extra}", which is not one of its key attributes (${attributes!.join(', ')}); DynamoDB would refuse it. It was not sent.`,
      request,
    );
  if (!isObject(values) || names.length === 0)
    return new InvalidRequestError(
      'request.malformed',
      `The key for table ${table} must be an object of its key attributes, got ${preview(values)}. It was not sent.`,
      request,
    );
  const key: Record<string, unknown> = {};
  for (const a of names) {
    const problem = keyValueProblem(values[a]);
    if (problem)
      return new InvalidRequestError(
        problem[0],
        `Key attribute "${a}" ${problem[1]} in table ${table} (key ${describeKeyValues(values, names)}). It was not sent.`,
        request,
      );
    key[a] = values[a];
  }
  return { key, attributes: names, identity: nativeKey(key, [...names].sort())! };
}

/**
 * The request as an object of the fields its operator knows (`shape` shows them), or why it is not: a field that is
 * not one of them (a typo such as `conditon`) is refused, never ignored, since ignoring a condition writes anyway.
 */
export function checkShape(request: unknown, fields: readonly string[], shape: string): Record<string, unknown> | InvalidRequestError {
  const unknown = isObject(request) ? Object.keys(request).filter((f) => !fields.includes(f)) : [];
  if (isObject(request) && unknown.length === 0) return request;
  const why = unknown.length > 0 ? ` (unknown field ${JSON.stringify(unknown[0])})` : '';
  return new InvalidRequestError(
    'request.malformed',
    `A request must be ${shape}; got ${preview(request)}${why}. It was not sent.`,
    request,
  );
}

/**
 * A plain map marshalled to the DynamoDB JSON that goes on the wire (its AttributeValues built only if asked for),
 * or, when it cannot be marshalled, an {@link InvalidRequestError} naming what, the table and the key.
 */
export function marshalFor(
  value: Record<string, unknown>,
  marshalling: MarshalSettings,
  what: string,
  where: string,
  request: unknown,
): WireMap | InvalidRequestError {
  try {
    return new WireMap(marshalJson(value, marshalling));
  } catch (error) {
    return new InvalidRequestError(
      'request.marshallFailed',
      `Could not marshal the ${what} for ${where}: ${(error as Error).message}. It was not sent.`,
      request,
      error,
    );
  }
}

/** Compiles a request's update and condition, or refuses the request naming its table and key. */
export function compileFor(
  parts: { update?: UpdateSpec; condition?: Condition },
  where: string,
  request: unknown,
): CompiledExpressions | InvalidRequestError {
  try {
    return compileExpressions(parts);
  } catch (error) {
    return new InvalidRequestError(
      'request.malformed',
      `Invalid expression for ${where}: ${(error as Error).message}. It was not sent.`,
      request,
      error,
    );
  }
}

/** Compiled expressions as command input fields: empty maps left out (DynamoDB refuses them), values marshalled. */
export function expressionFields(
  compiled: CompiledExpressions,
  marshalling: MarshalSettings,
  where: string,
  request: unknown,
): Record<string, unknown> | InvalidRequestError {
  const fields: Record<string, unknown> = {};
  const { UpdateExpression, ConditionExpression, ExpressionAttributeNames: names, ExpressionAttributeValues: values } = compiled;
  if (UpdateExpression !== undefined) fields.UpdateExpression = UpdateExpression;
  if (ConditionExpression !== undefined) fields.ConditionExpression = ConditionExpression;
  if (names && Object.keys(names).length > 0) fields.ExpressionAttributeNames = names;
  if (values && Object.keys(values).length > 0) {
    const marshalled = marshalFor(values, marshalling, 'expression attribute values', where, request);
    if (marshalled instanceof InvalidRequestError) return marshalled;
    fields.ExpressionAttributeValues = marshalled;
  }
  return fields;
}

/** `spec.prepare`, with a throw turned into an {@link InvalidRequestError} naming the operation and the table. */
export function prepareRequest<R>(
  spec: ItemWriteSpec<R>,
  request: R,
  keyAttributes: string[] | undefined,
  marshalling: MarshalSettings,
  table: string,
): PreparedWrite | InvalidRequestError {
  try {
    return spec.prepare(request, keyAttributes, marshalling);
  } catch (error) {
    return new InvalidRequestError(
      'request.malformed',
      `${spec.operation} on table ${table}: ${(error as Error).message}. It was not sent.`,
      request,
      error,
    );
  }
}
