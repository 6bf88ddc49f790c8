import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { KeySchema } from './client.js';
import { MAX_ITEM_BYTES, WRITE_UNIT_BYTES } from './constants.js';
import { InvalidRequestError } from '../errors.js';
import { marshalledItemSize } from './itemSize.js';
import { marshallItem, type MarshalSettings } from './marshal.js';
import { describeKey, keyString } from './keys.js';
import type { WriteRequest } from '../types.js';
import { DELETE_REQUEST_WIRE_OVERHEAD, itemWireBytes, PUT_REQUEST_WIRE_OVERHEAD, tableWireBytes } from './wireSize.js';

/** A request taken from the source, checked and marshalled, ready to batch. */
export interface PreparedWrite {
  /** Input order. */
  readonly id: number;
  readonly request: WriteRequest;
  readonly table: string;
  /** Identity of the key within the table. */
  readonly key: string;
  /** The marshalled `{ PutRequest }` or `{ DeleteRequest }`. */
  readonly wire: { PutRequest: { Item: Record<string, AttributeValue> } } | { DeleteRequest: { Key: Record<string, AttributeValue> } };
  /** What it adds to a request body, counted generously (its table's name is counted once per request). */
  readonly bytes: number;
  /** Write capacity units it costs: one per started KB of a put item; one for a delete (its item's size is unknown). */
  readonly units: number;
  /** Earlier requests for the same key that this one replaced before they were sent, with their input order. */
  superseded: Array<{ id: number; request: WriteRequest }>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The table a request names, if it is well-formed enough to name one. */
export function requestTable(request: unknown): string | undefined {
  return isObject(request) && typeof request.table === 'string' && request.table.length > 0 ? request.table : undefined;
}

/** Checks a marshalled key (or item) has every key attribute, of a key type, not empty; names table and key if not. */
export function checkKey(
  av: Record<string, AttributeValue>,
  schema: KeySchema,
  request: unknown,
  table: string,
): InvalidRequestError | undefined {
  for (const a of schema.attributes) {
    const v = av[a];
    const where = () => `in table ${table} (key ${describeKey(av, schema.attributes)})`;
    if (v === undefined)
      return new InvalidRequestError('request.missingKey', `Key attribute "${a}" is missing ${where()}. It was not sent.`, request);
    const type = v.S !== undefined ? 'S' : v.N !== undefined ? 'N' : v.B !== undefined ? 'B' : undefined;
    if (type === undefined)
      return new InvalidRequestError(
        'request.invalidKey',
        `Key attribute "${a}" must be a string, number or binary ${where()}. It was not sent.`,
        request,
      );
    const expected = schema.types?.[a];
    if (expected && expected !== type)
      return new InvalidRequestError(
        'request.invalidKey',
        `Key attribute "${a}" is of type ${type} but the table's key is ${expected} ${where()}. It was not sent.`,
        request,
      );
    if ((v.S ?? v.B ?? 'x').length === 0)
      return new InvalidRequestError(
        'request.invalidKey',
        `Key attribute "${a}" is empty ${where()}; DynamoDB rejects empty key values. It was not sent.`,
        request,
      );
  }
  return undefined;
}

/**
 * Checks and marshals one request: shape, key attributes present and of a key type, marshalable, at most 400 KB by
 * DynamoDB's size rules. A delete sends the key attributes only (DynamoDB rejects extra attributes in a key), so a
 * whole item can be passed to delete it. Returns an {@link InvalidRequestError} naming the table and key when the
 * request must not be sent.
 */
export function prepareWrite(
  request: WriteRequest,
  schema: KeySchema,
  options: MarshalSettings,
  id: number,
): PreparedWrite | InvalidRequestError {
  const table = requestTable(request);
  const r = request as unknown as Record<string, unknown>;
  const isPut = isObject(r) && 'put' in r;
  const body = isPut ? r.put : isObject(r) ? r.delete : undefined;
  if (table === undefined || !isObject(body) || ('put' in r && 'delete' in r)) {
    return new InvalidRequestError(
      'request.malformed',
      `A write request must be { table, put: item } or { table, delete: key }; got ${preview(request)}.`,
      request,
    );
  }
  let av: Record<string, AttributeValue>;
  try {
    const source = isPut ? body : Object.fromEntries(schema.attributes.filter((a) => a in body).map((a) => [a, body[a]]));
    av = marshallItem(source, options);
  } catch (error) {
    return new InvalidRequestError(
      'request.marshallFailed',
      `Could not marshal the ${isPut ? 'item' : 'key'} ${preview(body)} for table ${table}: ${(error as Error).message}`,
      request,
      error,
    );
  }
  const invalidKey = checkKey(av, schema, request, table);
  if (invalidKey) return invalidKey;
  const key = keyString(table, av, schema.attributes);
  if (isPut) {
    const size = marshalledItemSize(av);
    if (size > MAX_ITEM_BYTES) {
      return new InvalidRequestError(
        'request.itemTooLarge',
        `Item ${describeKey(av, schema.attributes)} in table ${table} is ${size} bytes by DynamoDB's item-size rules; the limit is ${MAX_ITEM_BYTES}. It was not sent: shrink it or keep large attributes elsewhere (S3).`,
        request,
      );
    }
    const bytes = PUT_REQUEST_WIRE_OVERHEAD + itemWireBytes(av) + 1 + tableWireBytes(table);
    return {
      id,
      request,
      table,
      key,
      wire: { PutRequest: { Item: av } },
      bytes,
      units: Math.max(1, Math.ceil(size / WRITE_UNIT_BYTES)),
      superseded: [],
    };
  }
  const bytes = DELETE_REQUEST_WIRE_OVERHEAD + itemWireBytes(av) + 1 + tableWireBytes(table);
  return { id, request, table, key, wire: { DeleteRequest: { Key: av } }, bytes, units: 1, superseded: [] };
}

/** A value, shown short, for error messages. */
export function preview(value: unknown): string {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return String(value);
  }
}
