import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall, type unmarshallOptions } from '@aws-sdk/util-dynamodb';
import type { Item } from '../types.js';
import { exactNumber } from './numbers.js';

/** Turns a DynamoDB item into plain JavaScript. */
export type Unmarshal = (item: Record<string, AttributeValue>) => Item;

function toNative(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return exactNumber(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return toObject(value.M);
  if (value.L !== undefined) return value.L.map(toNative);
  if (value.B !== undefined) return value.B;
  if (value.SS !== undefined) return new Set(value.SS);
  if (value.NS !== undefined) return new Set(value.NS.map(exactNumber));
  if (value.BS !== undefined) return new Set(value.BS);
  throw new Error(`an attribute value of no type DynamoDB has: ${JSON.stringify(Object.keys(value))}`);
}

function toObject(map: Record<string, AttributeValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(map)) {
    const attr = map[key];
    // the SDK's deserializer (3.11xx) keeps a top-level `__proto__` name but drops its value: say so, lose nothing silently
    if (attr === undefined)
      throw new Error(`attribute ${key} came back from the AWS SDK without a value, so the item cannot be read exactly`);
    const v = toNative(attr);
    // an attribute named __proto__ is an ordinary attribute, not the object's prototype
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/** Bytes from the base64 of DynamoDB JSON, as a plain Uint8Array (as the SDK gives binary). */
function bytes(base64: string): Uint8Array {
  const b = Buffer.from(base64, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** One value of DynamoDB JSON (binary as base64 text, as on the wire) as plain JavaScript, like {@link toNative}. */
function jsonToNative(value: Record<string, unknown>): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return exactNumber(value.N as string);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return jsonToObject(value.M as Record<string, Record<string, unknown>>);
  if (value.L !== undefined) return (value.L as Array<Record<string, unknown>>).map(jsonToNative);
  if (value.B !== undefined) return bytes(value.B as string);
  if (value.SS !== undefined) return new Set(value.SS as string[]);
  if (value.NS !== undefined) return new Set((value.NS as string[]).map(exactNumber));
  if (value.BS !== undefined) return new Set((value.BS as string[]).map(bytes));
  throw new Error(`an attribute value of no type DynamoDB has: ${JSON.stringify(Object.keys(value))}`);
}

function jsonToObject(map: Record<string, Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(map)) {
    const v = jsonToNative(map[key]!);
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/** An item of DynamoDB JSON as it came off the wire (`JSON.parse` of a response), as {@link exactUnmarshall} gives it. */
export const exactUnmarshallJson = (item: Record<string, Record<string, unknown>>): Item => jsonToObject(item) as Item;

/**
 * DynamoDB's values as plain JavaScript, with nothing lost: strings, booleans, null, Uint8Array, arrays, objects and
 * Sets as the SDK gives them, and each number as a `number` when that is exact, a `bigint` for a larger integer, and
 * otherwise a `NumberValue` that keeps its digits. Every one marshals back to the same DynamoDB value.
 */
export const exactUnmarshall: Unmarshal = (item) => toObject(item) as Item;

/**
 * The unmarshaller an operator or source uses: the user's `unmarshallOptions` through the SDK when given (their
 * choice, e.g. the SDK's plain numbers), else {@link exactUnmarshall}.
 */
export function unmarshallerFor(options: unmarshallOptions | undefined): Unmarshal {
  if (options === undefined) return exactUnmarshall;
  return (item) => unmarshall(item, options) as Item;
}
