import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshallItem, type MarshalSettings } from './marshal.js';
import type { KeySchema } from './client.js';
import { InvalidRequestError } from '../errors.js';
import { keyString } from './keys.js';
import type { GetRequest } from '../types.js';
import { checkKey, preview, requestTable } from './writeRequest.js';

/** A key taken from the source, checked and marshalled, ready to batch. */
export interface PreparedGet {
  readonly id: number;
  readonly request: GetRequest;
  readonly table: string;
  /** Identity of the key within the table. */
  readonly key: string;
  /** The key attributes only, marshalled. */
  readonly wire: Record<string, AttributeValue>;
  /** Later requests for the same key in the same batch: they get the same item, and are never sent twice. */
  duplicates: Array<{ id: number; request: GetRequest }>;
}

/**
 * Checks and marshals one key: its table, its key attributes present and of a key type. Other attributes are dropped
 * (DynamoDB rejects them in a key), so a whole item may be passed.
 */
export function prepareGet(
  request: GetRequest,
  schema: KeySchema,
  options: MarshalSettings,
  id: number,
): PreparedGet | InvalidRequestError {
  const table = requestTable(request);
  const key = (request as { key?: unknown } | null)?.key;
  if (table === undefined || typeof key !== 'object' || key === null || Array.isArray(key)) {
    return new InvalidRequestError('request.malformed', `A get request must be { table, key }; got ${preview(request)}.`, request);
  }
  let wire: Record<string, AttributeValue>;
  try {
    const k = key as Record<string, unknown>;
    wire = marshallItem(Object.fromEntries(schema.attributes.filter((a) => a in k).map((a) => [a, k[a]])), options);
  } catch (error) {
    return new InvalidRequestError(
      'request.marshallFailed',
      `Could not marshal the key ${preview(key)} for table ${table}: ${(error as Error).message}`,
      request,
      error,
    );
  }
  const invalid = checkKey(wire, schema, request, table);
  if (invalid) return invalid;
  return { id, request, table, key: keyString(table, wire, schema.attributes), wire, duplicates: [] };
}

/** `ProjectionExpression` and `ExpressionAttributeNames` for attribute names, key attributes included (so that items can be matched to keys). */
export function projectionOf(
  attributes: string[],
  projection: string[],
): { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> } {
  const names = [...new Set([...attributes, ...projection])];
  return {
    ProjectionExpression: names.map((_, i) => `#p${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#p${i}`, name])),
  };
}
