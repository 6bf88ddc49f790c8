/**
 * Turning one request (a put, a delete, or a key to read) into an engine entry: its shape and key checked, its wire
 * text written once, its size and cost known. A request that must not be sent gets an {@link InvalidRequestError}
 * naming its table and key.
 */
import { InvalidRequestError } from '../errors.js';
import type { GetRequest, WriteRequest } from '../types.js';
import { MAX_ITEM_BYTES, WRITE_UNIT_BYTES } from './constants.js';
import { describeKeyValues, type Entry, nativeKey } from './engine/entry.js';
import type { LaneSchema } from './engine/lane.js';
import { marshalledItemSize } from './itemSize.js';
import { attributeValuesOf, marshalJson, type MarshalSettings } from './marshal.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The table a request names, if it is well-formed enough to name one. */
/**
 * An item's size by DynamoDB's rules, from the DynamoDB JSON it goes on the wire as, for the 400 KB limit and the
 * write units: the text is never smaller than the item's size, so below 1 KB (one unit, far from the limit) its length
 * does, and only a larger item is parsed and measured exactly.
 */
export function itemSizeOfJson(text: string, wire = Buffer.byteLength(text)): number {
  return wire > WRITE_UNIT_BYTES ? marshalledItemSize(attributeValuesOf(text)) : wire;
}

export function requestTable(request: unknown): string | undefined {
  return isObject(request) && typeof request.table === 'string' && request.table.length > 0 ? request.table : undefined;
}

/** A value, shown short, for error messages. */
export function preview(value: unknown): string {
  try {
    const s = JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}` : v));
    return s === undefined ? String(value) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return String(value);
  }
}

const keyKind = (v: unknown): 'S' | 'N' | 'B' | undefined =>
  typeof v === 'string'
    ? 'S'
    : typeof v === 'number' || typeof v === 'bigint' || (typeof v === 'object' && v !== null && v.constructor?.name === 'NumberValue')
      ? 'N'
      : ArrayBuffer.isView(v) || v instanceof ArrayBuffer
        ? 'B'
        : undefined;

/** Why a key attribute is not a key value (missing, not a key type, of the wrong type, empty), or `undefined`. */
function keyProblem(a: string, v: unknown, schema: LaneSchema): [InvalidRequestError['code'], string] | undefined {
  if (v === undefined || v === null) return ['request.missingKey', `Key attribute "${a}" is missing`];
  const kind = keyKind(v);
  if (kind === undefined) return ['request.invalidKey', `Key attribute "${a}" must be a string, number or binary`];
  const expected = schema.types?.[a];
  if (expected && expected !== kind)
    return ['request.invalidKey', `Key attribute "${a}" is of type ${kind} but the table's key is ${expected}`];
  if ((typeof v === 'string' && v.length === 0) || (kind === 'B' && (v as ArrayBufferLike).byteLength === 0))
    return ['request.invalidKey', `Key attribute "${a}" is empty`];
  return undefined;
}

/** The identity of the key in `values`, or an error naming the first key attribute that is not a key value. */
function keyOf(values: Record<string, unknown>, schema: LaneSchema, request: unknown, table: string): string | InvalidRequestError {
  for (const a of schema.attributes) {
    const problem = keyProblem(a, values[a], schema);
    if (!problem) continue;
    const [code, text] = problem;
    const empty = text.endsWith('is empty') ? '; DynamoDB rejects empty key values' : '';
    return new InvalidRequestError(
      code,
      `${text} in table ${table} (key ${describeKeyValues(values, schema.attributes)})${empty}. It was not sent.`,
      request,
    );
  }
  return nativeKey(values, schema.attributes)!;
}

/** The key attributes only. */
function pick(values: Record<string, unknown>, attributes: string[]): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  for (const a of attributes) key[a] = values[a];
  return key;
}

/** `marshalJson`, with a failure turned into an {@link InvalidRequestError} naming the item's table and key. */
function json(
  value: Record<string, unknown>,
  options: MarshalSettings,
  what: string,
  table: string,
  request: unknown,
  keyFrom: Record<string, unknown>,
  attributes: string[],
): string | InvalidRequestError {
  try {
    return marshalJson(value, options);
  } catch (error) {
    return new InvalidRequestError(
      'request.marshallFailed',
      `Could not marshal the ${what} ${describeKeyValues(keyFrom, attributes)} for table ${table}: ${(error as Error).message}. It was not sent.`,
      request,
      error,
    );
  }
}

const entry = <R>(
  id: number,
  request: R,
  table: string,
  key: string,
  values: Record<string, unknown>,
  text: string,
  units: number,
  bytes = Buffer.byteLength(text) + 1,
): Entry<R> => ({ id, request, table, key, values, json: text, bytes, units, attempts: 0, readyAt: 0, state: 'queued', merged: undefined });

const PUT = '{"PutRequest":{"Item":';
const DELETE = '{"DeleteRequest":{"Key":';

/**
 * Checks and prepares one write: shape, key attributes present and of a key type, marshalable, at most 400 KB by
 * DynamoDB's size rules. A delete sends the key attributes only (DynamoDB rejects extra attributes in a key), so a
 * whole item can be passed to delete it.
 */
export function prepareWrite(
  id: number,
  request: WriteRequest,
  schema: LaneSchema,
  options: MarshalSettings,
): Entry<WriteRequest> | InvalidRequestError {
  const table = requestTable(request);
  const r = request as unknown as Record<string, unknown>;
  const isPut = isObject(r) && 'put' in r;
  const body = isPut ? r.put : isObject(r) ? r.delete : undefined;
  if (table === undefined || !isObject(body) || ('put' in r && 'delete' in r))
    return new InvalidRequestError(
      'request.malformed',
      `A write request must be { table, put: item } or { table, delete: key }; got ${preview(request)}.`,
      request,
    );
  const key = keyOf(body, schema, request, table);
  if (key instanceof InvalidRequestError) return key;
  if (!isPut) {
    const text = json(pick(body, schema.attributes), options, 'key', table, request, body, schema.attributes);
    return text instanceof InvalidRequestError ? text : entry(id, request, table, key, body, `${DELETE}${text}}}`, 1);
  }
  const text = json(body, options, 'item', table, request, body, schema.attributes);
  if (text instanceof InvalidRequestError) return text;
  const wire = Buffer.byteLength(text);
  const size = itemSizeOfJson(text, wire);
  if (size > MAX_ITEM_BYTES)
    return new InvalidRequestError(
      'request.itemTooLarge',
      `Item ${describeKeyValues(body, schema.attributes)} in table ${table} is ${size} bytes by DynamoDB's item-size rules; the limit is ${MAX_ITEM_BYTES}. It was not sent: shrink it or keep large attributes elsewhere (S3).`,
      request,
    );
  const units = Math.max(1, Math.ceil(size / WRITE_UNIT_BYTES));
  return entry(id, request, table, key, body, `${PUT}${text}}}`, units, wire + PUT.length + 3);
}

/** Checks and prepares one key to read: its key attributes present and of a key type; other attributes are dropped. */
export function prepareGet(
  id: number,
  request: GetRequest,
  schema: LaneSchema,
  options: MarshalSettings,
  units: number,
): Entry<GetRequest> | InvalidRequestError {
  const table = requestTable(request);
  const values = (request as { key?: unknown } | null)?.key;
  if (table === undefined || !isObject(values))
    return new InvalidRequestError('request.malformed', `A get request must be { table, key }; got ${preview(request)}.`, request);
  const key = keyOf(values, schema, request, table);
  if (key instanceof InvalidRequestError) return key;
  const text = json(pick(values, schema.attributes), options, 'key', table, request, values, schema.attributes);
  return text instanceof InvalidRequestError ? text : entry(id, request, table, key, values, text, units);
}
